package jllm.models;

import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * The cache side of {@link CausalLM#forwardRagged}: sequence i's new tokens are rows
 * [offset_i, offset_i + count_i) of one stacked row, continuing its own {@link KVCache} (batch 1)
 * at that cache's length.
 */
final class RaggedStep implements StepCache {
    private final KVCache[] caches;
    private final int[] counts;
    private final int total;

    RaggedStep(KVCache[] caches, int[] counts) {
        this.caches = caches;
        this.counts = counts;
        int n = 0;
        for (int c : counts) n += c;
        total = n;
    }

    @Override
    public int start() { return -1; }

    @Override
    public Tensor positions(int t, Device device) {
        check(t);
        long[] pos = new long[t];
        int r = 0;
        for (int i = 0; i < caches.length; i++) {
            for (int j = 0; j < counts[i]; j++) pos[r++] = caches[i].length() + j;
        }
        return Tensor.of(pos, t).to(device);
    }

    @Override
    public Tensor attend(int layer, Tensor q, Tensor k, Tensor v, Attention attention) {
        check(q.size(2));
        List<Tensor> out = new ArrayList<>(caches.length);
        int off = 0;
        for (int i = 0; i < caches.length; i++) {
            int c = counts[i];
            Tensor[] kv = caches[i].update(layer, k.narrow(2, off, c), v.narrow(2, off, c));
            out.add(attention.apply(q.narrow(2, off, c), kv[0], kv[1], caches[i].length()));
            off += c;
        }
        return out.size() == 1 ? out.getFirst() : Tensor.cat(out, 2);
    }

    private void check(int t) {
        if (t != total) throw new IllegalArgumentException("RaggedStep: " + t + " rows, but the sequences have " + total + " new tokens");
    }

    /** Index of each sequence's last new row in the stacked row, I64 [S]. */
    Tensor lastRows(Device device) {
        long[] idx = new long[caches.length];
        int off = 0;
        for (int i = 0; i < caches.length; i++) {
            off += counts[i];
            idx[i] = off - 1;
        }
        return Tensor.of(idx, idx.length).to(DType.I64).to(device);
    }
}
