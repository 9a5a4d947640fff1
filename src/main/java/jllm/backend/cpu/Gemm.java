package jllm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;
import java.util.Arrays;

/**
 * Row-major single-precision GEMM: {@code C = alpha * op(A) * op(B) + beta * C}.
 *
 * <p>GotoBLAS-style: op(B) is packed into KC x NC panels of NR-wide column strips, op(A)
 * into MC x KC blocks of MR-high row strips (alpha folded in; A^T with alpha 1 is not
 * packed, its strips are read in place), and a register-blocked MR x NR Vector API
 * micro-kernel multiplies one A strip by one B strip with all accumulators in registers.
 * Transposed operands are read straight from their strided storage while packing, so no
 * transpose is ever materialised. Packing buffers live in one
 * workspace per thread and are reused. Work is split over the shared {@link Parallel} pool:
 * over matrices of a batch first, then over a grid of row and column blocks of each matrix
 * chosen to repeat the least packing ({@link #split}). Every element of C is computed the
 * same way whatever the split, so results do not depend on the thread count.
 *
 * <p>As in BLAS, {@code beta == 0} means C is write-only (old contents, NaN included, are
 * ignored), and {@code K == 0} or {@code alpha == 0} only scales C by beta.
 */
public final class Gemm {

    private Gemm() {}

    /** The one species used anywhere in jllm's kernels (see packAT for why only one). */
    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int VL = S.length();
    /** Micro-kernel rows (broadcast A elements) and columns ({@code NV} vectors of B). */
    static final int MR = 8, NV = 2, NR = NV * VL;
    /**
     * Cache blocking: a KC x NR strip of packed B is reused by every MR-row strip of an MC x KC
     * block of A. Where L1d holds the strip with room to spare (48 KiB and up: KC = 256, a 32 KiB
     * strip) it is read from L1; on a 32 KiB L1d the strip cannot stay there and a longer one (KC =
     * 512) streamed from L2 did best. Sweeps at 1 thread: Zen 4 (32 KiB L1d, 1 MiB L2), where KC =
     * 512, MC = 64 won; Xeon model 207 (48 KiB L1d, 2 MiB L2), where KC = 256 reached 83-89% of the
     * FMA peak on 1024^3 against 75-79% with 512, and 75-84% against 69-76% on GPT-2's MLP
     * products. {@code -Djllm.gemm.kc=N} overrides it.
     */
    static final int KC = Integer.getInteger("jllm.gemm.kc", l1dBytes() >= 48 * 1024 ? 256 : 512), MC = 64, NC = 3072;
    /** Below this many flops (over the whole batch) a call runs on the calling thread. */
    static final double PAR_MIN_FLOPS = 2.0 * 48 * 48 * 48;
    /**
     * A x B^T (a linear layer's forward) with at most this many columns past its last whole strip
     * computes them as dot products: a column costs K/VL FMAs and a sum of lanes per row, where a
     * VL-wide strip costs K FMAs per row whatever few columns it adds. The main job's head (N = 65,
     * M = 768, K = 128, 1 thread, three interleaved runs each): 138-149 GFLOP/s (0.93-0.97x OpenBLAS)
     * against 100-120 with a whole strip for the last column (0.70-0.80x); a 16-wide strip
     * ({@link #kernelHalf}) gave 115-136.
     * The columns a split gives each thread end where the whole matrix's do, so every element is
     * computed the same way whatever the thread count.
     */
    static final int DOT_TAIL = 4;
    /** Below this M*N*K a matrix is multiplied directly, without packing. */
    static final long DIRECT_MAX_MNK = 16L * 16 * 16;

    /** L1 data cache size of CPU 0 from sysfs, or 32 KiB where it cannot be read. */
    private static int l1dBytes() {
        java.nio.file.Path dir = java.nio.file.Path.of("/sys/devices/system/cpu/cpu0/cache");
        for (int i = 0; i < 4; i++) {
            java.nio.file.Path d = dir.resolve("index" + i);
            try {
                if (!java.nio.file.Files.readString(d.resolve("level")).strip().equals("1")
                        || !java.nio.file.Files.readString(d.resolve("type")).strip().equals("Data")) continue;
                String size = java.nio.file.Files.readString(d.resolve("size")).strip();
                if (size.endsWith("K")) return Integer.parseInt(size.substring(0, size.length() - 1)) * 1024;
                return Integer.parseInt(size);
            } catch (java.io.IOException | NumberFormatException e) {
                break;
            }
        }
        return 32 * 1024;
    }

    private static final class Work {
        final float[] a = new float[MC * KC];
        final float[] t = new float[MR * NR];
        float[] b = new float[0];
        float[] row = new float[0];

        float[] b(int n) {
            if (b.length < n) b = new float[n];
            return b;
        }

        float[] row(int n) {
            if (row.length < n) row = new float[n];
            return row;
        }
    }

    private static final ThreadLocal<Work> WORK = ThreadLocal.withInitial(Work::new);

    /**
     * {@code C = alpha * op(A) * op(B) + beta * C}, all row-major: op(A) is M x K (A is M x K,
     * or K x M when {@code transA}), op(B) is K x N (B is K x N, or N x K when {@code transB}),
     * C is M x N. {@code lda, ldb, ldc} are row strides of the stored matrices.
     */
    public static void sgemm(boolean transA, boolean transB, int M, int N, int K, float alpha,
                             float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                             float beta, float[] C, int cOff, int ldc) {
        sgemmBatched(transA, transB, 1, M, N, K, alpha, A, aOff, lda, 0, B, bOff, ldb, 0,
                beta, C, cOff, ldc, 0);
    }

