package jllm.bench;

import jllm.generate.TextGenerator;
import jllm.io.TensorIO;
import jllm.lora.LoraConfig;
import jllm.lora.LoraLinear;
import jllm.lora.PeftModel;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;
import jllm.optim.AdamW;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.train.Trainer;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * GPT and Llama training-step and generation benchmarks, with PyTorch run side by side on the same
 * shapes through {@code tools/bench/torch_gpt.py} / {@code tools/bench/torch_llama.py} (Debian's
 * python3-torch) when it is available. The Llama cases hand PyTorch the very weights jllm built
 * (savePretrained into a temporary Hugging Face directory), and the script checks that both
 * compute the same logits (and, for LoRA, the same loss and adapter gradients).
 */
public final class ModelBench {
    /** A benchmark configuration: model shape and batch. */
    public record Case(String name, GPTConfig config, int batch, int seqLen) {}

    public static final Map<String, Case> CASES = Map.of(
            "gpt2", new Case("gpt2", GPTConfig.gpt2(), 4, 64),
            "cpu-preset", new Case("cpu-preset", new GPTConfig(64, 65, 4, 4, 128, 0.0, false), 12, 64));

    private final PrintStream out;

    public ModelBench(PrintStream out) { this(out, Sizes.DEFAULT); }

    public ModelBench(PrintStream out, Sizes sizes) {
        this.out = out;
        this.sizes = sizes;
    }

    /** Overrides of the cases' batch, sequence length and prompt length (null: the case's own). */
    public record Sizes(Integer batch, Integer seqLen, Integer promptLen) {
        public static final Sizes DEFAULT = new Sizes(null, null, null);

        public Sizes {
            for (Integer v : new Integer[] {batch, seqLen, promptLen}) {
                if (v != null && v < 1) throw new IllegalArgumentException("--batch, --seq-len and --prompt-len must be >= 1, got " + v);
            }
        }

        Case apply(Case c) {
            Case r = new Case(c.name(), c.config(), batch != null ? batch : c.batch(), seqLen != null ? seqLen : c.seqLen());
            if (r.seqLen() > c.config().blockSize()) {
                throw new IllegalArgumentException("--seq-len " + r.seqLen() + " is longer than case " + c.name() + "'s block size " + c.config().blockSize());
            }
            return r;
        }

        LlamaCase apply(LlamaCase c) {
            return new LlamaCase(c.name(), c.config(), batch != null ? batch : c.batch(), seqLen != null ? seqLen : c.seqLen(),
                    promptLen != null ? promptLen : c.promptLen(), c.loraR(), c.loraAlpha(), c.loraTargets());
        }

        int gptPrompt() { return promptLen != null ? promptLen : 8; }

        /** Applies the sizes to each named case now, so that a size a case cannot take is an error before any work. */
        public void check(List<String> names) {
            for (String n : names) {
                if (CASES.containsKey(n)) apply(CASES.get(n));
                if (LLAMA_CASES.containsKey(n)) apply(LLAMA_CASES.get(n));
            }
        }
    }

    private final Sizes sizes;

