package jllm.models;

import java.util.Locale;

/**
 * Sizes from a config file are checked against the heap before anything is allocated: a config
 * that asks for more parameters than the JVM may hold (a typo, a hostile file, a model too large for
 * this machine) is one clear error with both numbers, not minutes of allocation and an
 * OutOfMemoryError.
 */
public final class MemoryBudget {
    private MemoryBudget() {}

    /**
     * @param parameters how many float32 parameters the config describes
     * @param source the config file (or section), for the message
     * @throws IllegalArgumentException when they cannot fit in the JVM's maximum heap
     */
    public static void requireFits(long parameters, Object source) {
        requireFits(parameters, null, source);
    }

    /**
     * As {@link #requireFits(long, Object)} for a model whose weight matrices load in type (null:
     * float32): every parameter is counted at that type's size, a lower bound of what the model
     * takes (norms and biases stay float32), so that a BF16 or quantized load that the launcher sized
     * to fit is not refused for its float32 size.
     */
    public static void requireFits(long parameters, jllm.tensor.DType type, Object source) {
        long max = Runtime.getRuntime().maxMemory();
        jllm.tensor.DType t = type == null ? jllm.tensor.DType.F32 : type;
        double perParameter = t.isQuantized() ? (double) t.bytes(t.blockSize()) / t.blockSize() : t.itemSize();
        double bytes = parameters * perParameter;
        if (parameters < 0 || bytes > max) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s: the model has %,d parameters (%.2f GB as %s) but this JVM may use at most %.2f GB of heap; "
                            + "give it more with JLLM_JAVA_OPTS=-Xmx<size> or check the config's sizes",
                    source, parameters, bytes / 1e9, t.torchName(), max / 1e9));
        }
    }
}
