package jllm.generate;

import jllm.autograd.Grad;
import jllm.models.CachedLanguageModel;
import jllm.models.KVCache;
import jllm.models.LanguageModel;
import jllm.nn.Module;
import jllm.tensor.DType;
import jllm.tensor.Tensor;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Autoregressive generation, nanoGPT's {@code generate} loop: feed the context cropped to the last
 * blockSize tokens, take the last position's logits, pick a token with a {@link Sampler}, append,
 * repeat. Any {@link LanguageModel} works (a full forward per token); a
 * {@link CachedLanguageModel} with useCache runs one token per step over its {@link KVCache}, and
 * once the cache is full (the sequence outgrew blockSize) recomputes it from the cropped window
 * every step, so both paths see exactly the same context and pick the same tokens.
 *
 * <p>A {@link Module} model runs in eval mode (no dropout) and without autograd; its modes are
 * restored afterwards.
 */
public final class TextGenerator {
    private TextGenerator() {}

    /** Streaming callback: called for every generated token of every row as soon as it is picked. */
    @FunctionalInterface
    public interface TokenListener {
        void onToken(int row, long token);
    }

    /**
     * Settings of one generation call. topK / topP null = off; temperature 0 = greedy;
     * numReturnSequences repeats each prompt row that many times (rows p0, p0, p1, p1, ...);
     * stopTokens (empty = none; a model's config may list several eos ids) end a row once one is
     * generated, later positions of that row are filled with the first stop token and the call
     * returns early when every row has stopped; listener may be null.
     */
    public record Options(int maxNewTokens, double temperature, Integer topK, Double topP, long seed, boolean useCache,
                          int numReturnSequences, List<Long> stopTokens, TokenListener listener) {
        public Options {
            if (maxNewTokens < 0) throw new IllegalArgumentException("maxNewTokens must be >= 0, got " + maxNewTokens);
            if (numReturnSequences < 1) throw new IllegalArgumentException("numReturnSequences must be >= 1, got " + numReturnSequences);
            new Sampler(temperature, topK, topP, seed); // validates the sampling settings early
            stopTokens = stopTokens == null ? List.of() : List.copyOf(stopTokens);
        }

        public static Options of(int maxNewTokens) { return new Options(maxNewTokens, 1.0, null, null, 1337L, true, 1, List.of(), null); }

        public Options temperature(double t) { return new Options(maxNewTokens, t, topK, topP, seed, useCache, numReturnSequences, stopTokens, listener); }

        public Options topK(Integer k) { return new Options(maxNewTokens, temperature, k, topP, seed, useCache, numReturnSequences, stopTokens, listener); }

        public Options topP(Double p) { return new Options(maxNewTokens, temperature, topK, p, seed, useCache, numReturnSequences, stopTokens, listener); }

        public Options seed(long s) { return new Options(maxNewTokens, temperature, topK, topP, s, useCache, numReturnSequences, stopTokens, listener); }

        public Options useCache(boolean c) { return new Options(maxNewTokens, temperature, topK, topP, seed, c, numReturnSequences, stopTokens, listener); }

        public Options numReturnSequences(int n) { return new Options(maxNewTokens, temperature, topK, topP, seed, useCache, n, stopTokens, listener); }

        /** One stop token (null = none). */
        public Options stopToken(Long t) { return stopTokens(t == null ? List.of() : List.of(t)); }

        public Options stopTokens(List<Long> t) { return new Options(maxNewTokens, temperature, topK, topP, seed, useCache, numReturnSequences, t, listener); }

        public Options listener(TokenListener l) { return new Options(maxNewTokens, temperature, topK, topP, seed, useCache, numReturnSequences, stopTokens, l); }
    }

    /** idx I64 [B, T] (or [T]); returns [B, T + maxNewTokens]. */
    public static Tensor generate(LanguageModel model, Tensor idx, int maxNewTokens, double temperature, Integer topK, Double topP,
                                  long seed, boolean useCache) {
        return generate(model, idx, new Options(maxNewTokens, temperature, topK, topP, seed, useCache, 1, List.of(), null));
    }

