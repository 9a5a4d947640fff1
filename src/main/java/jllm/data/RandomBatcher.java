package jllm.data;

import java.util.Objects;

import jllm.tensor.Generator;
import jllm.tensor.Tensor;

/**
 * Random windows of a token stream, as in the seeds' and nanoGPT's {@code get_batch}: draw
 * {@code B} offsets {@code ix = randint(len - T, (B,))} and stack {@code x = data[i:i+T]},
 * {@code y = data[i+1:i+T+1]}. The offsets come from {@link Tensor#randint} with the caller's
 * generator, so a seeded run draws the same batches as a hand translation of the seed.
 */
public final class RandomBatcher {

    private final TokenSource data;
    private final int vocabSize;
    private final String name;

    public RandomBatcher(TokenSource data) {
        this(data, 0, "the data");
    }

    /**
     * Windows checked against the vocabulary: a token id outside [0, vocabSize) is an error naming
     * the data (a token file of another tokenizer would otherwise fail deep inside the embedding).
     * vocabSize 0 checks nothing.
     */
    public RandomBatcher(TokenSource data, int vocabSize, String name) {
        this.data = Objects.requireNonNull(data, "data");
        this.vocabSize = vocabSize;
        this.name = name;
    }

    public RandomBatcher(int[] data) {
        this(TokenSource.of(data));
    }

    /** {@link #sample(int, int, Generator)} with {@link Generator#defaultGenerator()}. */
    public Batch sample(int B, int T) {
        Generator g = Generator.defaultGenerator();
        synchronized (g) {
            return sample(B, T, g);
        }
    }

    /**
     * A batch of {@code B} random windows of length {@code T}; x and y are I64 [B, T].
     *
     * @throws IllegalArgumentException if B or T is not positive, or the data has no more than T tokens
     */
    public Batch sample(int B, int T, Generator g) {
        Objects.requireNonNull(g, "generator");
        if (B <= 0 || T <= 0) throw new IllegalArgumentException("sample needs B > 0 and T > 0, got B=" + B + ", T=" + T);
        long n = data.length();
        if (n <= T) {
            throw new IllegalArgumentException("cannot sample windows of T=" + T + " (+1 target) from " + n
                    + " tokens: need at least " + (T + 1));
        }
        if ((long) B * T > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("B*T = " + (long) B * T + " is too large");
        long[] ix = Tensor.randint(0, n - T, new int[] {B}, g).toLongArray();
        long[] x = new long[B * T];
        long[] y = new long[B * T];
        long[] row = new long[T + 1];
        for (int b = 0; b < B; b++) {
            data.read(ix[b], T + 1, row, 0);
            if (vocabSize > 0) {
                for (int k = 0; k <= T; k++) {
                    if (row[k] < 0 || row[k] >= vocabSize) {
                        throw new IllegalArgumentException(name + ": token id " + row[k] + " at position " + (ix[b] + k)
                                + " is outside the tokenizer's vocabulary of " + vocabSize);
                    }
                }
            }
            System.arraycopy(row, 0, x, b * T, T);
            System.arraycopy(row, 1, y, b * T, T);
        }
        return new Batch(Tensor.of(x, B, T), Tensor.of(y, B, T));
    }

    public TokenSource data() {
        return data;
    }
}
