package jllm.models;

import jllm.autograd.Grad;
import jllm.nn.functional.F;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;

import java.util.Arrays;

/**
 * Per-layer key/value cache for incremental decoding: K and V of each layer preallocated as
 * [B, H, capacity, D] and filled in place. A forward over new tokens writes their keys and values
 * at [length, length + T) of each layer ({@link #update}) and attends over the narrowed views
 * [0, length + T) ({@link #attention}), which is the same computation as the uncached forward
 * over the whole prefix, restricted to the new query rows.
 *
 * <p>It lives next to {@link LanguageModel} (not in {@code jllm.generate}) because models fill it
 * and the layering lets only higher packages (generate) depend on models, never the reverse.
 */
public final class KVCache implements StepCache {
    private final Tensor[] keys;
    private final Tensor[] values;
    private int length;
    private final int batch, heads, headDim;
    private int capacity;

    public KVCache(int numLayers, int batchSize, int numHeads, int capacity, int headDim, DType dtype, Device device) {
        if (numLayers < 0 || batchSize <= 0 || numHeads <= 0 || capacity <= 0 || headDim <= 0) {
            throw new IllegalArgumentException("KVCache: bad geometry layers=" + numLayers + ", batch=" + batchSize + ", heads=" + numHeads
                    + ", capacity=" + capacity + ", headDim=" + headDim);
        }
        this.batch = batchSize;
        this.heads = numHeads;
        this.capacity = capacity;
        this.headDim = headDim;
        keys = new Tensor[numLayers];
        values = new Tensor[numLayers];
        int[] shape = {batchSize, numHeads, capacity, headDim};
        for (int l = 0; l < numLayers; l++) {
            keys[l] = Tensor.zeros(shape, dtype, device);
            values[l] = Tensor.zeros(shape, dtype, device);
        }
    }

    public KVCache(int numLayers, int batchSize, int numHeads, int capacity, int headDim) {
        this(numLayers, batchSize, numHeads, capacity, headDim, DType.F32, Device.CPU);
    }

    public int numLayers() { return keys.length; }

    public int batchSize() { return batch; }

    public int numHeads() { return heads; }

    public int headDim() { return headDim; }

    /** The most positions the cache holds (the model's block size). */
    public int capacity() { return capacity; }

    /** Positions cached so far. */
    public int length() { return length; }

    /** Positions still free. */
    public int remaining() { return capacity - length(); }

    /**
     * Grows the buffers to hold at least capacity positions (copying what is cached), so that a
     * sequence served by continuous batching holds memory for the positions it reached, not for the
     * model's whole context; growth at least doubles, up to maxCapacity, so that a sequence growing a
     * token at a time copies its cache only O(log n) times.
     */
    public void reserve(int capacity, int maxCapacity) {
        if (capacity > maxCapacity) {
            throw new IllegalArgumentException("KVCache: cannot reserve " + capacity + " positions, at most " + maxCapacity);
        }
        if (capacity <= this.capacity) return;
        int grown = Math.min(maxCapacity, Math.max(capacity, 2 * this.capacity));
        try (var g = Grad.off()) {
            for (int l = 0; l < keys.length; l++) {
                keys[l] = grow(keys[l], grown);
                values[l] = grow(values[l], grown);
            }
        }
        this.capacity = grown;
    }

    private Tensor grow(Tensor t, int cap) {
        Tensor n = Tensor.zeros(new int[] {batch, heads, cap, headDim}, t.dtype(), t.device());
        if (length > 0) n.narrow(2, 0, length).copy_(t.narrow(2, 0, length));
        return n;
    }

    @Override
    public int start() { return length; }

    @Override
    public Tensor positions(int t, Device device) { return Tensor.arange(length, length + t, 1, device); }

    @Override
    public Tensor attend(int layer, Tensor q, Tensor k, Tensor v, Attention attention) {
        Tensor[] kv = update(layer, k, v);
        return attention.apply(q, kv[0], kv[1], length);
    }

    /** Forgets everything (the buffers are reused, not cleared). */
    public void reset() { length = 0; }

