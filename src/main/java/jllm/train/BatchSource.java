package jllm.train;

import jllm.data.Batch;

import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.util.Map;

/**
 * Where the trainer gets its batches, nanoGPT's {@code get_batch(split)}: an input batch and its
 * next-token targets for a split ("train" or "val"), drawn with the generator the trainer passes
 * (so the trainer owns, saves and restores the sampling state).
 *
 * <p>A source that keeps a position of its own (a sequential loader) reports it through
 * {@link #stateDict()} and takes it back in {@link #loadStateDict(Map)}; it is saved in
 * {@code trainer_state.json} so a resumed run continues from the same place. Values must be
 * JSON-friendly (numbers, strings, booleans, lists, maps).
 */
@FunctionalInterface
public interface BatchSource {
    String TRAIN = "train";
    String VAL = "val";

    Batch get(String split, Generator g);

    /** The position of a stateful source (empty for random sampling, whose state is the generator). */
    default Map<String, Object> stateDict() { return Map.of(); }

    /** Restores a position from {@link #stateDict()}. */
    default void loadStateDict(Map<String, Object> state) {
        if (!state.isEmpty()) {
            throw new IllegalArgumentException("this batch source keeps no state, but the checkpoint has data state " + state.keySet());
        }
    }
}