    /**
     * {@code batch} independent GEMMs; matrix {@code i} of each operand starts at
     * {@code off + i * stride}. A stride of 0 broadcasts that operand to the whole batch
     * ({@code strideC} must not be 0 when {@code batch > 1}).
     */
    public static void sgemmBatched(boolean transA, boolean transB, int batch, int M, int N, int K,
                                    float alpha, float[] A, int aOff, int lda, long strideA,
                                    float[] B, int bOff, int ldb, long strideB,
                                    float beta, float[] C, int cOff, int ldc, long strideC) {
        if (batch < 0 || M < 0 || N < 0 || K < 0)
            throw new IllegalArgumentException("negative size: batch=" + batch + " M=" + M + " N=" + N + " K=" + K);
        if (batch == 0 || M == 0 || N == 0) return;
        if (ldc < N) throw new IllegalArgumentException("ldc " + ldc + " < N " + N);
        if (batch > 1 && strideC == 0) throw new IllegalArgumentException("strideC == 0 with batch " + batch);
        if (K == 0 || alpha == 0f) {
            for (int b = 0; b < batch; b++) scale(M, N, beta, C, Math.toIntExact(cOff + b * strideC), ldc);
            return;
        }
        if ((transA ? lda < M : lda < K) || (transB ? ldb < K : ldb < N))
            throw new IllegalArgumentException("leading dimension too small: lda=" + lda + " ldb=" + ldb);

        int t = Parallel.threads();
        double flops = 2.0 * M * N * K * batch;
        if (t <= 1 || flops < PAR_MIN_FLOPS || Parallel.inWorker()) {
            for (int b = 0; b < batch; b++) {
                gemmSeq(transA, transB, M, N, K, alpha,
                        A, Math.toIntExact(aOff + b * strideA), lda,
                        B, Math.toIntExact(bOff + b * strideB), ldb,
                        beta, C, Math.toIntExact(cOff + b * strideC), ldc);
            }
            return;
        }
        // Parts per matrix: enough that the tasks divide evenly among the threads (or are many).
        int parts = 1;
        if (batch < 4 * t && batch % t != 0) parts = t / gcd(batch, t);
        if (flops / batch / parts < PAR_MIN_FLOPS) parts = 1;
        int nBlocks = (N + NR - 1) / NR, mBlocks = (M + MR - 1) / MR;
        int nParts = 1, mParts = 1;
        if (parts > 1) {
            int split = split(parts, mBlocks, nBlocks, readsAInPlace(transA, alpha, M, N));
            mParts = split >>> 16;
            nParts = split & 0xFFFF;
        }
        final int np = nParts, mp = mParts, per = np * mp;
        Parallel.forRange(batch * per, 1, (s, e) -> {
            for (int task = s; task < e; task++) {
                int b = task / per, r = task - b * per, mi = r / np, ni = r - mi * np;
                int m0 = Math.min(M, (int) ((long) mBlocks * mi / mp) * MR);
                int m1 = Math.min(M, (int) ((long) mBlocks * (mi + 1) / mp) * MR);
                int n0 = Math.min(N, (int) ((long) nBlocks * ni / np) * NR);
                int n1 = Math.min(N, (int) ((long) nBlocks * (ni + 1) / np) * NR);
                if (m1 <= m0 || n1 <= n0) continue;
                long ao = aOff + b * strideA + (transA ? m0 : (long) m0 * lda);
                long bo = bOff + b * strideB + (transB ? (long) n0 * ldb : n0);
                long co = cOff + b * strideC + (long) m0 * ldc + n0;
                gemmSeq(transA, transB, m1 - m0, n1 - n0, K, alpha, A, Math.toIntExact(ao), lda,
                        B, Math.toIntExact(bo), ldb, beta, C, Math.toIntExact(co), ldc);
            }
        });
    }

    /**
     * How to cut one matrix into {@code parts} tiles (mParts x nParts): the grid whose busiest
     * tile is cheapest, counting micro-kernel calls (16 cycles per k step) and the packing
     * every tile repeats (its rows of A, unless read in place, and its columns of B, at ~1 cycle
     * per element). Cutting N makes every tile pack all of A and cutting M all of B, so a
     * tall-and-narrow product (N = 128 with M = 768) is cut along M and a short-and-wide one
     * along N; ties go to N. Falls back to fewer parts when the blocks do not go round.
     * Returns {@code mParts << 16 | nParts}.
     */
    static int split(int parts, int mBlocks, int nBlocks, boolean inPlaceA) {
        for (int p = parts; p > 1; p--) {
            int bestM = 0, bestN = 0;
            long best = Long.MAX_VALUE;
            for (int np = p; np >= 1; np--) {
                if (p % np != 0) continue;
                int mp = p / np;
                if (mp > mBlocks || np > nBlocks) continue;
                long ms = (mBlocks + mp - 1) / mp, ns = (nBlocks + np - 1) / np;
                long cost = 16 * ms * ns + (inPlaceA ? 0 : ms * MR) + ns * NR; // per k step
                if (cost < best) {
                    best = cost;
                    bestM = mp;
                    bestN = np;
                }
            }
            if (bestM > 0) return bestM << 16 | bestN;
        }
        return 1 << 16 | 1;
    }

    private static int gcd(int a, int b) {
        while (b != 0) {
            int r = a % b;
            a = b;
            b = r;
        }
        return a;
    }

    /** C = beta * C (beta == 0 writes zeros). */
    private static void scale(int M, int N, float beta, float[] C, int cOff, int ldc) {
        if (beta == 1f) return;
        for (int i = 0; i < M; i++) {
            int c = cOff + i * ldc;
            if (beta == 0f) Arrays.fill(C, c, c + N, 0f);
            else for (int j = 0; j < N; j++) C[c + j] *= beta;
        }
    }

    /**
     * op(A) = A^T with alpha 1: the MR rows of a strip are already contiguous at every p
     * (A[p*lda + i .. i+MR)), so the micro-kernel can read them in place with stride lda instead
     * of packing them. That pays when N is narrow (each A strip is used only nc / NR times, so
     * packing would dominate). For a wide N the strided reads cost more than the packing: every
     * k step touches a new cache line lda floats away (with lda = 768-3072 these fall in a few L1
     * sets, and often on a new page), e.g. GPT-2's weight gradients dW = dY^T X with N = 768-3072 ran at
     * 0.71-0.75x of OpenBLAS in place and 0.90-0.98x packed (1 thread, Xeon model 207).
     */
    private static boolean readsAInPlace(boolean transA, float alpha, int M, int N) {
        return transA && alpha == 1f && M >= MR && N < 8 * NR;
    }

