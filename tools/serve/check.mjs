// The official openai npm client against a running `jllm serve` (started by run.sh):
// JLLM_URL (http://127.0.0.1:PORT/v1), JLLM_KEY, and the model ids JLLM_BASE, JLLM_ADAPTERS (comma-separated).
import OpenAI from "openai";
import assert from "node:assert/strict";

const baseURL = process.env.JLLM_URL, apiKey = process.env.JLLM_KEY, base = process.env.JLLM_BASE;
const adapters = process.env.JLLM_ADAPTERS.split(",");
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const say = (...a) => console.log(...a);

const models = (await client.models.list()).data.map((m) => m.id);
say("models:", models.join(", "));
assert.deepEqual(models, [base, ...adapters]);

const messages = [{ role: "user", content: "Tell me about a cat." }];
const chat = await client.chat.completions.create({ model: base, messages, max_tokens: 30, temperature: 0.8, seed: 7 });
say("chat:", JSON.stringify(chat.choices[0].message.content), "finish:", chat.choices[0].finish_reason, "usage:", JSON.stringify(chat.usage));
assert.equal(chat.object, "chat.completion");
assert.equal(chat.usage.completion_tokens + chat.usage.prompt_tokens, chat.usage.total_tokens);

const stream = await client.chat.completions.create({ model: base, messages, max_tokens: 30, temperature: 0.8, seed: 7, stream: true,
  stream_options: { include_usage: true } });
let streamed = "", chunks = 0, finish = null, usage = null;
for await (const c of stream) {
  chunks++;
  if (c.usage) usage = c.usage;
  if (c.choices.length) {
    streamed += c.choices[0].delta.content ?? "";
    finish = c.choices[0].finish_reason ?? finish;
  }
}
say(`stream: ${chunks} chunks, ${JSON.stringify(streamed)}, finish: ${finish}, usage: ${JSON.stringify(usage)}`);
assert.equal(streamed, chat.choices[0].message.content, "same seed: the stream says what the whole answer said");

const greedy = await client.completions.create({ model: base, prompt: "Once upon a time", max_tokens: 30, temperature: 0 });
const text = greedy.choices[0].text, stop = text.slice(6, 9);
const stopped = await client.completions.create({ model: base, prompt: "Once upon a time", max_tokens: 30, temperature: 0, stop: [stop] });
say(`stop ${JSON.stringify(stop)}:`, JSON.stringify(stopped.choices[0].text), "finish:", stopped.choices[0].finish_reason);
assert.equal(stopped.choices[0].text, text.slice(0, text.indexOf(stop)));
assert.equal(stopped.choices[0].finish_reason, "stop");

const outs = await Promise.all([base, ...adapters].map((model) =>
  client.completions.create({ model, prompt: "Once upon a time", max_tokens: 20, temperature: 0 })));
outs.forEach((o, i) => say(`model ${[base, ...adapters][i]}:`, JSON.stringify(o.choices[0].text)));
assert.equal(outs[0].choices[0].text, text.slice(0, outs[0].choices[0].text.length), "batched with adapters, the base text is unchanged");
assert.notEqual(outs[1].choices[0].text, outs[0].choices[0].text, "an adapter changes the text");

const wrong = new OpenAI({ baseURL, apiKey: "sk-wrong", maxRetries: 0 });
await assert.rejects(wrong.models.list(), (e) => { say("wrong key:", e.status, e.error?.code, e.message); return e instanceof OpenAI.AuthenticationError; });
await assert.rejects(client.completions.create({ model: base, prompt: "Tom ran. ".repeat(100), max_tokens: 10 }),
  (e) => { say("oversized prompt:", e.status, e.error?.param, e.message); return e instanceof OpenAI.BadRequestError; });
await assert.rejects(client.completions.create({ model: "gpt-4", prompt: "hi" }),
  (e) => { say("unknown model:", e.status, e.message); return e instanceof OpenAI.NotFoundError; });
await assert.rejects(client.chat.completions.create({ model: base, messages, max_tokens: 5, logprobs: true, top_logprobs: 2 }),
  (e) => { say("unsupported parameter:", e.status, e.param, e.code, e.message); return e instanceof OpenAI.BadRequestError && e.param === "logprobs" && e.code === "unsupported_parameter"; });
say("openai client check: all passed");
