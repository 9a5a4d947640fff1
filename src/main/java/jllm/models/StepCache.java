package jllm.models;

import jllm.tensor.Device;
import jllm.tensor.Tensor;

/**
 * What a cached forward's layers ask of their cache: where the new rows sit and attention of the
 * new queries over everything cached. A {@link KVCache} is the plain case (every row of the batch
 * at the same positions); the spine's ragged step ({@link CausalLM#forwardRagged}) is the other:
 * the new tokens of several sequences stacked as one row, each sequence at its own positions with
 * its own cache, so that every token-wise layer runs once over all of them and only attention runs
 * per sequence.
 */
public interface StepCache {

    /** Attention of queries [B, H, Tq, D] at positions [past, past + Tq) over keys and values [B, Hkv, past + Tq, D]. */
    @FunctionalInterface
    interface Attention {
        Tensor apply(Tensor q, Tensor k, Tensor v, int past);
    }

    /** The position of the first new row when all rows continue from one position (KVCache: its length); -1 for a ragged step. */
    int start();

    /** The positions of the t new rows, I64 [t] (for a ragged step, each sequence's run in turn). */
    Tensor positions(int t, Device device);

    /**
     * Stores this layer's new keys and values k, v [B, Hkv, T, D] and returns attention's output
     * [B, H, T, D] for the new queries q, computed by attention over what is cached (a ragged step
     * calls it once per sequence, on that sequence's rows).
     */
    Tensor attend(int layer, Tensor q, Tensor k, Tensor v, Attention attention);
}
