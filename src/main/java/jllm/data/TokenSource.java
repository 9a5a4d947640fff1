package jllm.data;

import java.util.Objects;

/**
 * A read-only sequence of token ids, in memory or memory-mapped, so the loaders work the same
 * on a small {@code int[]} and on a corpus larger than the heap.
 */
public interface TokenSource {

    /** Number of tokens. */
    long length();

    /** Token {@code i}. */
    long get(long i);

    /**
     * Copies tokens {@code [start, start+n)} into {@code dst[off, off+n)}.
     *
     * @throws IndexOutOfBoundsException if either range is out of bounds
     */
    void read(long start, int n, long[] dst, int off);

    /** A source over {@code tokens} (not copied: do not modify the array while it is in use). */
    static TokenSource of(int[] tokens) {
        Objects.requireNonNull(tokens, "tokens");
        return new TokenSource() {
            @Override
            public long length() {
                return tokens.length;
            }

            @Override
            public long get(long i) {
                Objects.checkIndex(i, tokens.length);
                return tokens[(int) i];
            }

            @Override
            public void read(long start, int n, long[] dst, int off) {
                checkRead(start, n, tokens.length, dst, off);
                for (int k = 0; k < n; k++) dst[off + k] = tokens[(int) start + k];
            }

            @Override
            public String toString() {
                return "TokenSource(int[" + tokens.length + "])";
            }
        };
    }

    /** Bounds check shared by implementations of {@link #read}. */
    static void checkRead(long start, int n, long length, long[] dst, int off) {
        if (n < 0 || start < 0 || start > length - n) {
            throw new IndexOutOfBoundsException("token range [" + start + ", " + (start + n)
                    + ") out of bounds for " + length + " tokens");
        }
        Objects.checkFromIndexSize(off, n, dst.length);
    }
}
