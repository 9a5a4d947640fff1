// Checks jllm's GGUF files against llama.cpp itself (node-llama-cpp 3.21.1's prebuilt CPU binaries).
//
//   cd tools/gguf && npm ci && cd ../.. && node tools/gguf/check_gguf.mjs
//
// 1. jllm converts the llama2.c model aidreams260K (src/test/resources/llama2c) to a Hugging Face
//    directory, then to GGUF files of every matrix type `jllm convert gguf --dtype` writes.
// 2. For each file, llama.cpp loads it, tokenizes a few prompts (with bos, as it prompts) and decodes
//    greedily from them; jllm (tools/gguf/GreedyTokens.java, the loader `jllm generate` uses) loads
//    the same file, tokenizes the same prompts and decodes greedily from llama.cpp's prompt ids.
// 3. Prompt ids and greedy tokens must be equal. With --quantized FILE..., GGUF files made elsewhere
//    (e.g. by llama.cpp's llama-quantize) are compared the same way.
// Exit status 0 when everything matched, 1 otherwise.
import {execFileSync} from "node:child_process";
import {mkdtempSync, rmSync, statSync} from "node:fs";
import {tmpdir} from "node:os";
import {join, resolve, basename} from "node:path";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const root = resolve(import.meta.dirname, "../..");
const N = Number(process.env.GGUF_CHECK_TOKENS ?? 100);
const PROMPTS = ["", "Echoes of", "Contrast edges sharpen", "I sense the nodes, a gentle hum"];
const extra = process.argv.includes("--quantized") ? process.argv.slice(process.argv.indexOf("--quantized") + 1) : [];

function jllm(...args) {
    return execFileSync(join(root, "jllm"), args, {cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"]});
}

function jllmGreedy(model, promptIds, texts) {
    const java = process.env.JAVA_HOME ? join(process.env.JAVA_HOME, "bin", "java") : "java";
    const out = execFileSync(java, ["--add-modules", "jdk.incubator.vector", "-cp", join(root, "target", "jllm.jar"),
        join(root, "tools", "gguf", "GreedyTokens.java"), model, String(N), ...promptIds.map(p => p.join(",")), "--", ...texts],
    {cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"]});
    return JSON.parse(out.trim().split("\n").pop());
}

const work = mkdtempSync(join(tmpdir(), "jllm-gguf-"));
let failures = 0;
try {
    const hf = join(work, "aidreams260K");
    jllm("convert", "llama2c", "--checkpoint", "src/test/resources/llama2c/aidreams260K.bin",
        "--tokenizer", "src/test/resources/llama2c/tok512.bin", "--out", hf);
    const files = [];
    const dtypes = (process.env.GGUF_CHECK_DTYPES ?? "f32,f16,bf16,q8_0,q4_0").split(",");
    for (const dtype of dtypes) {
        const f = join(work, `aidreams260K-${dtype}.gguf`);
        jllm("convert", "gguf", "--model", hf, "--out", f, "--dtype", dtype);
        files.push(f);
    }
    files.push(...extra.map(f => resolve(f)));

    // one thread: llama.cpp's spinning workers crawl (over a second a token here) on a loaded two-core machine
    const llama = await getLlama({gpu: false, build: "never", logLevel: LlamaLogLevel.error, maxThreads: 1});
    console.log(`llama.cpp: node-llama-cpp 3.21.1, build ${llama.llamaCppRelease.release}, CPU`);
    for (const file of files) {
        const model = await llama.loadModel({modelPath: file});
        const bos = model.tokens.shouldPrependBosToken ? [model.tokens.bos] : [];
        const promptIds = PROMPTS.map(p => [...bos, ...model.tokenize(p, false)]);
        const context = await model.createContext({contextSize: 128, threads: 1});
        const ours = jllmGreedy(file, promptIds, PROMPTS);
        console.log(`${basename(file)} (${statSync(file).size} bytes):`);
        for (let i = 0; i < PROMPTS.length; i++) {
            const sequence = context.getSequence();
            const theirs = [];
            for await (const t of sequence.evaluate(promptIds[i], {temperature: 0})) {
                theirs.push(t);
                if (theirs.length >= N) break;
            }
            sequence.dispose();
            const sameTok = JSON.stringify(ours.tokenized[i]) === JSON.stringify(promptIds[i]);
            let same = 0;
            while (same < N && ours.greedy[i][same] === theirs[same]) same++;
            const ok = sameTok && same === N;
            if (!ok) failures++;
            console.log(`  ${JSON.stringify(PROMPTS[i])}: prompt ids ${sameTok ? "equal" : "DIFFER"} (llama.cpp ${JSON.stringify(promptIds[i])}`
                + `${sameTok ? "" : ", jllm " + JSON.stringify(ours.tokenized[i])}); greedy tokens ${same}/${N} equal`
                + `${same === N ? "" : " (first difference at " + same + ": llama.cpp " + theirs[same] + ", jllm " + ours.greedy[i][same] + ")"}`);
            if (i === 1) console.log(`    llama.cpp: ${JSON.stringify(model.detokenize(theirs.slice(0, 24)))}...`);
        }
        await context.dispose();
        await model.dispose();
    }
} finally {
    rmSync(work, {recursive: true, force: true});
}
console.log(failures === 0 ? "all equal" : `${failures} prompt(s) differ`);
process.exit(failures === 0 ? 0 : 1);
