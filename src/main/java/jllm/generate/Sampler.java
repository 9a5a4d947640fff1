package jllm.generate;

import jllm.autograd.Grad;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.util.Arrays;

/**
 * Picks the next token from last-position logits [B, V]: divide by the temperature, keep the
 * top-k (nanoGPT / PyTorch: everything below the k-th largest value becomes -inf, ties with it
 * stay), keep the nucleus (Hugging Face's TopPLogitsWarper), then softmax and draw one token per
 * row with multinomial from this sampler's own {@link Generator}, in that order. A temperature
 * of 0 means greedy decoding (argmax), the limit of sampling with top-k = 1.
 */
public final class Sampler {
    private final double temperature;
    private final Integer topK;
    private final Double topP;
    private final Generator generator;

    /** topK and topP may be null (off); the generator is seeded with seed. */
    public Sampler(double temperature, Integer topK, Double topP, long seed) { this(temperature, topK, topP, new Generator(seed)); }

    public Sampler(double temperature, Integer topK, Double topP, Generator generator) {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0 (0 = greedy), got " + temperature);
        }
        if (topK != null && topK <= 0) throw new IllegalArgumentException("top_k must be a positive integer, got " + topK);
        if (topP != null && !(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        this.temperature = temperature;
        this.topK = topK;
        this.topP = topP;
        this.generator = generator;
    }

    /** Greedy decoding: argmax per row. */
    public static Sampler greedy() { return new Sampler(0.0, null, null, 0L); }

    public double temperature() { return temperature; }

    public Integer topK() { return topK; }

    public Double topP() { return topP; }

    public Generator generator() { return generator; }

    public boolean isGreedy() { return temperature == 0; }

    /** The logits after temperature, top-k and top-p; removed entries are -inf. [B, V] in, [B, V] F32 out. */
    public Tensor process(Tensor logits) {
        checkLogits(logits);
        try (var g = Grad.off()) {
            Tensor l = logits.toFloat();
            if (temperature != 1.0 && temperature != 0) l = l.div(temperature);
            if (topK != null) l = topK(l, topK);
            if (topP != null && topP < 1.0) l = topP(l, topP);
            return l;
        }
    }

    /** The distribution tokens are drawn from: softmax of {@link #process}; one-hot on the argmax when greedy. */
    public Tensor probabilities(Tensor logits) {
        if (isGreedy()) {
            checkLogits(logits);
            try (var g = Grad.off()) {
                Tensor am = logits.argmax(-1, true);
                return Tensor.zeros(logits.shape(), DType.F32, logits.device()).scatterAdd(1, am,
                        Tensor.ones(am.shape(), DType.F32, logits.device()));
            }
        }
        try (var g = Grad.off()) {
            return process(logits).softmax(-1);
        }
    }

    /** One token per row: I64 [B, 1]. */
    public Tensor sample(Tensor logits) {
        checkLogits(logits);
        try (var g = Grad.off()) {
            if (isGreedy()) return logits.argmax(-1, true).to(DType.I64);
            return process(logits).softmax(-1).multinomial(1, false, generator);
        }
    }

    private static void checkLogits(Tensor logits) {
        if (logits.dim() != 2) throw new IllegalArgumentException("Sampler: expected logits [B, V], got " + Arrays.toString(logits.shape()));
        if (!logits.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("Sampler: logits must be floating point, got " + logits.dtype().torchName());
        }
    }

    // ------------------------------------------------------------------ filters

    /**
     * PyTorch's top-k filter: {@code v, _ = torch.topk(logits, min(k, V)); logits[logits < v[:, [-1]]] = -inf}.
     * Values tied with the k-th largest survive.
     */
    public static Tensor topK(Tensor logits, int k) {
        if (k <= 0) throw new IllegalArgumentException("top_k must be a positive integer, got " + k);
        int kk = Math.min(k, logits.size(-1));
        try (var g = Grad.off()) {
            Tensor v = logits.topk(kk, -1, true)[0];
            Tensor kth = v.narrow(-1, kk - 1, 1);
            return logits.maskedFill(logits.lt(kth), Double.NEGATIVE_INFINITY);
        }
    }

    /**
     * Hugging Face's TopPLogitsWarper on [B, V] logits: sort ascending, cumulative softmax
     * probabilities, remove the tokens whose cumulative probability is <= 1 - p, always keep the
     * most probable one. That keeps the smallest set of most probable tokens whose probabilities
     * add up to at least p. Probabilities are summed in double.
     */
    public static Tensor topP(Tensor logits, double p) {
        if (!(p > 0 && p <= 1)) throw new IllegalArgumentException("top_p must be in (0, 1], got " + p);
        if (logits.dim() != 2) throw new IllegalArgumentException("topP: expected logits [B, V], got " + Arrays.toString(logits.shape()));
        int rows = logits.size(0), v = logits.size(1);
        float[] a = logits.toFloatArray();
        long[] keys = new long[v];
        double[] e = new double[v];
        double cut = 1 - p;
        for (int r = 0; r < rows; r++) {
            int off = r * v;
            for (int j = 0; j < v; j++) keys[j] = ((long) sortableBits(a[off + j]) << 32) | j;
            Arrays.sort(keys);
            float max = a[off + (int) keys[v - 1]];
            if (max == Float.NEGATIVE_INFINITY) continue;
            double sum = 0;
            for (int s = 0; s < v; s++) {
                e[s] = Math.exp((double) a[off + (int) keys[s]] - max);
                sum += e[s];
            }
            double cum = 0;
            for (int s = 0; s < v - 1; s++) {
                cum += e[s] / sum;
                if (cum <= cut) a[off + (int) keys[s]] = Float.NEGATIVE_INFINITY;
                else break; // cumulative only grows
            }
        }
        return Tensor.of(a, rows, v).to(logits.device());
    }

    /** An int whose signed order is the float's numeric order. */
    private static int sortableBits(float f) {
        int b = Float.floatToIntBits(f);
        return b ^ ((b >> 31) & 0x7fffffff);
    }
}
