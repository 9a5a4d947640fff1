package jllm.tensor;

import java.util.Arrays;

/**
 * The seedable pseudo-random generator of jllm (the counterpart of {@code torch.Generator}).
 *
 * <p>Algorithm: xoshiro256++ (Blackman and Vigna), 256 bits of state, period 2^256-1, seeded
 * from a 64-bit seed through SplitMix64 so that nearby seeds give unrelated streams. Normal
 * variates use the Marsaglia polar method; its second value is cached and the cache is part of
 * the state, so {@link #getState()} / {@link #setState(long[])} resume a run with exactly the
 * same numbers whatever was drawn before.
 *
 * <p><b>Not thread-safe.</b> Use one instance per purpose (initialisation, dropout, data
 * shuffling, sampling) and per thread; callers that share an instance, including
 * {@link #defaultGenerator()}, must synchronise on it themselves. Use {@link #copy()} to fork an
 * independent generator with identical state.
 */
public final class Generator {

    /** PyTorch's default CPU seed, so an unseeded run reports the same {@code initialSeed}. */
    public static final long DEFAULT_SEED = 67280421310721L;

    private static final Generator DEFAULT = new Generator(DEFAULT_SEED);

    // Identifies the layout of getState(); bump when the layout changes.
    private static final long STATE_TAG = 0x6A6C6C6D_524E4701L; // "jllmRNG" + version 1
    private static final int STATE_LENGTH = 8;

    private long s0, s1, s2, s3;
    private long initialSeed;
    private boolean haveNextGaussian;
    private double nextGaussian;

    /** A generator seeded with {@link #DEFAULT_SEED}. */
    public Generator() {
        this(DEFAULT_SEED);
    }

    public Generator(long seed) {
        seed(seed);
    }

    private Generator(Generator other) {
        s0 = other.s0;
        s1 = other.s1;
        s2 = other.s2;
        s3 = other.s3;
        initialSeed = other.initialSeed;
        haveNextGaussian = other.haveNextGaussian;
        nextGaussian = other.nextGaussian;
    }

    /** The process-wide default generator, used by ops that are not given one. */
    public static Generator defaultGenerator() {
        return DEFAULT;
    }

    /** Seeds the default generator, like {@code torch.manual_seed(n)}. */
    public static void manualSeed(long seed) {
        DEFAULT.seed(seed);
    }

    /** Re-seeds this generator; also drops any cached normal value. */
    public Generator seed(long seed) {
        initialSeed = seed;
        long x = seed;
        x += 0x9E3779B97F4A7C15L;
        s0 = mix(x);
        x += 0x9E3779B97F4A7C15L;
        s1 = mix(x);
        x += 0x9E3779B97F4A7C15L;
        s2 = mix(x);
        x += 0x9E3779B97F4A7C15L;
        s3 = mix(x);
        // SplitMix64 is a bijection of distinct inputs, so four outputs cannot all be zero;
        // the guard keeps the all-zero fixed point of xoshiro impossible regardless.
        if ((s0 | s1 | s2 | s3) == 0) s0 = 1;
        haveNextGaussian = false;
        nextGaussian = 0;
        return this;
    }