    /**
     * Marks t more positions as cached; a model calls this once after every layer has
     * {@link #update}d with the same t new positions.
     */
    public void advance(int t) {
        if (t < 0 || length + t > capacity) {
            throw new IllegalStateException("KVCache: cannot advance by " + t + " from " + length + " (capacity " + capacity + ")");
        }
        length += t;
    }

    /**
     * Writes k, v [B, H, T, D] of one layer at positions [length, length + T) and returns views
     * {K, V} of [B, H, length + T, D] over everything cached for that layer, the new positions
     * included. The length itself moves on with {@link #advance}. Runs without autograd.
     */
    public Tensor[] update(int layer, Tensor k, Tensor v) {
        if (layer < 0 || layer >= keys.length) {
            throw new IndexOutOfBoundsException("KVCache: layer " + layer + " out of range for " + keys.length + " layers");
        }
        int[] expect = {batch, heads, k.size(-2), headDim};
        if (k.dim() != 4 || !Arrays.equals(k.shape(), expect) || !Arrays.equals(v.shape(), expect)) {
            throw new IllegalArgumentException("KVCache.update: expected k and v of shape [" + batch + ", " + heads + ", T, " + headDim
                    + "], got " + Arrays.toString(k.shape()) + " and " + Arrays.toString(v.shape()));
        }
        int t = k.size(2), p = length;
        if (p + t > capacity) {
            throw new IllegalStateException("KVCache: cannot append " + t + " positions to layer " + layer + " holding " + p
                    + " of " + capacity + "; crop the context and reset the cache");
        }
        try (var g = Grad.off()) {
            keys[layer].narrow(2, p, t).copy_(k);
            values[layer].narrow(2, p, t).copy_(v);
        }
        return new Tensor[] {keys[layer].narrow(2, 0, p + t), values[layer].narrow(2, 0, p + t)};
    }

    /**
     * Causal attention of new queries q [B, H, Tq, D] at positions [past, past + Tq) over keys and
     * values [B, Hkv, past + Tq, D]: query i sees keys j <= past + i. F's is_causal is top-left
     * aligned, so it is used only when past == 0; a single query needs no mask; otherwise an
     * explicit boolean mask tril(ones(Tq, past + Tq), past) is built.
     */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, int past, boolean enableGqa) {
        return attention(q, k, v, past, enableGqa, 0);
    }

    /**
     * As {@link #attention(Tensor, Tensor, Tensor, int, boolean)} with a sliding window (0: none):
     * query i also sees no key more than window - 1 positions behind it (transformers'
     * sliding_window_overlay: kv > q - window), the attention of Mistral and of Qwen's and
     * Gemma 2's sliding layers.
     */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, int past, boolean enableGqa, int window) {
        return attention(q, k, v, past, enableGqa, window, null);
    }

    /** As above with the attention's scale (null: 1/sqrt(head_dim)). */
    public static Tensor attention(Tensor q, Tensor k, Tensor v, int past, boolean enableGqa, int window, Double scale) {
        int tq = q.size(-2), tk = k.size(-2);
        if (tk != past + tq) {
            throw new IllegalArgumentException("KVCache.attention: " + tq + " queries at position " + past + " need " + (past + tq)
                    + " keys, got " + tk);
        }
        if (window > 0 && tk > window) return F.scaledDotProductAttention(q, k, v, allowed(tq, tk, past, window, q.device()), 0.0, false, scale, enableGqa);
        if (past == 0) return F.scaledDotProductAttention(q, k, v, null, 0.0, true, scale, enableGqa);
        if (tq == 1) return F.scaledDotProductAttention(q, k, v, null, 0.0, false, scale, enableGqa);
        return F.scaledDotProductAttention(q, k, v, allowed(tq, tk, past, 0, q.device()), 0.0, false, scale, enableGqa);
    }

    /**
     * Which keys each query may see, BOOL [tq, tk]: row i sits at position past + i and sees keys
     * j <= past + i, and with a window (> 0) only j > past + i - window.
     */
    public static Tensor allowed(int tq, int tk, int past, int window, Device device) {
        Tensor ones = Tensor.ones(new int[] {tq, tk}, DType.BOOL, device);
        Tensor causal = ones.tril(past);
        return window > 0 ? causal.logicalAnd(ones.triu(past - window + 1)) : causal;
    }
}
