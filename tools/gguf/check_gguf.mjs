// Checks jllm's GGUF files against llama.cpp itself (node-llama-cpp 3.21.1's prebuilt CPU binaries).
//
//   cd tools/gguf && npm ci && cd ../.. && node tools/gguf/check_gguf.mjs
//
// 1. jllm converts the llama2.c model aidreams260K (src/test/resources/llama2c) to a Hugging Face
//    directory, then to GGUF files of every matrix type `jllm convert gguf --dtype` writes.
//    llama.cpp's own converter (llama_model_quantize, the code of its llama-quantize tool, called in
//    node-llama-cpp's libllama by LlamaCppQuantize.java) turns jllm's f32 file into f16, bf16, q8_0
//    and q4_0 files too: their tensors are compared byte for byte with jllm's (SameTensors.java),
//    and they join the files below, so jllm also reads GGUF files that llama.cpp wrote.
// 2. For each file, llama.cpp loads it, tokenizes a few prompts (with bos, as it prompts) and decodes
//    greedily from them; jllm (tools/gguf/GreedyTokens.java, the loader `jllm generate` uses) loads
//    the same file, tokenizes the same prompts and decodes greedily from llama.cpp's prompt ids.
// 3. Prompt ids and greedy tokens must be equal; at a difference the script shows how far apart jllm's
//    two best logits were, and a difference at a near tie (< 0.01) is reported but not counted
//    (llama.cpp's BF16 matmul rounds the activations to bf16 too, which can flip one). With
//    --also FILE..., other GGUF files are compared the same way.
// Exit status 0 when everything matched, 1 otherwise.
import {execFileSync} from "node:child_process";
import {mkdtempSync, rmSync, statSync} from "node:fs";
import {tmpdir} from "node:os";
import {join, resolve, basename} from "node:path";
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const root = resolve(import.meta.dirname, "../..");
const N = Number(process.env.GGUF_CHECK_TOKENS ?? 100);
// a greedy choice jllm made by less than this many logits is a tie for all practical purposes
const NEAR_TIE = 0.01;
const PROMPTS = ["", "Echoes of", "Contrast edges sharpen", "I sense the nodes, a gentle hum"];
const extra = process.argv.includes("--also") ? process.argv.slice(process.argv.indexOf("--also") + 1) : [];

function jllm(...args) {
    return execFileSync(join(root, "jllm"), args, {cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"]});
}

// the JDK the launcher finds (>= 25: the tools use the FFM and Vector APIs), not whatever `java` is first on the PATH
const java = join(execFileSync("bash", ["-c", `. "${join(root, ".mvn", "find-jdk.sh")}" && jllm_find_jdk && printf %s "$JAVA_HOME"`],
    {encoding: "utf8", stdio: ["ignore", "pipe", "inherit"]}), "bin", "java");

function javaTool(tool, ...args) {
    const out = execFileSync(java, ["--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-cp",
        join(root, "target", "jllm.jar"), join(root, "tools", "gguf", tool), ...args], {cwd: root, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"]});
    return out.trim().split("\n").pop();
}

function jllmGreedy(model, promptIds, texts) {
    return JSON.parse(javaTool("GreedyTokens.java", model, String(N), ...promptIds.map(p => p.join(",")), "--", ...texts));
}

// llama.cpp's llama_ftype numbers
const LLAMA_FTYPE = {f16: 1, bf16: 32, q8_0: 7, q4_0: 2};
const bins = join(import.meta.dirname, "node_modules", "@node-llama-cpp", "linux-x64", "bins", "linux-x64");

const work = mkdtempSync(join(tmpdir(), "jllm-gguf-"));
let failures = 0, nearTies = 0;
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
    const f32 = join(work, "aidreams260K-f32.gguf");
    for (const [dtype, ftype] of Object.entries(LLAMA_FTYPE)) {
        const f = join(work, `llama.cpp-${dtype}.gguf`);
        javaTool("LlamaCppQuantize.java", bins, f32, f, String(ftype));
        const same = JSON.parse(javaTool("SameTensors.java", join(work, `aidreams260K-${dtype}.gguf`), f));
        console.log(`jllm's ${dtype} file vs llama.cpp's ${dtype} conversion of jllm's f32 file: ${same.same}/${same.total} tensors`
            + ` byte-identical${same.different.length ? "; different: " + same.different.join(", ") : ""}`);
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
            const tie = sameTok && same < N && ours.gaps[i][same] < NEAR_TIE;
            if (tie) nearTies++;
            else if (!(sameTok && same === N)) failures++;
            console.log(`  ${JSON.stringify(PROMPTS[i])}: prompt ids ${sameTok ? "equal" : "DIFFER"} (llama.cpp ${JSON.stringify(promptIds[i])}`
                + `${sameTok ? "" : ", jllm " + JSON.stringify(ours.tokenized[i])}); greedy tokens ${same}/${N} equal`
                + `${same === N ? "" : " (first difference at " + same + ": llama.cpp " + theirs[same] + ", jllm " + ours.greedy[i][same]
                    + "; jllm's top two logits there are " + ours.gaps[i][same] + " apart" + (tie ? ": a near tie, not counted" : "") + ")"}`);
            if (i === 1) console.log(`    llama.cpp: ${JSON.stringify(model.detokenize(theirs.slice(0, 24)))}...`);
        }
        await context.dispose();
        await model.dispose();
    }
} finally {
    rmSync(work, {recursive: true, force: true});
}
console.log(failures === 0 ? `all equal${nearTies ? ` but for ${nearTies} near tie(s)` : ""}` : `${failures} prompt(s) differ`);
process.exit(failures === 0 ? 0 : 1);
