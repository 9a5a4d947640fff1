package jllm.data;

import java.util.Arrays;

/**
 * The first {@code fraction} of the data for training, the rest for validation, as in the seeds
 * and nanoGPT: {@code n = int(0.9 * len(data))}, train = {@code data[:n]}, val = {@code data[n:]}.
 * Contiguous rather than shuffled, so validation text is unseen text, not interleaved lines.
 */
public record TrainValSplit(int[] train, int[] val) {

    public static final double DEFAULT_TRAIN_FRACTION = 0.9;

    /** 90/10. */
    public static TrainValSplit of(int[] data) {
        return of(data, DEFAULT_TRAIN_FRACTION);
    }

    public static TrainValSplit of(int[] data, double trainFraction) {
        int n = splitIndex(data.length, trainFraction);
        return new TrainValSplit(Arrays.copyOfRange(data, 0, n), Arrays.copyOfRange(data, n, data.length));
    }

    /**
     * {@code int(trainFraction * length)}, as Python computes it.
     *
     * @throws IllegalArgumentException unless {@code 0 <= trainFraction <= 1}
     */
    public static int splitIndex(int length, double trainFraction) {
        if (!(trainFraction >= 0 && trainFraction <= 1)) {
            throw new IllegalArgumentException("train fraction must be in [0, 1], got " + trainFraction);
        }
        return (int) (trainFraction * length);
    }

    /** A text split the same way, counting characters as Python does (code points). */
    public record Text(String train, String val) {}

    public static Text splitText(String text, double trainFraction) {
        int n = splitIndex(text.codePointCount(0, text.length()), trainFraction);
        int at = text.offsetByCodePoints(0, n);
        return new Text(text.substring(0, at), text.substring(at));
    }
}
