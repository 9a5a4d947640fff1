// The chat page at GET / in a real browser (Debian's chromium, driven by puppeteer-core) against a running
// `jllm serve` (started by run.sh): JLLM_URL (http://127.0.0.1:PORT/v1), JLLM_KEY, JLLM_BASE (the base model's id);
// CHROMIUM overrides the browser's path (default /usr/bin/chromium).
// It types the key, picks the model, sends a message at temperature 0 and reads the answer from the DOM as it
// streams; the answer must be non-empty and equal to the same request made whole (not streamed).
import puppeteer from "puppeteer-core";
import assert from "node:assert/strict";

const api = process.env.JLLM_URL, key = process.env.JLLM_KEY, base = process.env.JLLM_BASE;
const root = api.replace(/\/v1\/?$/, "/");
const say = (...a) => console.log(...a);
const message = "Tell me about a dog.", maxTokens = 30;

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
try {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  const chats = [];
  page.on("response", (r) => {
    if (r.url().endsWith("/v1/chat/completions")) chats.push({ body: JSON.parse(r.request().postData()), type: r.headers()["content-type"] });
  });
  const res = await page.goto(root, { waitUntil: "load" });
  assert.equal(res.status(), 200);
  assert.match(res.headers()["content-type"], /^text\/html/);
  say("page:", await page.title());

  // without the key the model list is refused, and the page says why
  await page.waitForFunction(() => document.getElementById("status").textContent.includes("API key"));
  say("no key:", await page.$eval("#status", (e) => e.textContent));

  await page.type("#key", key);
  await page.$eval("#key", (e) => e.dispatchEvent(new Event("change")));
  await page.waitForFunction((b) => [...document.querySelectorAll("#model option")].some((o) => o.value === b), {}, base);
  const models = await page.$$eval("#model option", (os) => os.map((o) => o.value));
  say("models:", models.join(", "));
  await page.select("#model", base);
  await page.$eval("#temperature", (e) => { e.value = "0"; });
  await page.$eval("#max-tokens", (e, n) => { e.value = String(n); }, maxTokens);

  // count the answer's distinct texts as they appear in the DOM
  await page.evaluate(() => {
    window.seen = [];
    new MutationObserver(() => {
      const a = document.querySelector(".msg.assistant");
      if (a && a.textContent && a.textContent !== window.seen.at(-1)) window.seen.push(a.textContent);
    }).observe(document.getElementById("log"), { subtree: true, childList: true, characterData: true });
  });
  await page.type("#input", message);
  await page.click("#send");
  await page.waitForSelector(".msg.assistant[data-state=done], .msg.error", { timeout: 60_000 });
  const answer = await page.$eval(".msg.assistant, .msg.error", (e) => e.textContent);
  const state = await page.$eval(".msg.assistant, .msg.error", (e) => e.dataset.state);
  const seen = await page.evaluate(() => window.seen.length);
  const meta = await page.$eval(".meta", (e) => e.textContent);
  say(`streamed answer (${seen} DOM updates; ${meta}):`, JSON.stringify(answer));
  assert.equal(state, "done", answer);
  assert.ok(answer.length > 0, "the answer is not empty");
  assert.equal(chats.length, 1);
  assert.equal(chats[0].body.stream, true, "the page asked for a stream");
  assert.match(chats[0].type, /^text\/event-stream/, "and got server-sent events");

  const whole = await fetch(api + "/chat/completions", {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: "Bearer " + key },
    body: JSON.stringify({ model: base, messages: [{ role: "user", content: message }], temperature: 0, max_tokens: maxTokens }),
  }).then((r) => r.json());
  const expected = whole.choices[0].message.content;
  say("whole answer:", JSON.stringify(expected));
  assert.equal(answer, expected, "greedy: the page's streamed answer is the whole answer");
  assert.deepEqual(pageErrors, [], "no script errors on the page");
  say("chat page check: all passed");
} finally {
  await browser.close();
}
