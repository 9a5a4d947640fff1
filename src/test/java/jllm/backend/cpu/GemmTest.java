package jllm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class GemmTest {

    @AfterEach
    void restoreThreads() {
        Parallel.setThreads(0);
    }

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    /** Naive double-accumulating reference, same storage conventions as Gemm.sgemm. */
    private static void reference(boolean ta, boolean tb, int M, int N, int K, float alpha,
                                  float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                                  float beta, float[] C, int cOff, int ldc) {
        for (int i = 0; i < M; i++) {
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int p = 0; p < K; p++) {
                    double a = ta ? A[aOff + p * lda + i] : A[aOff + i * lda + p];
                    double b = tb ? B[bOff + j * ldb + p] : B[bOff + p * ldb + j];
                    s += a * b;
                }
                int c = cOff + i * ldc + j;
                C[c] = (float) (alpha * s + (beta == 0f ? 0.0 : (double) beta * C[c]));
            }
        }
    }

    private static void check(boolean ta, boolean tb, int M, int N, int K, float alpha, float beta,
                              int pad, int off, boolean nanC) {
        int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
        int rowsA = ta ? K : M, rowsB = tb ? N : K;
        float[] A = random(off + rowsA * lda + 1, 1 + M), B = random(off + rowsB * ldb + 1, 2 + N);
        float[] C = random(off + M * ldc + 1, 3 + K);
        if (nanC) {
            for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) C[off + i * ldc + j] = Float.NaN;
        }
        float[] R = C.clone();
        reference(ta, tb, M, N, K, alpha, A, off, lda, B, off, ldb, beta, R, off, ldc);
        Gemm.sgemm(ta, tb, M, N, K, alpha, A, off, lda, B, off, ldb, beta, C, off, ldc);
        compare(R, C, K, String.format("ta=%b tb=%b M=%d N=%d K=%d alpha=%s beta=%s pad=%d off=%d",
                ta, tb, M, N, K, alpha, beta, pad, off));
    }

    private static void compare(float[] expected, float[] actual, int K, String what) {
        double tol = 1e-5 * Math.max(1, Math.sqrt(K)) * 4;
        for (int i = 0; i < expected.length; i++) {
            float e = expected[i], a = actual[i];
            if (Float.isNaN(a) != Float.isNaN(e) || Math.abs(e - a) > tol * Math.max(1, Math.abs(e))) {
                fail(what + ": element " + i + " expected " + e + " got " + a);
            }
        }
    }

    private static final int[] SIZES = {1, 2, 3, 7, 17, 33, 65, 129};

    @Test
    void allTransposesOddSizes() {
        boolean[] tf = {false, true};
        for (boolean ta : tf) for (boolean tb : tf) {
            for (int m : SIZES) for (int n : SIZES) for (int k : new int[]{1, 3, 17, 65}) {
                check(ta, tb, m, n, k, 1f, 0f, 0, 0, false);
            }
        }
    }

    @Test
    void largerThanCacheBlocks() {
        // crosses KC, MC and NR edges and the parallel split
        boolean[] tf = {false, true};
        for (boolean ta : tf) for (boolean tb : tf) {
            check(ta, tb, 200, 300, 600, 1f, 0f, 0, 0, false);
            check(ta, tb, 97, 1030, 257, 0.5f, 1f, 3, 5, false);
        }
        check(false, false, 1, 3072, 768, 1f, 0f, 0, 0, false);
        check(false, true, 2, 300, 900, 1f, 2f, 1, 1, false);
    }

    @Test
    void alphaBetaVariantsOffsetsAndPadding() {
        float[][] ab = {{1f, 0f}, {1f, 1f}, {2.5f, -0.5f}, {-1f, 1f}, {0f, 0.5f}, {0f, 0f}};
        boolean[] tf = {false, true};
        for (float[] x : ab) for (boolean ta : tf) for (boolean tb : tf) {
            check(ta, tb, 13, 35, 19, x[0], x[1], 3, 7, false);
            check(ta, tb, 70, 40, 50, x[0], x[1], 5, 2, false);
            check(ta, tb, 3, 5, 2, x[0], x[1], 1, 1, false);
        }
    }

    @Test
    void betaZeroIgnoresNaN() {
        boolean[] tf = {false, true};
        for (boolean ta : tf) for (boolean tb : tf) {
            for (int[] s : new int[][]{{1, 1, 1}, {5, 7, 3}, {64, 64, 64}, {37, 100, 300}}) {
                check(ta, tb, s[0], s[1], s[2], 1f, 0f, 2, 3, true);
            }
        }
        // K = 0 and alpha = 0 with beta = 0 write zeros over NaN
        float[] C = {Float.NaN, Float.NaN, Float.NaN, Float.NaN};
        Gemm.sgemm(false, false, 2, 2, 0, 1f, new float[0], 0, 1, new float[0], 0, 2, 0f, C, 0, 2);
        for (float c : C) assertEquals(0f, c);
        float[] D = {Float.NaN, Float.NaN, Float.NaN, Float.NaN};
        Gemm.sgemm(false, false, 2, 2, 2, 0f, new float[4], 0, 2, new float[4], 0, 2, 0f, D, 0, 2);
        for (float d : D) assertEquals(0f, d);
    }

    @Test
    void kZeroScalesByBeta() {
        float[] C = {1, 2, 3, 4, 5, 6};
        Gemm.sgemm(true, true, 2, 3, 0, 1f, new float[0], 0, 2, new float[0], 0, 1, 2f, C, 0, 3);
        assertEquals(2f, C[0]);
        assertEquals(12f, C[5]);
        // empty M or N is a no-op
        Gemm.sgemm(false, false, 0, 3, 4, 1f, new float[0], 0, 4, new float[12], 0, 3, 0f, C, 0, 3);
        Gemm.sgemm(false, false, 2, 0, 4, 1f, new float[8], 0, 4, new float[0], 0, 1, 0f, C, 0, 1);
        assertEquals(2f, C[0]);
    }

    @Test
    void threadCountsGiveSameResult() {
        int M = 150, N = 170, K = 90;
        float[] A = random(M * K, 1), B = random(K * N, 2);
        float[] C1 = new float[M * N], C2 = new float[M * N];
        Parallel.setThreads(1);
        Gemm.sgemm(false, false, M, N, K, 1f, A, 0, K, B, 0, N, 0f, C1, 0, N);
        Parallel.setThreads(3);
        Gemm.sgemm(false, false, M, N, K, 1f, A, 0, K, B, 0, N, 0f, C2, 0, N);
        compare(C1, C2, K, "threads 1 vs 3");
    }

    @Test
    void transposedAInPlaceAndRaggedEdges() {
        // op(A) = A^T with alpha 1 is read in place (ragged last row strip packed); alpha != 1
        // packs. M: full strips only, 1..7 tail rows, across MC; N: 1 column past a strip
        // (half-width kernel), 16 (exactly half), 17 (full kernel with edge), full strips.
        int[] ms = {8, 9, 15, 65, 71, 130};
        int[] ns = {1, 16, 17, 32, 65, 80, 81, 128};
        boolean[] tf = {false, true};
        for (int m : ms) for (int n : ns) for (boolean tb : tf) {
            check(true, tb, m, n, 37, 1f, 0f, 0, 0, false);
            check(false, tb, m, n, 37, 1f, 0f, 0, 0, false);
        }
        float[][] ab = {{1f, 0f}, {1f, 1f}, {1f, -0.5f}, {2f, 0f}, {-0.5f, 1.5f}};
        for (float[] x : ab) for (boolean tb : tf) {
            check(true, tb, 65, 128, 700, x[0], x[1], 3, 5, false);
            check(true, tb, 71, 65, 1100, x[0], x[1], 0, 1, false);
            check(false, tb, 130, 65, 129, x[0], x[1], 2, 0, false);
            check(true, tb, 65, 81, 65, x[0], x[1], 1, 2, true);
        }
        // a ragged strip past the NC column block reaches back into the previous one
        for (boolean ta : tf) for (boolean tb : tf) check(ta, tb, 9, Gemm.NC + 5, 20, 1f, 0.5f, 1, 1, false);
    }

    @Test
    void splitCutsTheDimensionThatSavesPacking() {
        int mB = 96, nB = 4; // 768 x 128: tall and narrow, cut M
        assertEquals(2 << 16 | 1, Gemm.split(2, mB, nB, false));
        assertEquals(1 << 16 | 2, Gemm.split(2, 8, 96, false)); // 64 x 3072: cut N
        assertEquals(1 << 16 | 2, Gemm.split(2, 128, 32, false)); // square: tie, cut N
        assertEquals(1 << 16 | 2, Gemm.split(2, 9, 4, true)); // 65 x 128 dW: N halves evenly
        assertEquals(2 << 16 | 1, Gemm.split(2, 96, 3, false)); // N = 65: 3 strips do not halve
        assertEquals(2 << 16 | 1, Gemm.split(2, 2, 1, false)); // only M can be cut
        assertEquals(1 << 16 | 1, Gemm.split(2, 1, 1, false)); // nothing to cut
        assertEquals(4 << 16 | 1, Gemm.split(4, 96, 4, false));
        assertEquals(2 << 16 | 2, Gemm.split(4, 6, 6, false));
        assertEquals(3 << 16 | 1, Gemm.split(3, 96, 4, false));
    }

    @Test
    void trainingShapesSameBitsOnAnyThreadCount() {
        // the CPU preset's products: each element takes the same path whatever the split
        int[][] shapes = {{512, 128, 768}, {128, 512, 768}, {65, 128, 768}, {768, 65, 128}, {768, 128, 65}, {128, 128, 768},
                {8, 40, 600}, // 2 threads get 32 columns and a zero-padded 8
                {64, 97, 300}, {128, 33, 200}}; // a last column or two as dot products (A x B^T) however the columns are split
        boolean[] tf = {false, true};
        for (int[] sh : shapes) for (boolean ta : tf) for (boolean tb : tf) {
            int M = sh[0], N = sh[1], K = sh[2];
            float[] A = random(M * K, 1), B = random(K * N, 2);
            float[] C1 = random(M * N, 3), C2 = C1.clone(), R = C1.clone();
            int lda = ta ? M : K, ldb = tb ? K : N;
            reference(ta, tb, M, N, K, 1f, A, 0, lda, B, 0, ldb, 0.5f, R, 0, N);
            Parallel.setThreads(1);
            Gemm.sgemm(ta, tb, M, N, K, 1f, A, 0, lda, B, 0, ldb, 0.5f, C1, 0, N);
            Parallel.setThreads(2);
            Gemm.sgemm(ta, tb, M, N, K, 1f, A, 0, lda, B, 0, ldb, 0.5f, C2, 0, N);
            String what = "ta=" + ta + " tb=" + tb + " " + M + "x" + N + "x" + K;
            compare(R, C1, K, what);
            for (int i = 0; i < C1.length; i++) {
                if (Float.floatToRawIntBits(C1[i]) != Float.floatToRawIntBits(C2[i])) fail(what + ": 1 vs 2 threads differ at " + i);
            }
        }
    }

    @Test
    void aNarrowLastStripGivesTheSameBitsAsAWholeOne() {
        // beta 0 with one K block writes C straight from the micro-kernels, and a last strip of at
        // most VL new columns runs the half-width kernel (A x B^T with at most DOT_TAIL: dot products
        // either way); beta 1 on zeros goes through the whole strip and the scratch tile. Each
        // element must be the same chain of FMAs either way.
        int[][] shapes = {{768, 65, 128}, {40, 33, 70}, {17, 47, 9}, {64, 80, 200}, {9, 48, 31}, {24, 34, 50}};
        boolean[] tf = {false, true};
        Parallel.setThreads(1);
        for (int[] sh : shapes) for (boolean ta : tf) for (boolean tb : tf) {
            int M = sh[0], N = sh[1], K = sh[2];
            float[] A = random(M * K, 1), B = random(K * N, 2);
            float[] half = random(M * N, 3), whole = new float[M * N], R = new float[M * N];
            int lda = ta ? M : K, ldb = tb ? K : N;
            reference(ta, tb, M, N, K, 1f, A, 0, lda, B, 0, ldb, 0f, R, 0, N);
            Gemm.sgemm(ta, tb, M, N, K, 1f, A, 0, lda, B, 0, ldb, 0f, half, 0, N);
            Gemm.sgemm(ta, tb, M, N, K, 1f, A, 0, lda, B, 0, ldb, 1f, whole, 0, N);
            String what = "ta=" + ta + " tb=" + tb + " " + M + "x" + N + "x" + K;
            compare(R, half, K, what);
            for (int i = 0; i < half.length; i++) {
                if (Float.floatToRawIntBits(half[i]) != Float.floatToRawIntBits(whole[i] + 0f)) fail(what + ": differ at " + i);
            }
        }
    }

    private static void checkBatched(boolean ta, boolean tb, int batch, int M, int N, int K,
                                     boolean broadcastA, boolean broadcastB, float beta) {
        int lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 2, ldc = N + 3;
        int sa = broadcastA ? 0 : (ta ? K : M) * lda + 4, sb = broadcastB ? 0 : (tb ? N : K) * ldb + 5;
        int sc = M * ldc + 6, off = 3;
        float[] A = random(off + (ta ? K : M) * lda + sa * batch, 7);
        float[] B = random(off + (tb ? N : K) * ldb + sb * batch, 8);
        float[] C = random(off + sc * batch, 9);
        float[] R = C.clone();
        for (int b = 0; b < batch; b++) {
            reference(ta, tb, M, N, K, 0.75f, A, off + b * sa, lda, B, off + b * sb, ldb, beta, R, off + b * sc, ldc);
        }
        Gemm.sgemmBatched(ta, tb, batch, M, N, K, 0.75f, A, off, lda, sa, B, off, ldb, sb, beta, C, off, ldc, sc);
        compare(R, C, K, String.format("batched ta=%b tb=%b batch=%d M=%d N=%d K=%d bA=%b bB=%b",
                ta, tb, batch, M, N, K, broadcastA, broadcastB));
    }

    @Test
    void batchedWithBroadcast() {
        boolean[] tf = {false, true};
        for (boolean ta : tf) for (boolean tb : tf) {
            checkBatched(ta, tb, 12, 64, 32, 64, false, false, 0f);
            checkBatched(ta, tb, 5, 17, 33, 9, true, false, 1f);
            checkBatched(ta, tb, 3, 65, 70, 40, false, true, 0.5f);
            checkBatched(ta, tb, 1, 100, 120, 80, false, false, 0f);
            checkBatched(ta, tb, 7, 1, 40, 33, true, true, 0f);
        }
    }

    @Test
    void badArguments() {
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(false, false, -1, 1, 1, 1f, new float[1], 0, 1, new float[1], 0, 1, 0f, new float[1], 0, 1));
        assertThrows(IllegalArgumentException.class,
                () -> Gemm.sgemm(false, false, 2, 2, 2, 1f, new float[4], 0, 1, new float[4], 0, 2, 0f, new float[4], 0, 2));
    }

    // ---- Parallel ----

    @Test
    void parallelCoversRangeOnce() {
        Parallel.setThreads(4);
        for (int n : new int[]{1, 2, 3, 5, 100, 1001}) {
            for (int grain : new int[]{1, 7, 1000}) {
                AtomicInteger[] hits = new AtomicInteger[n];
                for (int i = 0; i < n; i++) hits[i] = new AtomicInteger();
                Parallel.forRange(n, grain, (s, e) -> {
                    for (int i = s; i < e; i++) hits[i].incrementAndGet();
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits[i].get(), "n=" + n + " grain=" + grain + " i=" + i);
                for (int i = 0; i < n; i++) hits[i].set(0);
                Parallel.forDynamic(n, grain, (s, e) -> {
                    for (int i = s; i < e; i++) hits[i].incrementAndGet();
                });
                for (int i = 0; i < n; i++) assertEquals(1, hits[i].get(), "dynamic n=" + n + " grain=" + grain);
            }
        }
    }

    @Test
    void parallelPropagatesExceptions() {
        Parallel.setThreads(2);
        IllegalStateException boom = new IllegalStateException("boom");
        for (int rep = 0; rep < 20; rep++) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> Parallel.forRange(2, 1, (s, t) -> {
                        if (s == 1) throw boom;
                    }));
            assertSame(boom, e);
        }
        AssertionError err = assertThrows(AssertionError.class,
                () -> Parallel.forRange(4, 1, (s, t) -> { throw new AssertionError("x"); }));
        assertEquals("x", err.getMessage());
        // the pool still works afterwards
        AtomicLong sum = new AtomicLong();
        Parallel.forRange(1000, 1, (s, e) -> {
            for (int i = s; i < e; i++) sum.addAndGet(i);
        });
        assertEquals(999L * 1000 / 2, sum.get());
    }

    @Test
    void nestedCallsRunInline() {
        Parallel.setThreads(2);
        AtomicInteger outerChunks = new AtomicInteger(), innerInline = new AtomicInteger(), innerCalls = new AtomicInteger();
        Parallel.forRange(2, 1, (s, e) -> {
            outerChunks.incrementAndGet();
            Thread me = Thread.currentThread();
            Parallel.forRange(100, 1, (s2, e2) -> {
                innerCalls.incrementAndGet();
                if (Thread.currentThread() == me && s2 == 0 && e2 == 100) innerInline.incrementAndGet();
            });
        });
        assertEquals(2, outerChunks.get());
        assertEquals(2, innerCalls.get());
        assertEquals(2, innerInline.get());
    }

    @Test
    void concurrentCallersAreSafe() throws Exception {
        Parallel.setThreads(2);
        Thread[] ts = new Thread[3];
        AtomicInteger bad = new AtomicInteger();
        for (int t = 0; t < ts.length; t++) {
            ts[t] = new Thread(() -> {
                for (int rep = 0; rep < 200; rep++) {
                    AtomicLong sum = new AtomicLong();
                    Parallel.forRange(64, 1, (s, e) -> {
                        for (int i = s; i < e; i++) sum.addAndGet(i);
                    });
                    if (sum.get() != 63L * 64 / 2) bad.incrementAndGet();
                }
            });
            ts[t].start();
        }
        for (Thread t : ts) t.join();
        assertEquals(0, bad.get());
        assertTrue(Parallel.threads() >= 1);
    }
}