    /**
     * idx I64 [B, T] (or [T], taken as one row) with T >= 1; returns I64 [B * numReturnSequences,
     * T + n] where n = maxNewTokens, or fewer when every row hit the stop token.
     */
    public static Tensor generate(LanguageModel model, Tensor idx, Options o) {
        if (model == null) throw new IllegalArgumentException("generate: model is null");
        Tensor prompt = idx.dim() == 1 ? idx.unsqueeze(0) : idx;
        if (prompt.dim() != 2 || prompt.size(1) < 1 || prompt.size(0) < 1) {
            throw new IllegalArgumentException("generate: idx must be [B, T] with B, T >= 1, got " + Arrays.toString(idx.shape()));
        }
        if (prompt.dtype() != DType.I64 && prompt.dtype() != DType.I32) {
            throw new IllegalArgumentException("generate: idx must hold integer token ids, got " + idx.dtype().torchName());
        }
        int b = prompt.size(0), t = prompt.size(1), rows = b * o.numReturnSequences();
        int total = t + o.maxNewTokens();
        long[] src = prompt.toLongArray();
        long[] buf = new long[rows * total];
        for (int r = 0; r < rows; r++) System.arraycopy(src, (r / o.numReturnSequences()) * t, buf, r * total, t);
        for (long id : src) {
            if (id < 0 || id >= model.vocabSize()) {
                throw new IllegalArgumentException("generate: token id " + id + " out of range for vocabulary size " + model.vocabSize());
            }
        }
        Sampler sampler = new Sampler(o.temperature(), o.topK(), o.topP(), o.seed());
        Map<Module, Boolean> modes = evalMode(model);
        try (var g = Grad.off()) {
            int len = loop(model, o, sampler, buf, rows, total, t);
            if (len == total) return Tensor.of(buf, rows, total);
            long[] out = new long[rows * len];
            for (int r = 0; r < rows; r++) System.arraycopy(buf, r * total, out, r * len, len);
            return Tensor.of(out, rows, len);
        } finally {
            for (Map.Entry<Module, Boolean> e : modes.entrySet()) e.getKey().train(e.getValue());
        }
    }

    /** Generates into buf (rows x total, the first t columns hold the prompt); returns the filled length. */
    private static int loop(LanguageModel model, Options o, Sampler sampler, long[] buf, int rows, int total, int t) {
        int block = model.blockSize();
        boolean cached = o.useCache() && model instanceof CachedLanguageModel;
        CachedLanguageModel cm = cached ? (CachedLanguageModel) model : null;
        // a long-context model's whole block size would preallocate far more cache than this call can use
        KVCache cache = cached ? cm.newCache(rows, Math.min(block, total)) : null;
        // the token ids go where the model's weights are (they are made here, on the host)
        jllm.tensor.Device dev = device(model);
        boolean[] done = new boolean[rows];
        int len = t, alive = rows;
        if (o.maxNewTokens() == 0) return len;
        Tensor logits = cached ? last(cm.forward(window(buf, rows, total, len, block).to(dev), cache, true))
                : last(model.forward(window(buf, rows, total, len, block).to(dev), null).logits());
        for (int step = 0; step < o.maxNewTokens(); step++) {
            long[] next = sampler.sample(logits).toLongArray();
            for (int r = 0; r < rows; r++) {
                if (done[r]) {
                    next[r] = o.stopTokens().get(0);
                    buf[r * total + len] = next[r];
                    continue;
                }
                buf[r * total + len] = next[r];
                if (o.listener() != null) o.listener().onToken(r, next[r]);
                if (o.stopTokens().contains(next[r])) {
                    done[r] = true;
                    alive--;
                }
            }
            len++;
            if (alive == 0 || step == o.maxNewTokens() - 1) break;
            if (!cached) {
                logits = last(model.forward(window(buf, rows, total, len, block).to(dev), null).logits());
            } else if (cache.length() < cache.capacity()) {
                logits = last(cm.forward(Tensor.of(next, rows, 1).to(dev), cache, true));
            } else {
                // positions are absolute: a cropped window shifts every position, so the cache is rebuilt
                cache.reset();
                logits = last(cm.forward(window(buf, rows, total, len, block).to(dev), cache, true));
            }
        }
        return len;
    }

    /** The device of the model's first parameter (the CPU for a model without any). */
    private static jllm.tensor.Device device(LanguageModel model) {
        if (model instanceof Module m) {
            for (Tensor p : m.parameters()) return p.device();
        }
        return jllm.tensor.Device.CPU;
    }

    /** The last min(len, block) tokens of every row: I64 [rows, w]. */
    private static Tensor window(long[] buf, int rows, int total, int len, int block) {
        int w = Math.min(len, block), start = len - w;
        long[] out = new long[rows * w];
        for (int r = 0; r < rows; r++) System.arraycopy(buf, r * total + start, out, r * w, w);
        return Tensor.of(out, rows, w);
    }

    /** Logits of the last position: [B, T, V] -> [B, V]. */
    private static Tensor last(Tensor logits) { return logits.select(1, logits.size(1) - 1); }

    /** Puts a Module model into eval mode; returns every submodule's previous mode, parents first. */
    private static Map<Module, Boolean> evalMode(LanguageModel model) {
        Map<Module, Boolean> modes = new LinkedHashMap<>();
        if (model instanceof Module m) {
            for (Module sub : m.modules()) modes.put(sub, sub.isTraining());
            m.eval();
        }
        return modes;
    }
}
