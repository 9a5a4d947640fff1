package jllm.bench;

import jllm.autograd.Grad;
import jllm.models.CausalLM;
import jllm.models.KVCache;
import jllm.nn.Module;
import jllm.nn.Quantize;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Inference speed against the machine's memory bandwidth, per weight type: decoding one token reads
 * every weight once (and the KV cache so far), so bytes per token times tokens per second, over the
 * bandwidth measured in the same run, says how far decoding is from its bound. Reported per weight
 * type: the prefill rate of a long prompt, the time to the first token, and decode tokens/s with
 * 16, 512 and 2048 positions already in the KV cache (capped at the model's context); the growth of
 * the time per token with the context is attention over the cache, reported as its share.
 *
 * <p>The engine is timed as a generation loop runs it (forward over the new token with the cache,
 * argmax of the last logits, next token), greedy so that every weight type decodes the same way.
 */
public final class DecodeBench {
    /** One model to run: built (random weights) or loaded in the requested weight type. */
    public interface ModelSource {
        String name();

        /** The model with its weight matrices in dtype. */
        CausalLM load(DType dtype);
    }

    /** A built-in case: a model of the given shape with seeded random weights, converted with {@link Quantize}. */
    public static ModelSource built(String name, Supplier<CausalLM> build) {
        return new ModelSource() {
            @Override public String name() { return name; }

            @Override public CausalLM load(DType dtype) {
                Generator.manualSeed(0);
                CausalLM m = build.get();
                if (dtype != DType.F32) Quantize.weights(m, dtype);
                return m;
            }
        };
    }

    /** One weight type's results; times in ms, rates in tokens/s. */
    public record Result(DType dtype, long weightBytes, int promptLen, double prefillTokensPerSecond, double ttftMs,
                         int[] contexts, double[] decodeMsPerToken, double[] bytesPerToken) {}

    private final PrintStream out;
    private final MachineLimits limits;

    public DecodeBench(PrintStream out, MachineLimits limits) {
        this.out = out;
        this.limits = limits;
    }

    private static long bytes(Tensor p) {
        return p.dtype().isQuantized() ? p.dtype().bytes(p.numel()) : (long) p.numel() * p.dtype().itemSize();
    }

    /** Bytes the model's parameters occupy in their own types (a tied tensor once). */
    public static long weightBytes(Module m) {
        long b = 0;
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor p : m.parameters()) if (seen.add(p)) b += bytes(p);
        return b;
    }

    /**
     * Bytes of weights one decoded token reads: every parameter, except that an embedding table
     * that is not also a Linear layer's weight (an untied input embedding, GPT-2's positions) gives
     * only its one row.
     */
    public static long weightBytesPerToken(Module m) {
        Set<Tensor> linear = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Module x : m.modules()) if (x instanceof jllm.nn.Linear l) linear.add(l.weight());
        long b = weightBytes(m);
        for (Module x : m.modules()) {
            if (x instanceof jllm.nn.Embedding e && !linear.contains(e.parameter("weight"))) {
                Tensor w = e.parameter("weight");
                b -= bytes(w) - bytes(w) / w.size(0);
            }
        }
        return b;
    }

    /**
     * Runs one model in each weight type: prefill of promptLen tokens, then, for each context,
     * tokens decode steps after that many cached positions; medians of repeats after warmup runs.
     */
    public List<Result> run(ModelSource src, List<DType> dtypes, int promptLen, List<Integer> contexts, int tokens, int warmup, int repeats) {
        List<Result> results = new ArrayList<>();
        for (DType t : dtypes) {
            CausalLM m = src.load(t);
            m.eval();
            Result r = measure(m, t, promptLen, contexts, tokens, warmup, repeats);
            results.add(r);
            print(src.name(), r, m);
        }
        return results;
    }

    private Result measure(CausalLM m, DType t, int promptLen, List<Integer> contexts, int tokens, int warmup, int repeats) {
        int block = m.blockSize(), vocab = m.vocabSize();
        int p = Math.min(promptLen, block - 1);
        List<Integer> ctx = new ArrayList<>();
        for (int c : contexts) if (Math.min(c, block - tokens) >= 1 && !ctx.contains(Math.min(c, block - tokens))) ctx.add(Math.min(c, block - tokens));
        if (ctx.isEmpty()) throw new IllegalArgumentException("--tokens " + tokens + " leaves no room in the model's context of " + block);
        double[] prefill = new double[repeats], ttft = new double[repeats];
        double[][] decode = new double[ctx.size()][repeats];
        try (var g = Grad.off()) {
            for (int i = 0; i < warmup + repeats; i++) {
                Tensor prompt = Tensor.randint(0, vocab, new int[] {1, p}, new Generator(i));
                KVCache cache = m.newCache(1, Math.min(block, p + 1));
                long t0 = System.nanoTime();
                Tensor logits = m.forward(prompt, cache, true);
                long t1 = System.nanoTime();
                logits.reshape(-1).argmax().item();
                long t2 = System.nanoTime();
                if (i >= warmup) {
                    prefill[i - warmup] = p / ((t1 - t0) / 1e9);
                    ttft[i - warmup] = (t2 - t0) / 1e6;
                }
                for (int c = 0; c < ctx.size(); c++) {
                    double ms = decodeSteps(m, ctx.get(c), tokens, vocab, i);
                    if (i >= warmup) decode[c][i - warmup] = ms;
                }
            }
        }
        long wb = weightBytesPerToken(m);
        int[] cs = ctx.stream().mapToInt(Integer::intValue).toArray();
        double[] ms = new double[cs.length], bytes = new double[cs.length];
        long kv = kvBytesPerPosition(m);
        for (int c = 0; c < cs.length; c++) {
            ms[c] = ModelBench.median(decode[c]);
            // the weights plus, on average over the timed steps, the keys and values cached so far
            bytes[c] = wb + (double) kv * (cs[c] + tokens / 2.0);
        }
        return new Result(t, weightBytes(m), p, ModelBench.median(prefill), ModelBench.median(ttft), cs, ms, bytes);
    }

    /** Bytes of keys and values one cached position holds over all layers (the cache is F32, see CausalLM.newCache). */
    private static long kvBytesPerPosition(CausalLM m) {
        KVCache c = m.newCache(1, 1);
        return 2L * c.numLayers() * c.numHeads() * c.headDim() * Float.BYTES;
    }

    /** Milliseconds per token of tokens greedy steps after a context of ctx positions. */
    private static double decodeSteps(CausalLM m, int ctx, int tokens, int vocab, int seed) {
        KVCache cache = m.newCache(1, ctx + tokens);
        Tensor logits = m.forward(Tensor.randint(0, vocab, new int[] {1, ctx}, new Generator(1000 + seed)), cache, true);
        long t0 = System.nanoTime();
        for (int s = 0; s < tokens; s++) {
            long next = (long) logits.reshape(-1).argmax().item();
            logits = m.forward(Tensor.of(new long[] {next}, 1, 1), cache, true);
        }
        return (System.nanoTime() - t0) / 1e6 / tokens;
    }

    private void print(String name, Result r, CausalLM m) {
        int threads = jllm.backend.cpu.Parallel.threads();
        double bw = limits.bandwidthGBs(threads);
        out.printf(Locale.ROOT, "jllm    %s %s: weights %.1f MB; prefill %d tokens %.0f tokens/s, first token after %.1f ms%n", name,
                r.dtype().torchName(), r.weightBytes() / 1e6, r.promptLen(), r.prefillTokensPerSecond(), r.ttftMs());
        for (int c = 0; c < r.contexts().length; c++) {
            double ms = r.decodeMsPerToken()[c];
            double gbs = r.bytesPerToken()[c] / ms / 1e6;
            String attn = c == 0 ? "" : String.format(Locale.ROOT, ", attention over the cache ~%.0f%% of the time",
                    100 * Math.max(0, ms - r.decodeMsPerToken()[0]) / ms);
            out.printf(Locale.ROOT, "          decode at context %d: %.1f tokens/s (%.2f ms/token), %.1f MB read per token = %.1f GB/s = %.0f%% of the "
                    + "%d-thread bandwidth%s%n", r.contexts()[c], 1000 / ms, ms, r.bytesPerToken()[c] / 1e6, gbs, 100 * gbs / bw, threads, attn);
        }
    }
}
