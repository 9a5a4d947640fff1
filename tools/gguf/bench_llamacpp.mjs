// llama.cpp's inference speed on one GGUF file (node-llama-cpp 3.21.1's prebuilt CPU build), measured
// the way `jllm bench generate` measures jllm's, for its side-by-side column:
//
//   node tools/gguf/bench_llamacpp.mjs FILE PROMPT_LEN CONTEXTS TOKENS THREADS REPEATS WARMUP
//
// prefill: the time from handing llama.cpp PROMPT_LEN tokens to its first generated token (so the
// prefill rate includes one decode step); decode at each context c in CONTEXTS (comma-separated):
// c tokens evaluated untimed, then TOKENS greedy steps timed. Medians of REPEATS runs after WARMUP.
// Prints one JSON line: {"prefill_tps", "ttft_ms", "contexts": [...], "decode_ms": [...]}.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import {ids} from "./prompt_ids.mjs";

const [file, promptLenS, contextsS, tokensS, threadsS, repeatsS, warmupS] = process.argv.slice(2);
const promptLen = Number(promptLenS), tokens = Number(tokensS), threads = Number(threadsS);
const repeats = Number(repeatsS), warmup = Number(warmupS);
const contexts = contextsS.split(",").map(Number);

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads});
const model = await llama.loadModel({modelPath: file});
const train = model.trainContextSize;
const size = Math.min(train, Math.max(promptLen, ...contexts) + tokens + 1);
const context = await model.createContext({contextSize: size, threads, batchSize: 512});


const median = a => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

// ms to the first generated token, and ms per token of the next `steps` tokens
async function run(prompt, steps) {
    const seq = context.getSequence();
    const t0 = performance.now();
    let t1 = 0, n = 0;
    for await (const t of seq.evaluate(prompt, {temperature: 0})) {
        if (n === 0) t1 = performance.now();
        if (n++ >= steps) break;
    }
    const t2 = performance.now();
    seq.dispose();
    // the model may end a sequence (its eos) before `steps`: divide by the steps it took
    return [t1 - t0, n > 1 ? (t2 - t1) / (n - 1) : 0];
}

const p = Math.min(promptLen, size - 1);
const ttft = [], decode = contexts.map(() => []);
const ctx = contexts.map(c => Math.max(1, Math.min(c, size - tokens - 1)));
for (let r = 0; r < warmup + repeats; r++) {
    const [first] = await run(ids(p, r), 0);
    if (r >= warmup) ttft.push(first);
    for (let i = 0; i < ctx.length; i++) {
        const [, per] = await run(ids(ctx[i], 1000 + r), tokens);
        if (r >= warmup) decode[i].push(per);
    }
}
const t = median(ttft);
console.log(JSON.stringify({prefill_tps: p / (t / 1000), ttft_ms: t, prompt_len: p, contexts: ctx, decode_ms: decode.map(median)}));
await context.dispose();
await model.dispose();
