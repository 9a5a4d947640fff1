package jllm.models;

import jllm.autograd.Grad;
import jllm.nn.Module;
import jllm.nn.functional.F;
import jllm.tensor.DType;
import jllm.tensor.Tensor;

import java.util.Arrays;

/**
 * The spine every causal language model shares: token ids in, the model's own trunk
 * ({@link #hiddenStates}), the lm_head ({@link #logits}) and, given targets, the mean
 * cross-entropy. The checks on idx and targets, KV-cache creation and its geometry check live
 * here once; a model says only what differs: its trunk and its cache geometry. Models with a
 * Hugging Face format extend {@link PretrainedCausalLM}.
 */
public abstract class CausalLM extends Module implements CachedLanguageModel {

    /**
     * The sizes the spine needs: the longest sequence, the vocabulary, and what a KV cache holds
     * per position (layers x kv heads x head dim).
     */
    public record Geometry(int blockSize, int vocabSize, int layers, int kvHeads, int headDim) {}

    /**
     * Hidden states [B, T, C] for idx [B, T] (already checked) at positions past .. past + T - 1,
     * past = the cache's length (0 without a cache). A cached forward writes each layer's new keys
     * and values with {@link KVCache#update}; the spine advances the cache afterwards.
     */
    protected abstract Tensor hiddenStates(Tensor idx, KVCache cache);

    /** config.json's model_type ("gpt2", "llama"), or jllm's name for a family without one; {@link ModelRegistry} knows each. */
    public abstract String modelType();

    /** This model's sizes. */
    protected abstract Geometry geometry();

    @Override
    public final int blockSize() { return geometry().blockSize(); }

    @Override
    public final int vocabSize() { return geometry().vocabSize(); }

    /** Logits [B, T, V] from hidden states: the lm_head (whatever module is registered under it). */
    protected Tensor logits(Tensor hidden) {
        return forwardChild("lm_head", hidden);
    }

    /** logits [B, T, V]; with targets [B, T] (positions equal to -100 ignored) the mean cross-entropy. */
    @Override
    public Output forward(Tensor idx, Tensor targets) {
        checkIdx(idx, 0);
        Tensor logits = logits(hiddenStates(idx, null));
        Tensor loss = null;
        if (targets != null) {
            if (!Arrays.equals(targets.shape(), idx.shape())) {
                throw new IllegalArgumentException(typeName() + ": targets " + Arrays.toString(targets.shape())
                        + " must have the shape of idx " + Arrays.toString(idx.shape()));
            }
            loss = F.crossEntropy(logits.view(-1, logits.size(-1)), targets.reshape(-1));
        }
        return new Output(logits, loss);
    }

    /** Inference forward without targets: logits [B, T, V]. */
    public Tensor forward(Tensor idx) {
        return forward(idx, (Tensor) null).logits();
    }

    @Override
    public KVCache newCache(int batchSize) {
        return newCache(batchSize, blockSize());
    }

    @Override
    public KVCache newCache(int batchSize, int capacity) {
        if (capacity <= 0 || capacity > blockSize()) {
            throw new IllegalArgumentException(typeName() + ": cache capacity must be in [1, " + blockSize() + "], got " + capacity);
        }
        Geometry s = geometry();
        // The cache holds activations: on the weights' device, in the dtype of the norms (weight-only
        // conversion to BF16 or Q8_0 leaves them, and the activations, in F32)
        Tensor w = parameters().get(0);
        DType dt = parameters().stream().filter(p -> p.dim() == 1).map(Tensor::dtype).findFirst().orElse(DType.F32);
        return new KVCache(s.layers(), batchSize, s.kvHeads(), capacity, s.headDim(), dt, w.device());
    }

    @Override
    public Tensor forward(Tensor idx, KVCache cache, boolean lastPositionOnly) {
        if (cache == null) throw new IllegalArgumentException(typeName() + ".forward: cache is null (use forward(idx, targets) without a cache)");
        Geometry s = geometry();
        if (cache.numLayers() != s.layers() || idx.dim() < 1 || cache.batchSize() != idx.size(0) || cache.numHeads() != s.kvHeads()
                || cache.headDim() != s.headDim()) {
            throw new IllegalArgumentException(typeName() + ".forward: cache geometry (layers " + cache.numLayers() + ", batch "
                    + cache.batchSize() + ", kv heads " + cache.numHeads() + ", head dim " + cache.headDim()
                    + ") does not fit this model and idx " + Arrays.toString(idx.shape()));
        }
        checkIdx(idx, cache.length());
        try (var g = Grad.off()) {
            Tensor x = hiddenStates(idx, cache);
            cache.advance(idx.size(1));
            if (lastPositionOnly) x = x.narrow(1, x.size(1) - 1, 1);
            return logits(x);
        }
    }

    /** idx must be integer [B, T] with past + T <= blockSize(). */
    protected void checkIdx(Tensor idx, int past) {
        if (idx.dim() != 2) throw new IllegalArgumentException(typeName() + ": idx must be [B, T], got " + Arrays.toString(idx.shape()));
        if (idx.dtype() != DType.I64 && idx.dtype() != DType.I32) {
            throw new IllegalArgumentException(typeName() + ": idx must hold integer token ids (int64), got " + idx.dtype().torchName());
        }
        int t = idx.size(1);
        if (past + t > blockSize()) {
            throw new IllegalArgumentException(past == 0
                    ? "Cannot forward sequence of length " + t + ", block size is only " + blockSize()
                    : "Cannot forward sequence of length " + (past + t) + " (" + past + " cached + " + t + " new), block size is only "
                    + blockSize());
        }
    }
}