    /**
     * One GEMM on the calling thread (sizes > 0, alpha != 0).
     *
     * <p>Only whole MR x NR tiles ever reach the packers and the micro-kernel. A ragged last
     * column strip (N % NR columns) is replaced by the whole strip that ends at column N, and a
     * ragged last row strip by the whole strip that ends at row M. They overlap their
     * neighbours, which only costs what zero padding would: with beta 0 and a single K block
     * they are written straight to C (the overlap gets the very same values again), otherwise
     * into a scratch tile whose new rows and columns are then stored to C ({@link #edges}).
     * This keeps the packers and the hot loop free of edge branches, which matters under a
     * JIT: a branch first taken after compilation (an odd shape after a warm-up on round ones)
     * sends the whole method back to the interpreter, where packing loops crawl.
     * Only a matrix narrower than one strip (N < NR, or M < MR) is zero-padded. On the straight-to-C
     * path a shifted column strip that adds at most VL columns runs only its second vector
     * ({@link #kernelHalf}).
     */
    static void gemmSeq(boolean transA, boolean transB, int M, int N, int K, float alpha,
                        float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                        float beta, float[] C, int cOff, int ldc) {
        Work w = WORK.get();
        if ((long) M * N * K <= DIRECT_MAX_MNK || M < 3) {
            direct(transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc, w);
            return;
        }
        int tail = N % NR;
        if (!transA && transB && tail <= DOT_TAIL && tail > 0) {
            // A x B^T with a few columns past the last whole strip: those are row-by-row dot products
            // (A's rows and B^T's rows are both contiguous in K), not a strip of NR or VL columns
            if (N > tail) gemmSeq(false, true, M, N - tail, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
            for (int i = 0; i < M; i++) {
                for (int j = N - tail; j < N; j++) {
                    float v = alpha * dot(A, aOff + i * lda, B, bOff + j * ldb, K);
                    int c = cOff + i * ldc + j;
                    C[c] = beta == 0f ? v : v + beta * C[c];
                }
            }
            return;
        }
        boolean inPlaceA = readsAInPlace(transA, alpha, M, N);
        int kSteps = (K + KC - 1) / KC;
        int kcMax = (K + kSteps - 1) / kSteps;
        int ncMax = Math.min(NC, (N + NR - 1) / NR * NR);
        float[] bp = w.b(kcMax * ncMax), ap = w.a, t = w.t;
        for (int jc = 0; jc < N; jc += NC) {
            int nc = Math.min(NC, N - jc), nFull = nc / NR, nr = nc - nFull * NR;
            // the ragged column strip: shifted back to end at column jc + nc, or zero-padded
            int nShift = nr == 0 ? 0 : jc + nc >= NR ? NR - nr : -1;
            for (int pc = 0; pc < K; pc += kcMax) {
                int kc = Math.min(kcMax, K - pc), be = nFull * NR * kc;
                float bet = pc == 0 ? beta : 1f;
                if (transB) {
                    packBT(B, bOff + jc * ldb + pc, ldb, kc, nFull * NR, bp, 0);
                    if (nShift > 0) packBT(B, bOff + (jc + nc - NR) * ldb + pc, ldb, kc, NR, bp, be);
                } else {
                    packBN(B, bOff + pc * ldb + jc, ldb, kc, nFull * NR, bp, 0);
                    if (nShift > 0) packBN(B, bOff + pc * ldb + jc + nc - NR, ldb, kc, NR, bp, be);
                }
                if (nShift < 0) packBPadded(transB, B, bOff, ldb, pc, kc, jc + nFull * NR, nr, bp, be);
                for (int ic = 0; ic < M; ic += MC) {
                    int mc = Math.min(MC, M - ic), mFull = mc / MR, mr = mc - mFull * MR;
                    int mShift = mr == 0 ? 0 : ic + mc >= MR ? MR - mr : -1;
                    float[] a;
                    int ai, aStep, as, ae;
                    if (inPlaceA) {
                        a = A;
                        ai = aOff + pc * lda + ic;
                        aStep = 1;
                        as = lda;
                        ae = ai + mc - MR;
                    } else {
                        a = ap;
                        ai = 0;
                        aStep = kc;
                        as = MR;
                        ae = mFull * MR * kc;
                        if (transA) {
                            packAT(A, aOff + pc * lda + ic, lda, mFull * MR, kc, alpha, ap, 0);
                            if (mShift > 0) packAT(A, aOff + pc * lda + ic + mc - MR, lda, MR, kc, alpha, ap, ae);
                        } else {
                            packAN(A, aOff + ic * lda + pc, lda, mFull * MR, kc, alpha, ap, 0);
                            if (mShift > 0) packAN(A, aOff + (ic + mc - MR) * lda + pc, lda, MR, kc, alpha, ap, ae);
                        }
                        if (mShift < 0) packAPadded(transA, A, aOff, lda, pc, kc, ic + mFull * MR, mr, alpha, ap, ae);
                    }
                    int ci = cOff + ic * ldc + jc;
                    if (bet == 0f && kc == K && mShift >= 0 && nShift >= 0) {
                        // C is written once, so the shifted strips can go straight to C: where
                        // they overlap a whole tile they write the very same values (each
                        // element is the same FMA chain whichever strip computes it)
                        macro(mFull + (mr == 0 ? 0 : 1), nFull + (nr == 0 ? 0 : 1), mc, nc, kc,
                                a, ai, inPlaceA, as, bp, C, ci, ldc, bet, nr != 0 && nr <= VL);
                    } else {
                        macro(mFull, nFull, mc, nc, kc, a, ai, inPlaceA, as, bp, C, ci, ldc, bet, false);
                        if (mr != 0 || nr != 0) {
                            edges(mFull, nFull, mr, nr, Math.max(mShift, 0), Math.max(nShift, 0), kc,
                                    a, ai, aStep, as, ae, bp, C, ci, ldc, bet, t);
                        }
                    }
                }
            }
        }
    }

    /**
     * mStrips x nStrips tiles of an mc x nc block, each written straight to C. Tile (i, j)
     * covers rows {@code min(i*MR, mc-MR)} and columns {@code min(j*NR, nc-NR)}: whole strips,
     * and a last shifted one when there is one. A strip {@code i} is at {@code a[ai + i*MR*aStep]}
     * when packed, or at {@code a[ai + row]} in place, with consecutive p {@code as} apart;
     * B strip {@code j} at {@code bp[j*NR*kc]}.
     *
     * <p>{@code halfLast}: the last column strip adds at most VL new columns, so only its second
     * vector (the last VL columns) is computed, by {@link #kernelHalf} over two row strips at a
     * time. The main job's head (N = 65: two whole strips and one more column) computed 96 columns
     * for 65 with whole strips, 80 this way.
     */
    private static void macro(int mStrips, int nStrips, int mc, int nc, int kc, float[] a, int ai, boolean inPlace, int as,
                              float[] bp, float[] C, int ci, int ldc, float beta, boolean halfLast) {
        int stepRow = inPlace ? 1 : 0, stepStrip = inPlace ? 0 : MR * kc;
        int whole = halfLast ? nStrips - 1 : nStrips;
        for (int j = 0; j < whole; j++) {
            int cj = Math.min(j * NR, nc - NR);
            for (int i = 0; i < mStrips; i++) {
                int ri = Math.min(i * MR, mc - MR);
                kernel(kc, a, ai + ri * stepRow + i * stepStrip, as, bp, j * NR * kc, C, ci + ri * ldc + cj, ldc, beta);
            }
        }
        if (halfLast) {
            int bi = whole * NR * kc + VL, cj = nc - VL;
            for (int i = 0; i < mStrips; i += 2) {
                int i1 = Math.min(i + 1, mStrips - 1); // an odd last strip is paired with itself
                int r0 = Math.min(i * MR, mc - MR), r1 = Math.min(i1 * MR, mc - MR);
                kernelHalf(kc, a, ai + r0 * stepRow + i * stepStrip, ai + r1 * stepRow + i1 * stepStrip, as, bp, bi,
                        C, ci + r0 * ldc + cj, ci + r1 * ldc + cj, ldc);
            }
        }
    }

    /**
     * The ragged tiles of a block: the last column strip (nr columns, the strip at
     * {@code bp[nFull*NR*kc]} has them at {@code nShift..}) against the whole row strips, and
     * the last row strip (mr rows, A strip at {@code a[ae]}, rows at {@code mShift..}) against
     * every column strip.
     */
    private static void edges(int mFull, int nFull, int mr, int nr, int mShift, int nShift, int kc,
                              float[] a, int ai, int aStep, int as, int ae, float[] bp,
                              float[] C, int ci, int ldc, float beta, float[] t) {
        int be = nFull * NR * kc;
        if (nr != 0) {
            for (int i = 0; i < mFull; i++) {
                kernel(kc, a, ai + i * MR * aStep, as, bp, be, t, 0, NR, 0f);
                store(t, 0, MR, nShift, nr, C, ci + i * MR * ldc + nFull * NR, ldc, beta);
            }
        }
        if (mr != 0) {
            int c = ci + mFull * MR * ldc;
            for (int j = 0; j < nFull; j++) {
                kernel(kc, a, ae, as, bp, j * NR * kc, t, 0, NR, 0f);
                store(t, mShift, mr, 0, NR, C, c + j * NR, ldc, beta);
            }
            if (nr != 0) {
                kernel(kc, a, ae, as, bp, be, t, 0, NR, 0f);
                store(t, mShift, mr, nShift, nr, C, c + nFull * NR, ldc, beta);
            }
        }
    }

    /** C[r][j] (beta)= t[r0 + r][c0 + j] for r < mr, j < nr. */
    private static void store(float[] t, int r0, int mr, int c0, int nr, float[] C, int c, int ldc, float beta) {
        for (int r = 0; r < mr; r++) {
            int d = c + r * ldc, s = (r0 + r) * NR + c0;
            if (beta == 0f) System.arraycopy(t, s, C, d, nr);
            else if (beta == 1f) for (int j = 0; j < nr; j++) C[d + j] += t[s + j];
            else for (int j = 0; j < nr; j++) C[d + j] = beta * C[d + j] + t[s + j];
        }
    }

    /** Packs mc x kc of A (mc a multiple of MR; row-major, rows at {@code src + i*lda}) times alpha into MR-row strips at {@code ap[dst..]}. */
    private static void packAN(float[] A, int src, int lda, int mc, int kc, float alpha, float[] ap, int dst) {
        for (int ir = 0; ir < mc; ir += MR) {
            int base = dst + ir * kc, s0 = src + ir * lda;
            int p = 0;
            if (MR == 8 && VL == 16) {
                for (; p + 16 <= kc; p += 16) transpose8x16(A, s0 + p, lda, alpha, ap, base + p * MR);
            }
            for (; p < kc; p++) {
                int d = base + p * MR, s = s0 + p;
                for (int r = 0; r < MR; r++) ap[d + r] = alpha * A[s + r * lda];
            }
        }
    }

    /**
     * Packs op(A) = A^T (mc a multiple of MR): element (i, p) at {@code src + p*lda + i}. Only
     * for alpha != 1 (else A^T is read in place). Scalar on purpose: a 256-bit species here
     * would be a second species in the process, which pollutes the Vector API's shared type
     * profiles and made the other kernels up to 2.5x slower.
     */
    private static void packAT(float[] A, int src, int lda, int mc, int kc, float alpha, float[] ap, int dst) {
        for (int ir = 0; ir < mc; ir += MR) {
            int base = dst + ir * kc;
            for (int p = 0; p < kc; p++) {
                int s = src + p * lda + ir, d = base + p * MR;
                for (int r = 0; r < MR; r++) ap[d + r] = alpha * A[s + r];
            }
        }
    }

    /** Packs the mr < MR rows i0.. of op(A) (columns pc..pc+kc) times alpha, zero-padded, as one strip at {@code ap[dst..]}. */
    private static void packAPadded(boolean transA, float[] A, int aOff, int lda, int pc, int kc, int i0, int mr,
                                    float alpha, float[] ap, int dst) {
        Arrays.fill(ap, dst, dst + MR * kc, 0f);
        for (int r = 0; r < mr; r++) {
            for (int p = 0; p < kc; p++) {
                int s = transA ? aOff + (pc + p) * lda + i0 + r : aOff + (i0 + r) * lda + pc + p;
                ap[dst + p * MR + r] = alpha * A[s];
            }
        }
    }

    /** Packs kc x nc of B (nc a multiple of NR; row-major, rows at {@code src + p*ldb}) into NR-column strips at {@code bp[dst..]}. */
    private static void packBN(float[] B, int src, int ldb, int kc, int nc, float[] bp, int dst) {
        for (int jr = 0; jr < nc; jr += NR) {
            int base = dst + jr * kc;
            for (int p = 0; p < kc; p++) {
                int s = src + p * ldb + jr, d = base + p * NR;
                for (int v = 0; v < NR; v += VL) FloatVector.fromArray(S, B, s + v).intoArray(bp, d + v);
            }
        }
    }

    /**
     * Packs op(B) = B^T (nc a multiple of NR): element (p, j) at {@code src + j*ldb + p}; 16 x 16
     * register transposes. Sixteen rows of B^T are taken at a time along the whole kc, not all NR
     * rows of a strip in step: the strip's reads are then 16 streams through memory, not 32 (B^T is
     * a weight matrix fresh from memory in every forward). From a 154 MB B^T (GPT-2's wte), 1 thread,
     * two runs each: 9.3-16 GB/s against 4.5-5.1; the products at 1 thread, two runs each: GPT-2's
     * attn.qkv fwd 123-129 -> 161-174 GFLOP/s, mlp.fc fwd 122-133 -> 128-164, lm_head fwd 127-147 ->
     * 157-158 (Zen 5 VM).
     */
    private static void packBT(float[] B, int src, int ldb, int kc, int nc, float[] bp, int dst) {
        int k16 = VL == 16 ? kc - kc % 16 : 0;
        for (int jr = 0; jr < nc; jr += NR) {
            int base = dst + jr * kc, s0 = src + jr * ldb;
            for (int j = 0; j < NR && k16 > 0; j += 16) {
                for (int p = 0; p < k16; p += 16) transpose16(B, s0 + j * ldb + p, ldb, bp, base + p * NR + j);
            }
            for (int p = k16; p < kc; p++) {
                int d = base + p * NR, s = s0 + p;
                for (int j = 0; j < NR; j++) bp[d + j] = B[s + j * ldb];
            }
        }
    }

    /** Packs the nr < NR columns j0.. of op(B) (rows pc..pc+kc), zero-padded, as one strip at {@code bp[dst..]}. */
    private static void packBPadded(boolean transB, float[] B, int bOff, int ldb, int pc, int kc, int j0, int nr,
                                    float[] bp, int dst) {
        Arrays.fill(bp, dst, dst + NR * kc, 0f);
        for (int p = 0; p < kc; p++) {
            for (int j = 0; j < nr; j++) {
                int s = transB ? bOff + (j0 + j) * ldb + pc + p : bOff + (pc + p) * ldb + j0 + j;
                bp[dst + p * NR + j] = B[s];
            }
        }
    }

    /**
     * The dot product of a[ao..ao + k) with b[bo..bo + k) in a fixed order: four sums (one chain of
     * FMAs would wait on the FMA latency at every step), added as (a0 + a1) + (a2 + a3), then the
     * tail. A product with one or two rows of A runs on it, and so do decoding's F32 weight rows
     * ({@link WeightKernels}), so both give the same results.
     */
    static float dot(float[] a, int ao, float[] b, int bo, int k) {
        int kv = k - k % VL, k4 = k - k % (4 * VL);
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
        int p = 0;
        for (; p < k4; p += 4 * VL) {
            a0 = FloatVector.fromArray(S, a, ao + p).fma(FloatVector.fromArray(S, b, bo + p), a0);
            a1 = FloatVector.fromArray(S, a, ao + p + VL).fma(FloatVector.fromArray(S, b, bo + p + VL), a1);
            a2 = FloatVector.fromArray(S, a, ao + p + 2 * VL).fma(FloatVector.fromArray(S, b, bo + p + 2 * VL), a2);
            a3 = FloatVector.fromArray(S, a, ao + p + 3 * VL).fma(FloatVector.fromArray(S, b, bo + p + 3 * VL), a3);
        }
        for (; p < kv; p += VL) a0 = FloatVector.fromArray(S, a, ao + p).fma(FloatVector.fromArray(S, b, bo + p), a0);
        float sum = LaneSum.sum(a0.add(a1).add(a2.add(a3)));
        for (; p < k; p++) sum += a[ao + p] * b[bo + p];
        return sum;
    }

    /** Unpacked GEMM for tiny problems and for one or two rows (GEMV-like). */
    private static void direct(boolean transA, boolean transB, int M, int N, int K, float alpha,
                               float[] A, int aOff, int lda, float[] B, int bOff, int ldb,
                               float beta, float[] C, int cOff, int ldc, Work w) {
        float[] row = w.row(K);
        for (int i = 0; i < M; i++) {
            // row = alpha * op(A)[i, :]
            if (transA) for (int p = 0; p < K; p++) row[p] = alpha * A[aOff + p * lda + i];
            else {
                int s = aOff + i * lda;
                for (int p = 0; p < K; p++) row[p] = alpha * A[s + p];
            }
            int c = cOff + i * ldc;
            if (!transB) {
                if (beta == 0f) Arrays.fill(C, c, c + N, 0f);
                else if (beta != 1f) for (int j = 0; j < N; j++) C[c + j] *= beta;
                int nv = N - N % VL;
                for (int p = 0; p < K; p++) {
                    float a = row[p];
                    int s = bOff + p * ldb;
                    FloatVector av = FloatVector.broadcast(S, a);
                    int j = 0;
                    for (; j < nv; j += VL) {
                        av.fma(FloatVector.fromArray(S, B, s + j), FloatVector.fromArray(S, C, c + j)).intoArray(C, c + j);
                    }
                    for (; j < N; j++) C[c + j] += a * B[s + j];
                }
            } else {
                for (int j = 0; j < N; j++) {
                    float sum = dot(row, 0, B, bOff + j * ldb, K);
                    C[c + j] = beta == 0f ? sum : sum + beta * C[c + j];
                }
            }
        }
    }

    private static final FloatVector[] T_IDX = new FloatVector[8];

    static {
        if (VL == 16) {
            int k = 0;
            for (int h = 8; h >= 1; h >>= 1) {
                float[] lo = new float[16], hi = new float[16];
                for (int c = 0; c < 16; c++) {
                    lo[c] = (c & h) == 0 ? c : 16 + c - h;
                    hi[c] = (c & h) == 0 ? c + h : 16 + c;
                }
                T_IDX[k++] = FloatVector.fromArray(S, lo, 0);
                T_IDX[k++] = FloatVector.fromArray(S, hi, 0);
            }
        }
    }

    /**
     * Transposes the 16 x 16 block at {@code B[s + r*ldb + c]} into {@code bp[d + c*NR + r]}
     * in registers: 4 stages of off-diagonal block swaps, each row a two-vector select.
     * Generated straight-line code; VL == 16 only.
     */
    private static void transpose16(float[] B, int s, int ldb, float[] bp, int d) {
        FloatVector x0 = T_IDX[0];
        FloatVector x1 = T_IDX[1];
        FloatVector x2 = T_IDX[2];
        FloatVector x3 = T_IDX[3];
        FloatVector x4 = T_IDX[4];
        FloatVector x5 = T_IDX[5];
        FloatVector x6 = T_IDX[6];
        FloatVector x7 = T_IDX[7];
        FloatVector a0 = FloatVector.fromArray(S, B, s + 0 * ldb);
        FloatVector a1 = FloatVector.fromArray(S, B, s + 1 * ldb);
        FloatVector a2 = FloatVector.fromArray(S, B, s + 2 * ldb);
        FloatVector a3 = FloatVector.fromArray(S, B, s + 3 * ldb);
        FloatVector a4 = FloatVector.fromArray(S, B, s + 4 * ldb);
        FloatVector a5 = FloatVector.fromArray(S, B, s + 5 * ldb);
        FloatVector a6 = FloatVector.fromArray(S, B, s + 6 * ldb);
        FloatVector a7 = FloatVector.fromArray(S, B, s + 7 * ldb);
        FloatVector a8 = FloatVector.fromArray(S, B, s + 8 * ldb);
        FloatVector a9 = FloatVector.fromArray(S, B, s + 9 * ldb);
        FloatVector a10 = FloatVector.fromArray(S, B, s + 10 * ldb);
        FloatVector a11 = FloatVector.fromArray(S, B, s + 11 * ldb);
        FloatVector a12 = FloatVector.fromArray(S, B, s + 12 * ldb);
        FloatVector a13 = FloatVector.fromArray(S, B, s + 13 * ldb);
        FloatVector a14 = FloatVector.fromArray(S, B, s + 14 * ldb);
        FloatVector a15 = FloatVector.fromArray(S, B, s + 15 * ldb);
        FloatVector b0 = x0.selectFrom(a0, a8), b8 = x1.selectFrom(a0, a8);
        FloatVector b1 = x0.selectFrom(a1, a9), b9 = x1.selectFrom(a1, a9);
        FloatVector b2 = x0.selectFrom(a2, a10), b10 = x1.selectFrom(a2, a10);
        FloatVector b3 = x0.selectFrom(a3, a11), b11 = x1.selectFrom(a3, a11);
        FloatVector b4 = x0.selectFrom(a4, a12), b12 = x1.selectFrom(a4, a12);
        FloatVector b5 = x0.selectFrom(a5, a13), b13 = x1.selectFrom(a5, a13);
        FloatVector b6 = x0.selectFrom(a6, a14), b14 = x1.selectFrom(a6, a14);
        FloatVector b7 = x0.selectFrom(a7, a15), b15 = x1.selectFrom(a7, a15);
        FloatVector c0 = x2.selectFrom(b0, b4), c4 = x3.selectFrom(b0, b4);
        FloatVector c1 = x2.selectFrom(b1, b5), c5 = x3.selectFrom(b1, b5);
        FloatVector c2 = x2.selectFrom(b2, b6), c6 = x3.selectFrom(b2, b6);
        FloatVector c3 = x2.selectFrom(b3, b7), c7 = x3.selectFrom(b3, b7);
        FloatVector c8 = x2.selectFrom(b8, b12), c12 = x3.selectFrom(b8, b12);
        FloatVector c9 = x2.selectFrom(b9, b13), c13 = x3.selectFrom(b9, b13);
        FloatVector c10 = x2.selectFrom(b10, b14), c14 = x3.selectFrom(b10, b14);
        FloatVector c11 = x2.selectFrom(b11, b15), c15 = x3.selectFrom(b11, b15);
        FloatVector d0 = x4.selectFrom(c0, c2), d2 = x5.selectFrom(c0, c2);
        FloatVector d1 = x4.selectFrom(c1, c3), d3 = x5.selectFrom(c1, c3);
        FloatVector d4 = x4.selectFrom(c4, c6), d6 = x5.selectFrom(c4, c6);
        FloatVector d5 = x4.selectFrom(c5, c7), d7 = x5.selectFrom(c5, c7);
        FloatVector d8 = x4.selectFrom(c8, c10), d10 = x5.selectFrom(c8, c10);
        FloatVector d9 = x4.selectFrom(c9, c11), d11 = x5.selectFrom(c9, c11);
        FloatVector d12 = x4.selectFrom(c12, c14), d14 = x5.selectFrom(c12, c14);
        FloatVector d13 = x4.selectFrom(c13, c15), d15 = x5.selectFrom(c13, c15);
        FloatVector e0 = x6.selectFrom(d0, d1), e1 = x7.selectFrom(d0, d1);
        FloatVector e2 = x6.selectFrom(d2, d3), e3 = x7.selectFrom(d2, d3);
        FloatVector e4 = x6.selectFrom(d4, d5), e5 = x7.selectFrom(d4, d5);
        FloatVector e6 = x6.selectFrom(d6, d7), e7 = x7.selectFrom(d6, d7);
        FloatVector e8 = x6.selectFrom(d8, d9), e9 = x7.selectFrom(d8, d9);
        FloatVector e10 = x6.selectFrom(d10, d11), e11 = x7.selectFrom(d10, d11);
        FloatVector e12 = x6.selectFrom(d12, d13), e13 = x7.selectFrom(d12, d13);
        FloatVector e14 = x6.selectFrom(d14, d15), e15 = x7.selectFrom(d14, d15);
        e0.intoArray(bp, d + 0 * NR);
        e1.intoArray(bp, d + 1 * NR);
        e2.intoArray(bp, d + 2 * NR);
        e3.intoArray(bp, d + 3 * NR);
        e4.intoArray(bp, d + 4 * NR);
        e5.intoArray(bp, d + 5 * NR);
        e6.intoArray(bp, d + 6 * NR);
        e7.intoArray(bp, d + 7 * NR);
        e8.intoArray(bp, d + 8 * NR);
        e9.intoArray(bp, d + 9 * NR);
        e10.intoArray(bp, d + 10 * NR);
        e11.intoArray(bp, d + 11 * NR);
        e12.intoArray(bp, d + 12 * NR);
        e13.intoArray(bp, d + 13 * NR);
        e14.intoArray(bp, d + 14 * NR);
        e15.intoArray(bp, d + 15 * NR);
    }

    /** Select indexes for {@link #transpose8x16}: three stages of (lo, hi) pairs. */
    private static final FloatVector[] A_IDX = new FloatVector[6];

    static {
        if (VL == 16) {
            int k = 0;
            for (int hl = 8; hl >= 2; hl >>= 1) {
                float[] lo = new float[16], hi = new float[16];
                for (int L = 0; L < 16; L++) {
                    // the last stage also moves lane bit 0 to the top: lane (r, c0) -> (c0, r)
                    int l = hl == 2 ? ((L & 7) << 1) | (L >> 3) : L;
                    lo[L] = (l & hl) == 0 ? l : 16 + l - hl;
                    hi[L] = (l & hl) == 0 ? l + hl : 16 + l;
                }
                A_IDX[k++] = FloatVector.fromArray(S, lo, 0);
                A_IDX[k++] = FloatVector.fromArray(S, hi, 0);
            }
        }
    }

    /**
     * Packs 8 rows x 16 columns of A (at {@code A[s + r*lda + c]}, times alpha) into the
     * MR = 8 strip layout {@code ap[d + c*8 + r]}: three stages of two-vector selects, each
     * exchanging one row bit with one column bit. Generated straight-line code; VL == 16 only.
     */
    private static void transpose8x16(float[] A, int s, int lda, float alpha, float[] ap, int d) {
        FloatVector x0 = A_IDX[0];
        FloatVector x1 = A_IDX[1];
        FloatVector x2 = A_IDX[2];
        FloatVector x3 = A_IDX[3];
        FloatVector x4 = A_IDX[4];
        FloatVector x5 = A_IDX[5];
        FloatVector a0 = FloatVector.fromArray(S, A, s + 0 * lda);
        FloatVector a1 = FloatVector.fromArray(S, A, s + 1 * lda);
        FloatVector a2 = FloatVector.fromArray(S, A, s + 2 * lda);
        FloatVector a3 = FloatVector.fromArray(S, A, s + 3 * lda);
        FloatVector a4 = FloatVector.fromArray(S, A, s + 4 * lda);
        FloatVector a5 = FloatVector.fromArray(S, A, s + 5 * lda);
        FloatVector a6 = FloatVector.fromArray(S, A, s + 6 * lda);
        FloatVector a7 = FloatVector.fromArray(S, A, s + 7 * lda);
        if (alpha != 1f) {
            a0 = a0.mul(alpha);
            a1 = a1.mul(alpha);
            a2 = a2.mul(alpha);
            a3 = a3.mul(alpha);
            a4 = a4.mul(alpha);
            a5 = a5.mul(alpha);
            a6 = a6.mul(alpha);
            a7 = a7.mul(alpha);
        }
        FloatVector b0 = x0.selectFrom(a0, a4), b4 = x1.selectFrom(a0, a4);
        FloatVector b1 = x0.selectFrom(a1, a5), b5 = x1.selectFrom(a1, a5);
        FloatVector b2 = x0.selectFrom(a2, a6), b6 = x1.selectFrom(a2, a6);
        FloatVector b3 = x0.selectFrom(a3, a7), b7 = x1.selectFrom(a3, a7);
        FloatVector c0 = x2.selectFrom(b0, b2), c2 = x3.selectFrom(b0, b2);
        FloatVector c1 = x2.selectFrom(b1, b3), c3 = x3.selectFrom(b1, b3);
        FloatVector c4 = x2.selectFrom(b4, b6), c6 = x3.selectFrom(b4, b6);
        FloatVector c5 = x2.selectFrom(b5, b7), c7 = x3.selectFrom(b5, b7);
        FloatVector d0 = x4.selectFrom(c0, c1), d1 = x5.selectFrom(c0, c1);
        FloatVector d2 = x4.selectFrom(c2, c3), d3 = x5.selectFrom(c2, c3);
        FloatVector d4 = x4.selectFrom(c4, c5), d5 = x5.selectFrom(c4, c5);
        FloatVector d6 = x4.selectFrom(c6, c7), d7 = x5.selectFrom(c6, c7);
        d0.intoArray(ap, d + 0 * VL);
        d1.intoArray(ap, d + 1 * VL);
        d2.intoArray(ap, d + 2 * VL);
        d3.intoArray(ap, d + 3 * VL);
        d4.intoArray(ap, d + 4 * VL);
        d5.intoArray(ap, d + 5 * VL);
        d6.intoArray(ap, d + 6 * VL);
        d7.intoArray(ap, d + 7 * VL);
    }

    /**
     * Generated 8x32 micro-kernel (16 accumulators in registers): C[MR x NR] (op)= Ap * Bp,
     * where the MR values of A for step p are at {@code ap[ai + p*as ..]} ({@code as} is MR
     * for a packed strip, lda for A^T read in place).
     */
    private static void kernel(int kc, float[] ap, int ai, int as, float[] bp, int bi, float[] c, int ci, int ldc, float beta) {
        FloatVector c0_0 = FloatVector.zero(S); FloatVector c0_1 = FloatVector.zero(S);
        FloatVector c1_0 = FloatVector.zero(S); FloatVector c1_1 = FloatVector.zero(S);
        FloatVector c2_0 = FloatVector.zero(S); FloatVector c2_1 = FloatVector.zero(S);
        FloatVector c3_0 = FloatVector.zero(S); FloatVector c3_1 = FloatVector.zero(S);
        FloatVector c4_0 = FloatVector.zero(S); FloatVector c4_1 = FloatVector.zero(S);
        FloatVector c5_0 = FloatVector.zero(S); FloatVector c5_1 = FloatVector.zero(S);
        FloatVector c6_0 = FloatVector.zero(S); FloatVector c6_1 = FloatVector.zero(S);
        FloatVector c7_0 = FloatVector.zero(S); FloatVector c7_1 = FloatVector.zero(S);
        for (int p = 0; p < kc; p++) {
            int ao = ai + p * as, bo = bi + p * NR;
            FloatVector b0 = FloatVector.fromArray(S, bp, bo + 0 * VL);
            FloatVector b1 = FloatVector.fromArray(S, bp, bo + 1 * VL);
            { FloatVector a = FloatVector.broadcast(S, ap[ao + 0]); c0_0 = a.fma(b0, c0_0); c0_1 = a.fma(b1, c0_1); }
            { FloatVector a = FloatVector.broadcast(S, ap[ao + 1]); c1_0 = a.fma(b0, c1_0); c1_1 = a.fma(b1, c1_1); }
            { FloatVector a = FloatVector.broadcast(S, ap[ao + 2]); c2_0 = a.fma(b0, c2_0); c2_1 = a.fma(b1, c2_1); }
            { FloatVector a = FloatVector.broadcast(S, ap[ao + 3]); c3_0 = a.fma(b0, c3_0); c3_1 = a.fma(b1, c3_1); }
            { FloatVector a = FloatVector.broadcast(S, ap[ao + 4]); c4_0 = a.fma(b0, c4_0); c4_1 = a.fma(b1, c4_1); }
            { FloatVector a = FloatVector.broadcast(S, ap[ao + 5]); c5_0 = a.fma(b0, c5_0); c5_1 = a.fma(b1, c5_1); }
            { FloatVector a = FloatVector.broadcast(S, ap[ao + 6]); c6_0 = a.fma(b0, c6_0); c6_1 = a.fma(b1, c6_1); }
            { FloatVector a = FloatVector.broadcast(S, ap[ao + 7]); c7_0 = a.fma(b0, c7_0); c7_1 = a.fma(b1, c7_1); }
        }
        if (beta == 0f) {
            c0_0.intoArray(c, ci + 0 * ldc + 0 * VL); c0_1.intoArray(c, ci + 0 * ldc + 1 * VL);
            c1_0.intoArray(c, ci + 1 * ldc + 0 * VL); c1_1.intoArray(c, ci + 1 * ldc + 1 * VL);
            c2_0.intoArray(c, ci + 2 * ldc + 0 * VL); c2_1.intoArray(c, ci + 2 * ldc + 1 * VL);
            c3_0.intoArray(c, ci + 3 * ldc + 0 * VL); c3_1.intoArray(c, ci + 3 * ldc + 1 * VL);
            c4_0.intoArray(c, ci + 4 * ldc + 0 * VL); c4_1.intoArray(c, ci + 4 * ldc + 1 * VL);
            c5_0.intoArray(c, ci + 5 * ldc + 0 * VL); c5_1.intoArray(c, ci + 5 * ldc + 1 * VL);
            c6_0.intoArray(c, ci + 6 * ldc + 0 * VL); c6_1.intoArray(c, ci + 6 * ldc + 1 * VL);
            c7_0.intoArray(c, ci + 7 * ldc + 0 * VL); c7_1.intoArray(c, ci + 7 * ldc + 1 * VL);
        } else if (beta == 1f) {
            c0_0.add(FloatVector.fromArray(S, c, ci + 0 * ldc + 0 * VL)).intoArray(c, ci + 0 * ldc + 0 * VL); c0_1.add(FloatVector.fromArray(S, c, ci + 0 * ldc + 1 * VL)).intoArray(c, ci + 0 * ldc + 1 * VL);
            c1_0.add(FloatVector.fromArray(S, c, ci + 1 * ldc + 0 * VL)).intoArray(c, ci + 1 * ldc + 0 * VL); c1_1.add(FloatVector.fromArray(S, c, ci + 1 * ldc + 1 * VL)).intoArray(c, ci + 1 * ldc + 1 * VL);
            c2_0.add(FloatVector.fromArray(S, c, ci + 2 * ldc + 0 * VL)).intoArray(c, ci + 2 * ldc + 0 * VL); c2_1.add(FloatVector.fromArray(S, c, ci + 2 * ldc + 1 * VL)).intoArray(c, ci + 2 * ldc + 1 * VL);
            c3_0.add(FloatVector.fromArray(S, c, ci + 3 * ldc + 0 * VL)).intoArray(c, ci + 3 * ldc + 0 * VL); c3_1.add(FloatVector.fromArray(S, c, ci + 3 * ldc + 1 * VL)).intoArray(c, ci + 3 * ldc + 1 * VL);
            c4_0.add(FloatVector.fromArray(S, c, ci + 4 * ldc + 0 * VL)).intoArray(c, ci + 4 * ldc + 0 * VL); c4_1.add(FloatVector.fromArray(S, c, ci + 4 * ldc + 1 * VL)).intoArray(c, ci + 4 * ldc + 1 * VL);
            c5_0.add(FloatVector.fromArray(S, c, ci + 5 * ldc + 0 * VL)).intoArray(c, ci + 5 * ldc + 0 * VL); c5_1.add(FloatVector.fromArray(S, c, ci + 5 * ldc + 1 * VL)).intoArray(c, ci + 5 * ldc + 1 * VL);
            c6_0.add(FloatVector.fromArray(S, c, ci + 6 * ldc + 0 * VL)).intoArray(c, ci + 6 * ldc + 0 * VL); c6_1.add(FloatVector.fromArray(S, c, ci + 6 * ldc + 1 * VL)).intoArray(c, ci + 6 * ldc + 1 * VL);
            c7_0.add(FloatVector.fromArray(S, c, ci + 7 * ldc + 0 * VL)).intoArray(c, ci + 7 * ldc + 0 * VL); c7_1.add(FloatVector.fromArray(S, c, ci + 7 * ldc + 1 * VL)).intoArray(c, ci + 7 * ldc + 1 * VL);
        } else {
            FloatVector bv = FloatVector.broadcast(S, beta);
            FloatVector.fromArray(S, c, ci + 0 * ldc + 0 * VL).fma(bv, c0_0).intoArray(c, ci + 0 * ldc + 0 * VL); FloatVector.fromArray(S, c, ci + 0 * ldc + 1 * VL).fma(bv, c0_1).intoArray(c, ci + 0 * ldc + 1 * VL);
            FloatVector.fromArray(S, c, ci + 1 * ldc + 0 * VL).fma(bv, c1_0).intoArray(c, ci + 1 * ldc + 0 * VL); FloatVector.fromArray(S, c, ci + 1 * ldc + 1 * VL).fma(bv, c1_1).intoArray(c, ci + 1 * ldc + 1 * VL);
            FloatVector.fromArray(S, c, ci + 2 * ldc + 0 * VL).fma(bv, c2_0).intoArray(c, ci + 2 * ldc + 0 * VL); FloatVector.fromArray(S, c, ci + 2 * ldc + 1 * VL).fma(bv, c2_1).intoArray(c, ci + 2 * ldc + 1 * VL);
            FloatVector.fromArray(S, c, ci + 3 * ldc + 0 * VL).fma(bv, c3_0).intoArray(c, ci + 3 * ldc + 0 * VL); FloatVector.fromArray(S, c, ci + 3 * ldc + 1 * VL).fma(bv, c3_1).intoArray(c, ci + 3 * ldc + 1 * VL);
            FloatVector.fromArray(S, c, ci + 4 * ldc + 0 * VL).fma(bv, c4_0).intoArray(c, ci + 4 * ldc + 0 * VL); FloatVector.fromArray(S, c, ci + 4 * ldc + 1 * VL).fma(bv, c4_1).intoArray(c, ci + 4 * ldc + 1 * VL);
            FloatVector.fromArray(S, c, ci + 5 * ldc + 0 * VL).fma(bv, c5_0).intoArray(c, ci + 5 * ldc + 0 * VL); FloatVector.fromArray(S, c, ci + 5 * ldc + 1 * VL).fma(bv, c5_1).intoArray(c, ci + 5 * ldc + 1 * VL);
            FloatVector.fromArray(S, c, ci + 6 * ldc + 0 * VL).fma(bv, c6_0).intoArray(c, ci + 6 * ldc + 0 * VL); FloatVector.fromArray(S, c, ci + 6 * ldc + 1 * VL).fma(bv, c6_1).intoArray(c, ci + 6 * ldc + 1 * VL);
            FloatVector.fromArray(S, c, ci + 7 * ldc + 0 * VL).fma(bv, c7_0).intoArray(c, ci + 7 * ldc + 0 * VL); FloatVector.fromArray(S, c, ci + 7 * ldc + 1 * VL).fma(bv, c7_1).intoArray(c, ci + 7 * ldc + 1 * VL);
        }
    }

    /**
     * The 16 x VL edge micro-kernel (16 accumulators): rows of two A strips (at {@code ap[a0 + p*as ..]}
     * and {@code ap[a1 + p*as ..]}) times one vector of B ({@code bp[bi + p*NR ..]}, the second half
     * of a packed strip), written to C rows at {@code c0} and {@code c1} (beta 0). Each element is
     * the same chain of FMAs as in {@link #kernel}, so the values equal the whole strip's.
     */
    private static void kernelHalf(int kc, float[] ap, int a0, int a1, int as, float[] bp, int bi, float[] c, int c0, int c1, int ldc) {
        FloatVector r0 = FloatVector.zero(S), r1 = r0, r2 = r0, r3 = r0, r4 = r0, r5 = r0, r6 = r0, r7 = r0;
        FloatVector r8 = r0, r9 = r0, r10 = r0, r11 = r0, r12 = r0, r13 = r0, r14 = r0, r15 = r0;
        for (int p = 0; p < kc; p++) {
            int o0 = a0 + p * as, o1 = a1 + p * as;
            FloatVector b = FloatVector.fromArray(S, bp, bi + p * NR);
            r0 = FloatVector.broadcast(S, ap[o0]).fma(b, r0);
            r1 = FloatVector.broadcast(S, ap[o0 + 1]).fma(b, r1);
            r2 = FloatVector.broadcast(S, ap[o0 + 2]).fma(b, r2);
            r3 = FloatVector.broadcast(S, ap[o0 + 3]).fma(b, r3);
            r4 = FloatVector.broadcast(S, ap[o0 + 4]).fma(b, r4);
            r5 = FloatVector.broadcast(S, ap[o0 + 5]).fma(b, r5);
            r6 = FloatVector.broadcast(S, ap[o0 + 6]).fma(b, r6);
            r7 = FloatVector.broadcast(S, ap[o0 + 7]).fma(b, r7);
            r8 = FloatVector.broadcast(S, ap[o1]).fma(b, r8);
            r9 = FloatVector.broadcast(S, ap[o1 + 1]).fma(b, r9);
            r10 = FloatVector.broadcast(S, ap[o1 + 2]).fma(b, r10);
            r11 = FloatVector.broadcast(S, ap[o1 + 3]).fma(b, r11);
            r12 = FloatVector.broadcast(S, ap[o1 + 4]).fma(b, r12);
            r13 = FloatVector.broadcast(S, ap[o1 + 5]).fma(b, r13);
            r14 = FloatVector.broadcast(S, ap[o1 + 6]).fma(b, r14);
            r15 = FloatVector.broadcast(S, ap[o1 + 7]).fma(b, r15);
        }
        r0.intoArray(c, c0); r1.intoArray(c, c0 + ldc); r2.intoArray(c, c0 + 2 * ldc); r3.intoArray(c, c0 + 3 * ldc);
        r4.intoArray(c, c0 + 4 * ldc); r5.intoArray(c, c0 + 5 * ldc); r6.intoArray(c, c0 + 6 * ldc); r7.intoArray(c, c0 + 7 * ldc);
        r8.intoArray(c, c1); r9.intoArray(c, c1 + ldc); r10.intoArray(c, c1 + 2 * ldc); r11.intoArray(c, c1 + 3 * ldc);
        r12.intoArray(c, c1 + 4 * ldc); r13.intoArray(c, c1 + 5 * ldc); r14.intoArray(c, c1 + 6 * ldc); r15.intoArray(c, c1 + 7 * ldc);
    }
}
