package jllm.models;

import jllm.tensor.Tensor;

/**
 * A {@link LanguageModel} that can decode incrementally with a {@link KVCache}: a forward over new
 * tokens continues at the cache's length (positions length, length + 1, ...) and appends their
 * keys and values. Inference only (runs without autograd).
 */
public interface CachedLanguageModel extends LanguageModel {
    /** An empty cache for batchSize rows holding up to {@link #blockSize()} positions. */
    KVCache newCache(int batchSize);

    /**
     * An empty cache for batchSize rows holding at least capacity positions (at most
     * {@link #blockSize()}); a long-context model overrides this so that a short generation does
     * not preallocate its whole block size. The default is {@link #newCache(int)}.
     */
    default KVCache newCache(int batchSize, int capacity) { return newCache(batchSize); }

    /**
     * idx I64 [B, T] continuing the cached sequence (length + T <= blockSize()); returns logits
     * [B, T, V], or [B, 1, V] for the last position only when lastPositionOnly.
     */
    Tensor forward(Tensor idx, KVCache cache, boolean lastPositionOnly);
}
