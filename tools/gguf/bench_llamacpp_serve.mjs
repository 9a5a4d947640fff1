// llama.cpp's side of `jllm bench serve --llama-cpp`: concurrent generation on one GGUF file with
// node-llama-cpp 3.21.1's prebuilt CPU build, measured the way `jllm bench serve` measures jllm serve:
//
//   node tools/gguf/bench_llamacpp_serve.mjs FILE CLIENTS REQUESTS PROMPT_LEN MAX_TOKENS THREADS
//
// For each client count c in CLIENTS (comma-separated), one context with c sequences (llama.cpp's
// parallel slots; node-llama-cpp batches the sequences' evaluations into one llama_decode per step,
// as llama.cpp's server does) and c closed-loop clients, each sending its next request as soon as
// its last one ended: a prompt of PROMPT_LEN ordinary token ids, then MAX_TOKENS tokens sampled at
// temperature 1 with a seed per request, until REQUESTS requests have ended (after c warm-up
// requests). No HTTP: this is the engine alone, so the comparison favours llama.cpp.
// Prints one JSON line per client count: {"clients", "requests", "seconds", "tokens",
// "ttft_ms": [p50, p99], "itl_ms": [p50, p99]}.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";
import {ids} from "./prompt_ids.mjs";

const [file, clientsS, requestsS, promptLenS, maxTokensS, threadsS] = process.argv.slice(2);
const clients = clientsS.split(",").map(Number);
const requests = Number(requestsS), promptLen = Number(promptLenS), maxTokens = Number(maxTokensS), threads = Number(threadsS);

const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: threads});
const model = await llama.loadModel({modelPath: file});


const pct = (a, p) => a.length === 0 ? 0 : [...a].sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor(a.length * p))];

async function run(c, total, seed0) {
    const context = await model.createContext({contextSize: c * (promptLen + maxTokens + 8), sequences: c, threads, batchSize: 512});
    const ttft = [], itl = [];
    let next = 0, tokens = 0;
    const t0 = performance.now();
    async function client() {
        const seq = context.getSequence();
        while (next < total) {
            const r = next++;
            await seq.clearHistory();
            const start = performance.now();
            let last = start, n = 0;
            for await (const _ of seq.evaluate(ids(promptLen, seed0 + r), {temperature: 1, seed: seed0 + r})) {
                const now = performance.now();
                if (n === 0) ttft.push(now - start);
                else itl.push(now - last);
                last = now;
                if (++n >= maxTokens) break;
            }
            tokens += n;
        }
        seq.dispose();
    }
    await Promise.all(Array.from({length: c}, client));
    const seconds = (performance.now() - t0) / 1000;
    await context.dispose();
    return {clients: c, requests: total, seconds, tokens, ttft_ms: [pct(ttft, 0.5), pct(ttft, 0.99)], itl_ms: [pct(itl, 0.5), pct(itl, 0.99)]};
}

for (const c of clients) {
    await run(c, c, 100000);
    console.log(JSON.stringify(await run(c, requests, 0)));
}
await model.dispose();
