package jllm.data;

import java.io.PrintStream;
import java.util.Objects;
import java.util.function.Consumer;

import jllm.tensor.Tensor;

/**
 * Sequential batches over a token stream, as in the seeds' {@code DataLoaderLite}: each
 * {@link #next()} takes the next {@code B*T+1} tokens, {@code x} = the first {@code B*T} as
 * [B, T], {@code y} = the same shifted by one; when the following batch would run past the end,
 * the position goes back to the start (the tail that does not fill a batch is skipped).
 *
 * <p>With {@code worldSize > 1} (data-parallel training) rank {@code r} starts at
 * {@code r*B*T} and every rank steps {@code worldSize*B*T}, so the ranks read disjoint chunks.
 *
 * <p>Not thread-safe: one loader per training loop. {@link #position()} /
 * {@link #setPosition(long)} save and restore the place in the stream for resuming.
 */
public final class DataLoaderLite {

    private final TokenSource tokens;
    private final int B, T, rank, worldSize;
    private final long start, stride, need;
    private final long[] buf;
    private long position;

    /** Over {@code tokens}, logging to {@code System.out}. */
    public DataLoaderLite(int[] tokens, int B, int T) {
        this(TokenSource.of(tokens), B, T, 0, 1, System.out::println);
    }

    public DataLoaderLite(int[] tokens, int B, int T, PrintStream out) {
        this(TokenSource.of(tokens), B, T, 0, 1, out::println);
    }

    public DataLoaderLite(TokenSource tokens, int B, int T, Consumer<String> log) {
        this(tokens, B, T, 0, 1, log);
    }

    /**
     * @param log receives "loaded N tokens" and "1 epoch = N batches" (pass {@code s -> {}} for silence)
     * @throws IllegalArgumentException if the sizes are not positive, the rank is outside
     *     {@code [0, worldSize)}, or there are fewer than {@code worldSize*B*T + 1} tokens
     */
    public DataLoaderLite(TokenSource tokens, int B, int T, int rank, int worldSize, Consumer<String> log) {
        this.tokens = Objects.requireNonNull(tokens, "tokens");
        Objects.requireNonNull(log, "log");
        if (B <= 0 || T <= 0) throw new IllegalArgumentException("DataLoaderLite needs B > 0 and T > 0, got B=" + B + ", T=" + T);
        if (worldSize <= 0 || rank < 0 || rank >= worldSize) {
            throw new IllegalArgumentException("DataLoaderLite needs 0 <= rank < worldSize, got rank=" + rank + ", worldSize=" + worldSize);
        }
        long bt = (long) B * T;
        if (bt + 1 > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("B*T = " + bt + " is too large for one batch");
        this.B = B;
        this.T = T;
        this.rank = rank;
        this.worldSize = worldSize;
        this.start = bt * rank;
        this.stride = bt * worldSize;
        this.need = bt + 1;
        long n = tokens.length();
        if (n < stride + 1) {
            throw new IllegalArgumentException("DataLoaderLite needs at least " + (stride + 1) + " tokens (worldSize*B*T + 1 with B="
                    + B + ", T=" + T + ", worldSize=" + worldSize + "), got " + n);
        }
        this.buf = new long[(int) need];
        this.position = start;
        log.accept("loaded " + n + " tokens");
        // The seed prints len // B * T, which Python parses as (len // B) * T; batches per epoch is len // (B*T).
        log.accept("1 epoch = " + n / stride + " batches");
    }

    /** The next batch; x and y are I64 [B, T]. */
    public Batch next() {
        tokens.read(position, (int) need, buf, 0);
        long[] x = new long[(int) (need - 1)];
        long[] y = new long[(int) (need - 1)];
        System.arraycopy(buf, 0, x, 0, x.length);
        System.arraycopy(buf, 1, y, 0, y.length);
        position += stride;
        if (position + stride + 1 > tokens.length()) position = start;
        return new Batch(Tensor.of(x, B, T), Tensor.of(y, B, T));
    }

    /** Back to the start of this rank's stream. */
    public void reset() {
        position = start;
    }

    /** Token index where the next batch starts. */
    public long position() {
        return position;
    }

    /**
     * Resumes at a position from {@link #position()}.
     *
     * @throws IllegalArgumentException if a batch cannot start there
     */
    public void setPosition(long p) {
        if (p < 0 || p + need > tokens.length()) {
            throw new IllegalArgumentException("DataLoaderLite position " + p + " is outside [0, "
                    + (tokens.length() - need) + "] for " + tokens.length() + " tokens and B*T=" + (need - 1));
        }
        position = p;
    }

    /** Number of whole batches in one pass (per rank when data-parallel). */
    public long batchesPerEpoch() {
        return tokens.length() / stride;
    }

    public int batchSize() {
        return B;
    }

    public int blockSize() {
        return T;
    }

    public int rank() {
        return rank;
    }

    public int worldSize() {
        return worldSize;
    }

    public TokenSource tokens() {
        return tokens;
    }
}
