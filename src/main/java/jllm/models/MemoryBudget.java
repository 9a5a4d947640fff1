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
        long max = Runtime.getRuntime().maxMemory();
        double bytes = parameters * 4.0;
        if (parameters < 0 || bytes > max) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "%s: the model has %,d parameters (%.2f GB as float32) but this JVM may use at most %.2f GB of heap; "
                            + "give it more with JLLM_JAVA_OPTS=-Xmx<size> or check the config's sizes",
                    source, parameters, bytes / 1e9, max / 1e9));
        }
    }
}