    /** The seed last given to {@link #seed(long)} (or the constructor). */
    public long initialSeed() {
        return initialSeed;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** 64 uniformly random bits. */
    public long nextLong() {
        long result = Long.rotateLeft(s0 + s3, 23) + s0;
        long t = s1 << 17;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = Long.rotateLeft(s3, 45);
        return result;
    }

    /**
     * Uniform integer in [0, bound), exactly unbiased (Lemire's multiply-and-reject on 32 bits).
     *
     * @throws IllegalArgumentException if {@code bound <= 0}
     */
    public int nextInt(int bound) {
        if (bound <= 0) throw new IllegalArgumentException("bound must be positive, got " + bound);
        long m = (nextLong() >>> 32) * bound;
        long low = m & 0xFFFFFFFFL;
        if (low < bound) {
            long threshold = (0x1_0000_0000L - bound) % bound; // 2^32 mod bound
            while (low < threshold) {
                m = (nextLong() >>> 32) * bound;
                low = m & 0xFFFFFFFFL;
            }
        }
        return (int) (m >>> 32);
    }

    /** Uniform float in [0, 1) with 24 random bits. */
    public float nextFloat() {
        return (nextLong() >>> 40) * 0x1.0p-24f;
    }

    /** Uniform double in [0, 1) with 53 random bits. */
    public double nextDouble() {
        return (nextLong() >>> 11) * 0x1.0p-53;
    }

    /** Standard normal variate (Marsaglia polar method; every second call is served from a cache). */
    public double nextGaussian() {
        if (haveNextGaussian) {
            haveNextGaussian = false;
            return nextGaussian;
        }
        double u, v, s;
        do {
            u = 2 * nextDouble() - 1;
            v = 2 * nextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double f = Math.sqrt(-2 * Math.log(s) / s);
        nextGaussian = v * f;
        haveNextGaussian = true;
        return u * f;
    }

    /** Fills {@code a[off, off+n)} with U[lo, hi). */
    public void fillUniform(float[] a, int off, int n, float lo, float hi) {
        checkRange(a, off, n);
        if (!(lo <= hi) || !Float.isFinite(hi - lo)) {
            throw new IllegalArgumentException("uniform expects finite lo <= hi, got lo=" + lo + ", hi=" + hi);
        }
        float span = hi - lo;
        // Rounding of lo + span*u can land on hi; the clamp keeps the interval half-open.
        float top = lo < hi ? Math.nextDown(hi) : hi;
        for (int i = off, end = off + n; i < end; i++) {
            float r = lo + span * nextFloat();
            a[i] = r > top ? top : r;
        }
    }

    /** Fills {@code a[off, off+n)} with N(mean, std^2); draws through {@link #nextGaussian()}. */
    public void fillNormal(float[] a, int off, int n, float mean, float std) {
        checkRange(a, off, n);
        if (!(std >= 0) || !Float.isFinite(std) || !Float.isFinite(mean)) {
            throw new IllegalArgumentException("normal expects finite mean and std >= 0, got mean=" + mean + ", std=" + std);
        }
        for (int i = off, end = off + n; i < end; i++) {
            a[i] = (float) (mean + std * nextGaussian());
        }
    }

    private static void checkRange(float[] a, int off, int n) {
        if (off < 0 || n < 0 || off > a.length - n) {
            throw new IndexOutOfBoundsException(
                    "range [" + off + ", " + ((long) off + n) + ") out of bounds for array of length " + a.length);
        }
    }

    /**
     * The complete state: layout tag, initial seed, the four xoshiro words, the cached-normal
     * flag and the cached normal's bits. Feeding it to {@link #setState(long[])} (on this or
     * another generator) continues the exact same stream.
     */
    public long[] getState() {
        return new long[] {
            STATE_TAG, initialSeed, s0, s1, s2, s3, haveNextGaussian ? 1 : 0, Double.doubleToRawLongBits(nextGaussian)
        };
    }

    /**
     * Restores a state produced by {@link #getState()}.
     *
     * @throws IllegalArgumentException if the array is not such a state
     */
    public void setState(long[] state) {
        if (state == null || state.length != STATE_LENGTH || state[0] != STATE_TAG) {
            throw new IllegalArgumentException("not a jllm Generator state (expected " + STATE_LENGTH
                    + " longs starting with tag 0x" + Long.toHexString(STATE_TAG) + "), got "
                    + (state == null ? "null" : Arrays.toString(state)));
        }
        if ((state[2] | state[3] | state[4] | state[5]) == 0) {
            throw new IllegalArgumentException("invalid Generator state: xoshiro words are all zero");
        }
        if (state[6] != 0 && state[6] != 1) {
            throw new IllegalArgumentException("invalid Generator state: cached-normal flag is " + state[6]);
        }
        initialSeed = state[1];
        s0 = state[2];
        s1 = state[3];
        s2 = state[4];
        s3 = state[5];
        haveNextGaussian = state[6] == 1;
        nextGaussian = Double.longBitsToDouble(state[7]);
    }

    /** An independent generator with identical state (it produces the same numbers from here on). */
    public Generator copy() {
        return new Generator(this);
    }

    @Override
    public String toString() {
        return "Generator(initialSeed=" + initialSeed + ")";
    }
}
