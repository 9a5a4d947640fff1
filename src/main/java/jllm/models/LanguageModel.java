package jllm.models;

import jllm.tensor.Tensor;

/**
 * A causal language model as the trainer and the sampler see it: token ids in, next-token logits
 * (and, given targets, the mean cross-entropy loss) out. Implementations are {@link jllm.nn.Module}s.
 */
public interface LanguageModel {
    /** Logits and loss of one forward pass; loss is null when no targets were given. */
    record Output(Tensor logits, Tensor loss) {}

    /**
     * idx: I64 [B, T] with T <= blockSize(); targets: I64 [B, T] or null (positions equal to the
     * model's ignore index do not count). Returns logits [B, T, V] (a model may return only the
     * last position, [B, 1, V], when targets is null; see {@link #lastPositionOnlyInInference()}).
     */
    Output forward(Tensor idx, Tensor targets);

    /** The longest sequence the model accepts. */
    int blockSize();

    int vocabSize();

    /** True when forward without targets returns logits for the last position only (seed 001). */
    default boolean lastPositionOnlyInInference() { return false; }
}