    /** Median milliseconds of one training step (forward, backward, AdamW step, zero_grad). */
    public double trainStep(Case c, int warmup, int repeats) {
        try {
            return trainStep(c, warmup, repeats, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * As {@link #trainStep(Case, int, int)}; with dir, the model's initial weights (jllm's state
     * dict), the batch and the first step's loss go to dir/model.safetensors and
     * dir/bench_inputs.safetensors, so that tools/bench/torch_gpt.py times the same model and
     * checks the loss.
     */
    public double trainStep(Case c, int warmup, int repeats, Path dir) throws IOException {
        Generator.manualSeed(0);
        GPT model = new GPT(c.config());
        if (dir != null) TensorIO.save(dir.resolve("model.safetensors"), model.stateDict());
        AdamW opt = Trainer.configureOptimizers(model, 0.1, 1e-4, 0.9, 0.95, s -> { });
        Generator g = new Generator(1);
        Tensor x = Tensor.randint(0, c.config().vocabSize(), new int[] {c.batch(), c.seqLen()}, g);
        Tensor y = Tensor.randint(0, c.config().vocabSize(), new int[] {c.batch(), c.seqLen()}, g);
        double[] ms = new double[repeats];
        for (int i = 0; i < warmup + repeats; i++) {
            long t0 = System.nanoTime();
            Tensor loss = model.forward(x, y).loss();
            if (i == 0 && dir != null) {
                TensorIO.save(dir.resolve("bench_inputs.safetensors"), new java.util.LinkedHashMap<>(Map.of("x", x, "y", y, "loss",
                        loss.detach().reshape(1))));
            }
            opt.zeroGrad();
            loss.backward();
            opt.step();
            if (i >= warmup) ms[i - warmup] = (System.nanoTime() - t0) / 1e6;
        }
        return median(ms);
    }

    /** Median tokens per second of KV-cached sampling (temperature 0.8, top-k 50) after an 8-token prompt. */
    public double generate(Case c, int tokens, int warmup, int repeats) {
        try {
            return generate(c, tokens, warmup, repeats, null);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * As {@link #generate(Case, int, int, int)}; with dir, the weights, the first prompt and its
     * last-position logits go to dir for tools/bench/torch_gpt.py (same model, logits checked).
     */
    public double generate(Case c, int tokens, int warmup, int repeats, Path dir) throws IOException {
        Generator.manualSeed(0);
        GPT model = new GPT(c.config());
        model.eval();
        if (dir != null) {
            TensorIO.save(dir.resolve("model.safetensors"), model.stateDict());
            int p = sizes.gptPrompt();
            Tensor idx = Tensor.randint(0, c.config().vocabSize(), new int[] {1, p}, new Generator(0));
            Tensor logits = model.forward(idx).narrow(1, p - 1, 1);
            TensorIO.save(dir.resolve("bench_inputs.safetensors"), new LinkedHashMap<>(Map.of("idx", idx, "logits", logits.contiguous())));
        }
        double[] rate = new double[repeats];
        for (int i = 0; i < warmup + repeats; i++) {
            Tensor idx = Tensor.randint(0, c.config().vocabSize(), new int[] {1, sizes.gptPrompt()}, new Generator(i));
            long t0 = System.nanoTime();
            TextGenerator.generate(model, idx, tokens, 0.8, 50, null, i, true);
            double s = (System.nanoTime() - t0) / 1e9;
            if (i >= warmup) rate[i - warmup] = tokens / s;
        }
        return median(rate);
    }

    // ------------------------------------------------------------------ Llama

    /**
     * A Llama benchmark: model shape, and for a LoRA training case the batch and the adapter
     * (r, alpha, target modules); for generation the prompt length.
     */
    public record LlamaCase(String name, LlamaConfig config, int batch, int seqLen, int promptLen, int loraR, double loraAlpha,
                            List<String> loraTargets) {}

    /** "Small Llama": hidden 768, 12 layers, 12 heads with 4 KV heads (GQA), intermediate 2048, vocab 32000, rope_theta 500000. */
    public static LlamaConfig smallLlama() {
        return LlamaConfig.of(32000, 768, 2048, 12, 12, 4, 1024).withRope(500000.0, null).withTieWordEmbeddings(false);
    }

    /** stories260K's shape (Karpathy's llama2.c): hidden 64, 5 layers, 8 heads / 4 KV heads, intermediate 172, vocab 512, context 512. */
    public static LlamaConfig tinyLlama() {
        return LlamaConfig.of(512, 64, 172, 5, 8, 4, 512);
    }

    public static final Map<String, LlamaCase> LLAMA_CASES = Map.of(
            "tiny", new LlamaCase("tiny", tinyLlama(), 1, 0, 16, 0, 0, List.of()),
            "llama", new LlamaCase("llama", smallLlama(), 1, 0, 16, 0, 0, List.of()),
            "llama-lora", new LlamaCase("llama-lora", smallLlama(), 4, 128, 16, 8, 16, List.of("q_proj", "v_proj")));

    /** Cases of {@code jllm bench train}. */
    public static final List<String> TRAIN_CASES = List.of("gpt2", "cpu-preset", "llama-lora");
    /** Cases of {@code jllm bench generate}. */
    public static final List<String> GENERATE_CASES = List.of("gpt2", "cpu-preset", "llama", "tiny");

    /** Throws for a name that is not one of the given cases. */
    public static void checkCases(List<String> names, List<String> valid) {
        for (String n : names) {
            if (!valid.contains(n)) throw new IllegalArgumentException("unknown case " + n + "; cases: " + String.join(", ", valid));
        }
    }

    private static LlamaForCausalLM llama(LlamaCase c) {
        Generator.manualSeed(0);
        return new LlamaForCausalLM(c.config());
    }

    /**
     * Median milliseconds of one LoRA training step (forward, backward, AdamW on the adapter
     * weights only, zero_grad) at [batch, seqLen]. When {@code dir} is not null, the base model is
     * saved there (savePretrained) with the inputs, the adapter's initial weights, the first
     * step's loss and lora_B gradients in bench_inputs.safetensors, for tools/bench/torch_llama.py.
     */
    public double loraStep(LlamaCase c, int warmup, int repeats, Path dir) throws IOException {
        LlamaForCausalLM base = llama(c);
        if (dir != null) base.savePretrained(dir);
        PeftModel model = PeftModel.getPeftModel(base, LoraConfig.of(c.loraR(), c.loraAlpha())
                .withTargetModules(c.loraTargets().toArray(String[]::new)), new Generator(2));
        model.train();
        List<Tensor> trainable = new ArrayList<>();
        for (Tensor p : model.parameters()) if (p.requiresGrad()) trainable.add(p);
        AdamW opt = new AdamW(trainable, 1e-4, 0.9, 0.999, 1e-8, 0.0);
        Generator g = new Generator(1);
        int v = c.config().vocabSize();
        Tensor x = Tensor.randint(0, v, new int[] {c.batch(), c.seqLen()}, g);
        Tensor y = Tensor.randint(0, v, new int[] {c.batch(), c.seqLen()}, g);
        LinkedHashMap<String, Tensor> saved = new LinkedHashMap<>();
        if (dir != null) {
            saved.put("idx", x);
            saved.put("targets", y);
            for (String n : model.loraLayerNames()) {
                LoraLinear l = model.loraLayer(n);
                saved.put(n + ".lora_A.weight", l.loraA().weight().detach().clone());
                saved.put(n + ".lora_B.weight", l.loraB().weight().detach().clone());
            }
        }
        double[] ms = new double[repeats];
        for (int i = 0; i < warmup + repeats; i++) {
            long t0 = System.nanoTime();
            Tensor loss = model.forward(x, y).loss();
            opt.zeroGrad();
            loss.backward();
            if (i == 0 && dir != null) {
                saved.put("loss", Tensor.of(new float[] {(float) loss.item()}, 1));
                for (String n : model.loraLayerNames()) saved.put(n + ".lora_B.grad", model.loraLayer(n).loraB().weight().grad().clone());
            }
            opt.step();
            if (i >= warmup) ms[i - warmup] = (System.nanoTime() - t0) / 1e6;
        }
        if (dir != null) TensorIO.save(dir.resolve("bench_inputs.safetensors"), saved);
        return median(ms);
    }

    /**
     * Median tokens per second of greedy KV-cached decoding after a promptLen-token prompt (one
     * prefill, then one forward per new token). When {@code dir} is not null, the model is saved
     * there with the prompt, its logits (no cache) and the greedy ids, for tools/bench/torch_llama.py.
     */
    public double llamaGenerate(LlamaCase c, int tokens, int warmup, int repeats, Path dir) throws IOException {
        LlamaForCausalLM model = llama(c);
        model.eval();
        Tensor idx = Tensor.randint(0, c.config().vocabSize(), new int[] {1, c.promptLen()}, new Generator(1));
        double[] rate = new double[repeats];
        Tensor ids = null;
        for (int i = 0; i < warmup + repeats; i++) {
            long t0 = System.nanoTime();
            ids = TextGenerator.generate(model, idx, tokens, 0.0, null, null, 0, true);
            double s = (System.nanoTime() - t0) / 1e9;
            if (i >= warmup) rate[i - warmup] = tokens / s;
        }
        if (dir != null) {
            model.savePretrained(dir);
            LinkedHashMap<String, Tensor> saved = new LinkedHashMap<>();
            saved.put("idx", idx);
            try (var gr = jllm.autograd.Grad.off()) {
                saved.put("logits", model.forward(idx));
            }
            saved.put("ids", ids);
            TensorIO.save(dir.resolve("bench_inputs.safetensors"), saved);
        }
        return median(rate);
    }

    static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** The PyTorch script (e.g. torch_gpt.py) next to the sources, or null. */
    static Path torchScript(String name) {
        String home = System.getProperty("jllm.home", ".");
        Path p = Path.of(home, "tools", "bench", name);
        return Files.exists(p) ? p : null;
    }

    /**
     * Runs a PyTorch script with 1 and 2 threads (OMP_WAIT_POLICY=PASSIVE, OpenBLAS's machine
     * overrides unset); returns its result lines ("pytorch ...", and the
     * "check: ..." lines of the first run, which gets {@code firstRunArgs} too) or an explanation.
     */
    List<String> torch(String name, List<String> args, List<String> firstRunArgs) {
        Path script = torchScript(name);
        List<String> lines = new ArrayList<>();
        Path py = Path.of("/usr/bin/python3");
        if (script == null || !Files.isExecutable(py)) {
            lines.add("PyTorch: not run (needs /usr/bin/python3 with Debian's python3-torch and tools/bench/" + name + " under -Djllm.home)");
            return lines;
        }
        for (String threads : new String[] {"1", "2"}) {
            List<String> cmd = new ArrayList<>(List.of(py.toString(), script.toString()));
            cmd.addAll(args);
            if (threads.equals("1")) cmd.addAll(firstRunArgs);
            cmd.addAll(List.of("--threads", threads));
            try {
                ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
                // the peer at its best: OpenMP threads sleep instead of spinning between regions (spinning makes the
                // 2-thread column 2-4x slower than 1 thread here), and this machine's overrides for old OpenBLAS
                // builds, which slow Debian's current one, are unset for the peer only
                pb.environment().put("OMP_WAIT_POLICY", "PASSIVE");
                pb.environment().remove("OPENBLAS_CORETYPE");
                pb.environment().remove("OPENBLAS_L2_SIZE");
                Process p = pb.start();
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = r.readLine()) != null) if (l.startsWith("pytorch") || l.startsWith("check") || l.contains("Error")) lines.add(l);
                }
                if (p.waitFor() != 0) lines.add("PyTorch run failed (exit " + p.exitValue() + "): " + String.join(" ", cmd));
            } catch (Exception e) {
                lines.add("PyTorch: could not run " + String.join(" ", cmd) + ": " + e.getMessage());
            }
        }
        return lines;
    }

    /** The machine's limits, measured before the cases of a run and printed with them. */
    private MachineLimits limits() {
        MachineLimits m = MachineLimits.measure(jllm.backend.cpu.Parallel.threads(), 5);
        m.print(out);
        return m;
    }

    /**
     * Training FLOPs of one step as nanoGPT's estimate_mfu counts them: 6 N per token for the
     * matrix products of forward and backward (N without the position embedding) plus
     * 12 L C T per token for attention.
     */
    static double trainFlops(Case c) {
        GPTConfig g = c.config();
        double perToken = 6.0 * g.numParameters(true) + 12.0 * g.nLayer() * g.nEmbd() * c.seqLen();
        return perToken * c.batch() * c.seqLen();
    }

    private String ofPeak(double gflops, MachineLimits m) {
        int t = jllm.backend.cpu.Parallel.threads();
        return String.format(Locale.ROOT, "%.1f GFLOP/s = %.0f%% of the %d-thread FMA peak", gflops, 100 * gflops / m.peakGflops(t), t);
    }

    /** Decoding reads every weight once per token: bytes per token times tokens/s against the measured bandwidth. */
    private String ofBandwidth(long params, double tokensPerSecond, MachineLimits m) {
        int t = jllm.backend.cpu.Parallel.threads();
        double gbs = params * 4.0 * tokensPerSecond / 1e9;
        return String.format(Locale.ROOT, "weights streamed at %.1f GB/s = %.0f%% of the %d-thread bandwidth", gbs, 100 * gbs / m.bandwidthGBs(t), t);
    }

    public void runTrain(List<String> names, int warmup, int repeats, boolean withTorch) {
        MachineLimits m = limits();
        for (String n : names) {
            if (LLAMA_CASES.containsKey(n)) {
                runLlamaTrain(sizes.apply(LLAMA_CASES.get(n)), warmup, repeats, withTorch);
                continue;
            }
            Case c = sizes.apply(CASES.get(n));
            Path dir = withTorch ? tempDir() : null;
            try {
                double ms = trainStep(c, warmup, repeats, dir);
                out.printf(Locale.ROOT, "jllm    %s B=%d T=%d threads=%d: median step %.1f ms (%d runs); %s%n", n, c.batch(), c.seqLen(),
                        jllm.backend.cpu.Parallel.threads(), ms, repeats, ofPeak(trainFlops(c) / ms / 1e6, m));
                // PyTorch loads jllm's weights and batch and checks the first step's loss
                if (withTorch) torch("torch_gpt.py", List.of("step", "--config", n, "--dir", dir.toString(), "--warmup", String.valueOf(warmup),
                        "--repeats", String.valueOf(repeats)), List.of("--check")).forEach(out::println);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            } finally {
                deleteTree(dir);
            }
        }
    }

    /**
     * Decoding per weight type ({@link DecodeBench}) for each case or for a model directory, then,
     * for the f32 cases, PyTorch on the same weights (its own generation loop at the case's prompt).
     */
    public void runGenerate(List<String> names, String model, List<jllm.tensor.DType> dtypes, int promptLen, List<Integer> contexts, int tokens,
                            int warmup, int repeats, boolean withTorch, boolean withLlamaCpp) {
        MachineLimits m = limits();
        DecodeBench bench = new DecodeBench(out, m);
        if (model != null) {
            if (withLlamaCpp) {
                sameGgufFiles(bench, model, dtypes, promptLen, contexts, tokens, warmup, repeats);
                return;
            }
            bench.run(new DecodeBench.ModelSource() {
                @Override public String name() { return model; }

                @Override public jllm.models.CausalLM load(jllm.tensor.DType dtype) {
                    try {
                        return (jllm.models.CausalLM) jllm.models.AutoModelForCausalLM.fromPretrained(jllm.io.ModelSource.open(model), dtype);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                }
            }, dtypes, promptLen, contexts, tokens, warmup, repeats);
            return;
        }
        for (String n : names) {
            bench.run(DecodeBench.built(n, () -> LLAMA_CASES.containsKey(n) ? new LlamaForCausalLM(LLAMA_CASES.get(n).config())
                    : new GPT(CASES.get(n).config())), dtypes, promptLen, contexts, tokens, warmup, repeats);
            if (withTorch && dtypes.contains(jllm.tensor.DType.F32) && !n.equals("tiny")) torchGenerate(n, tokens, warmup, repeats);
        }
    }

    /**
     * jllm and llama.cpp on the same GGUF file per weight type: the model is written as GGUF in each
     * type (as `convert gguf` does), jllm loads that file in its stored type, and llama.cpp
     * (tools/gguf/bench_llamacpp.mjs, node-llama-cpp) runs it with 1 and with 2 threads.
     */
    private void sameGgufFiles(DecodeBench bench, String model, List<jllm.tensor.DType> dtypes, int promptLen, List<Integer> contexts,
                               int tokens, int warmup, int repeats) {
        Path dir = tempDir();
        try {
            jllm.io.ModelSource src = jllm.io.ModelSource.open(model);
            jllm.models.PretrainedModel m = jllm.models.AutoModelForCausalLM.fromPretrained(src, jllm.tensor.DType.F32);
            for (jllm.tensor.DType t : dtypes) {
                Path f = dir.resolve(t.torchName() + ".gguf");
                try (jllm.tokenizer.HfTokenizer tok = src.tokenizer()) {
                    jllm.io.gguf.GgufModel.write(f, m.configJson(), m.hfStateDict(), src.tokenizerJson(), tok, ggufType(t), "bench");
                }
                bench.run(new DecodeBench.ModelSource() {
                    @Override public String name() { return f.getFileName().toString(); }

                    @Override public jllm.models.CausalLM load(jllm.tensor.DType dtype) {
                        try {
                            return (jllm.models.CausalLM) jllm.models.AutoModelForCausalLM.fromPretrained(f);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    }
                }, List.of(t), promptLen, contexts, tokens, warmup, repeats);
                llamaCpp(f, promptLen, contexts, tokens, warmup, repeats).forEach(out::println);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteTree(dir);
        }
    }

    private static jllm.io.gguf.GgufModel.FileType ggufType(jllm.tensor.DType t) {
        return switch (t) {
            case F32 -> jllm.io.gguf.GgufModel.FileType.F32;
            case F16 -> jllm.io.gguf.GgufModel.FileType.F16;
            case BF16 -> jllm.io.gguf.GgufModel.FileType.BF16;
            case Q8_0 -> jllm.io.gguf.GgufModel.FileType.Q8_0;
            case Q4_0 -> jllm.io.gguf.GgufModel.FileType.Q4_0;
            default -> throw new IllegalArgumentException("no GGUF file type for " + t.torchName());
        };
    }

    /** llama.cpp's lines for one GGUF file, with 1 and 2 threads, or why it did not run. */
    private List<String> llamaCpp(Path gguf, int promptLen, List<Integer> contexts, int tokens, int warmup, int repeats) {
        List<String> lines = new ArrayList<>();
        String missing = LlamaCpp.missing();
        if (missing != null) {
            lines.add("llama.cpp: not run (" + missing + ")");
            return lines;
        }
        for (int threads : new int[] {1, 2}) {
            try {
                var r = LlamaCpp.run("bench_llamacpp.mjs", List.of(gguf.toString(), String.valueOf(promptLen),
                        contexts.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(",")), String.valueOf(tokens),
                        String.valueOf(threads), String.valueOf(repeats), String.valueOf(warmup))).getLast();
                lines.add(String.format(Locale.ROOT, "llama.cpp threads=%d: prefill %d tokens %.0f tokens/s, first token after %.1f ms", threads,
                        r.get("prompt_len").asInt(), r.get("prefill_tps").asDouble(), r.get("ttft_ms").asDouble()));
                for (int i = 0; i < r.get("contexts").size(); i++) {
                    double ms = r.get("decode_ms").get(i).asDouble();
                    lines.add(String.format(Locale.ROOT, "          decode at context %d: %.1f tokens/s (%.2f ms/token)", r.get("contexts").get(i).asInt(),
                            1000 / ms, ms));
                }
            } catch (Exception e) {
                lines.add("llama.cpp threads=" + threads + ": did not run: " + e.getMessage());
            }
        }
        return lines;
    }

    /** PyTorch's generation on the case's weights (saved by jllm), its logits checked against jllm's. */
    private void torchGenerate(String n, int tokens, int warmup, int repeats) {
        Path dir = tempDir();
        try {
            if (LLAMA_CASES.containsKey(n)) {
                LlamaCase c = sizes.apply(LLAMA_CASES.get(n));
                llamaGenerate(c, tokens, 0, 1, dir);
                torch("torch_llama.py", List.of("generate", "--dir", dir.toString(), "--case", c.name(), "--tokens",
                        String.valueOf(tokens), "--warmup", String.valueOf(warmup), "--repeats", String.valueOf(repeats)), List.of("--check"))
                        .forEach(out::println);
            } else {
                Case c = sizes.apply(CASES.get(n));
                generate(c, tokens, 0, 1, dir);
                torch("torch_gpt.py", List.of("generate", "--config", n, "--dir", dir.toString(), "--tokens", String.valueOf(tokens),
                        "--prompt-len", String.valueOf(sizes.gptPrompt()),
                        "--warmup", String.valueOf(warmup), "--repeats", String.valueOf(repeats)), List.of("--check")).forEach(out::println);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteTree(dir);
        }
    }

    private void runLlamaTrain(LlamaCase c, int warmup, int repeats, boolean withTorch) {
        Path dir = withTorch ? tempDir() : null;
        try {
            double ms = loraStep(c, warmup, repeats, dir);
            out.printf(Locale.ROOT, "jllm    %s r=%d alpha=%s %s B=%d T=%d threads=%d: median step %.1f ms (%d runs)%n", c.name(), c.loraR(),
                    fmt(c.loraAlpha()), String.join(",", c.loraTargets()), c.batch(), c.seqLen(), jllm.backend.cpu.Parallel.threads(), ms, repeats);
            if (withTorch) torch("torch_llama.py", List.of("lora-step", "--dir", dir.toString(), "--case", c.name(), "--r",
                    String.valueOf(c.loraR()), "--alpha", fmt(c.loraAlpha()), "--targets", String.join(",", c.loraTargets()),
                    "--warmup", String.valueOf(warmup), "--repeats", String.valueOf(repeats)), List.of("--check")).forEach(out::println);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            deleteTree(dir);
        }
    }

    private static String fmt(double v) { return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v); }

    private static Path tempDir() {
        try {
            return Files.createTempDirectory("jllm-bench-llama");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void deleteTree(Path dir) {
        if (dir == null || !Files.exists(dir)) return;
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            System.err.println("could not delete " + dir + ": " + e.getMessage());
        }
    }
}
