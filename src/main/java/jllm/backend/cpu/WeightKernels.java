package jllm.backend.cpu;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;
import jllm.tensor.DType;
import jllm.tensor.Float16;

/**
 * Matrix products against a weight W kept in its storage type (BF16, F16, Q8_0, Q4_0): the
 * weight is never widened to F32 as a whole. Decoding multiplies a few activation rows by every
 * weight once, so its speed is the weight's bytes over the memory bandwidth: for those few rows
 * each weight row is read in its own type and widened in registers ({@link #rowsDot}). Many rows
 * (a prompt, a training batch) make the product compute-bound: then a chunk of W's rows is widened
 * into a small F32 buffer and handed to {@link Gemm}, whose packed kernel is far faster than dot
 * products, and the widening is a small cost beside the GEMM's.
 *
 * <p>W is row-major [N, K] starting at element {@code wOff} of its storage array (a block type
 * needs {@code wOff} and K to be whole blocks). Accumulation is F32. Results do not depend on the
 * thread count: every output element is computed by one thread in a fixed order.
 */
final class WeightKernels {
    private WeightKernels() {}

    private static final VectorSpecies<Float> S = Gemm.S;
    private static final int VL = Gemm.VL;
    /** Byte and short vectors with VL lanes: one load widens to one float vector. */
    private static final boolean VECTOR = VL == 8 || VL == 16;
    private static final VectorSpecies<Byte> BS = VECTOR ? VectorSpecies.of(byte.class, VectorShape.forBitSize(VL * 8)) : null;
    private static final VectorSpecies<Short> HS = VECTOR ? VectorSpecies.of(short.class, VectorShape.forBitSize(VL * 16)) : null;
    private static final VectorSpecies<Integer> IS = S.withLanes(int.class);
    private static final int QK = BlockQuant.QK;

    /** Up to this many activation rows use fused row dot products (the weight widened in registers, per row). */
    static final int DOT_MAX_ROWS = 2;
    /**
     * Up to this many rows (a short prompt, a few sequences decoding together) the weight streams
     * from memory once, with no packing: through {@link #rowsTiled} up to {@link #LANES_MIN_ROWS}
     * rows, then {@link #rowsLanes} (one vector lane per row). More rows go through the GEMM.
     */
    static final int TILE_MAX_ROWS = VL;
    /** Below this many weight elements a product runs on the calling thread (a pool round trip costs more). */
    private static final long PAR_MIN_ELEMS = 1 << 16;
    /** Elements of W widened per GEMM chunk: about 1 MiB of F32, which stays in L2 while the GEMM packs it. */
    private static final int CHUNK_ELEMS = 1 << 18;

    /** The weight types these kernels read (F32 too, for a few rows: see {@link #TILE_MAX_ROWS}). */
    static boolean handles(DType t) {
        return t == DType.BF16 || t == DType.F16 || t.isQuantized();
    }

    /**
     * Above this many rows {@link #rowsLanes} is faster than {@link #rowsTiled}: it does VL lanes of
     * FMAs whatever M is, but reads the activations far less (GPT-2 124M's linear shapes, 2
     * threads, weights beyond L2: 1.2-1.4x at 12-16 rows, 0.85x at 8, 0.6x at 4).
     */
    static final int LANES_MIN_ROWS = VL / 2;
    /**
     * Elements of an F16 row widened at a time by {@link #dotF16} (a multiple of 2 VL): a whole row
     * of up to 2048 in one conversion loop, 8 KiB of L1. With 512, a row of 768 took two loops
     * (512 and 256) and ran at 17-24 GB/s of weights on one thread in cache, against 26-41 in
     * one; decoding an F16 Llama of 77M parameters, 2 threads, six interleaved runs: median 134
     * tokens/s against 118.
     */
    private static final int HALF_CHUNK = 2048;
    /** Weight rows per register tile of {@link #rowsLanes}. */
    private static final int LANE_ROWS = 8;

    private static final class Work {
        float[] buf = new float[0];
        final float[] sums = new float[LANE_ROWS * VL];
        float[] xT = new float[0];
        /** F16 row chunks widened by {@link #dotF16}. */
        final float[] half = new float[HALF_CHUNK];
        /** Per activation row and block, -8 times the block's sum of x, divided by VL (see {@link #q4Offsets}). */
        float[] q4x = new float[0];

        float[] buf(int n) {
            if (buf.length < n) buf = new float[n];
            return buf;
        }
    }

    private static final ThreadLocal<Work> WORK = ThreadLocal.withInitial(Work::new);

    /** out[M, N] = x[M, K] · W^T (x row-major with row stride ldx, out with row stride N). */
    static void matmulWT(DType t, Object w, long wOff, int N, int K, float[] x, int xOff, int ldx, int M, float[] out, int outOff) {
        if (M <= TILE_MAX_ROWS) {
            Parallel.RangeBody body;
            if (M <= DOT_MAX_ROWS) {
                float[] q4 = t == DType.Q4_0 && VECTOR ? q4Offsets(x, xOff, ldx, M, K) : null;
                body = (n0, n1) -> rowsDot(t, w, wOff, K, x, xOff, ldx, M, q4, out, outOff, N, n0, n1);
            } else if (M <= LANES_MIN_ROWS) {
                body = (n0, n1) -> rowsTiled(t, w, wOff, K, x, xOff, ldx, M, out, outOff, N, n0, n1);
            } else {
                float[] xT = transposeRows(x, xOff, ldx, M, K);
                body = (n0, n1) -> rowsLanes(t, w, wOff, K, xT, M, out, outOff, N, n0, n1);
            }
            if ((long) N * K < PAR_MIN_ELEMS || Parallel.inWorker()) body.run(0, N);
            else Parallel.forDynamic(N, rowChunk(N), body);
            return;
        }
        int rows = Math.max(1, Math.min(N, CHUNK_ELEMS / Math.max(1, K)));
        float[] buf = new float[rows * K];
        for (int n0 = 0; n0 < N; n0 += rows) {
            int nb = Math.min(rows, N - n0);
            widenRows(t, w, wOff + (long) n0 * K, K, nb, buf);
            Gemm.sgemm(false, true, M, nb, K, 1f, x, xOff, ldx, buf, 0, K, 0f, out, outOff + n0, N);
        }
    }

    /** out[M, N] = x[M, K] · W where W is stored [K, N] (the input gradient of a linear layer). */
    static void matmulW(DType t, Object w, long wOff, int K, int N, float[] x, int xOff, int ldx, int M, float[] out, int outOff) {
        int rows = Math.max(1, Math.min(K, CHUNK_ELEMS / Math.max(1, N)));
        float[] buf = new float[rows * N];
        for (int k0 = 0; k0 < K; k0 += rows) {
            int kb = Math.min(rows, K - k0);
            widenRows(t, w, wOff + (long) k0 * N, N, kb, buf);
            Gemm.sgemm(false, false, M, N, kb, 1f, x, xOff + k0, ldx, buf, 0, N, k0 == 0 ? 0f : 1f, out, outOff, N);
        }
    }

    /**
     * Weight rows per chunk of a few-row product, handed out first come first served: about eight
     * chunks per thread, so that a thread slowed by something else (the JIT, another process on
     * its core) leaves its share to the others instead of making them wait. With a fixed half each,
     * the worker thread spent a fifth of a decode step idle (JFR, an F32 Llama of 77M parameters,
     * 2 threads). A multiple of 16: whole tiles of {@link #rowsLanes} and {@link #rowsTiled}.
     */
    static int rowChunk(int N) {
        int c = N / (8 * Parallel.threads());
        return Math.max(16, (c + 15) / 16 * 16);
    }

    /** Widens rows [0, rows) of width k starting at element off into dst (row-major), in parallel for large chunks. */
    static void widenRows(DType t, Object w, long off, int k, int rows, float[] dst) {
        Parallel.RangeBody body = (r0, r1) -> widen(t, w, off + (long) r0 * k, dst, r0 * k, (r1 - r0) * k);
        if ((long) rows * k < PAR_MIN_ELEMS || Parallel.inWorker()) body.run(0, rows);
        else Parallel.forRange(rows, 8, body);
    }

    /** Widens n elements starting at element off into dst[dOff..]. */
    static void widen(DType t, Object w, long off, float[] dst, int dOff, int n) {
        if (VECTOR) {
            int o = Math.toIntExact(t.isQuantized() ? t.bytes(off) : off);
            switch (t) {
                case Q8_0 -> {
                    for (int b = 0; b < n / QK; b++, o += 34, dOff += QK) {
                        FloatVector d = FloatVector.broadcast(S, BlockQuant.scale((byte[]) w, o));
                        for (int j = 0; j < QK; j += VL) q8(w, o + 2 + j).mul(d).intoArray(dst, dOff + j);
                    }
                    return;
                }
                case Q4_0 -> {
                    for (int b = 0; b < n / QK; b++, o += 18, dOff += QK) {
                        FloatVector d = FloatVector.broadcast(S, BlockQuant.scale((byte[]) w, o));
                        for (int j = 0; j < 16; j += VL) {
                            IntVector q = q4(w, o + 2 + j);
                            q4lo(q).mul(d).intoArray(dst, dOff + j);
                            q4hi(q).mul(d).intoArray(dst, dOff + 16 + j);
                        }
                    }
                    return;
                }
                case BF16 -> { // F16 below: the scalar conversion loop is the faster (see dotF16)
                    short[] h = (short[]) w;
                    int j = 0;
                    for (; j <= n - VL; j += VL) bf16(h, o + j).intoArray(dst, dOff + j);
                    if (j == n) return;
                    off += j;
                    dOff += j;
                    n -= j;
                }
                default -> { }
            }
        }
        switch (t) {
            case BF16 -> Float16.bf16ToFloat((short[]) w, Math.toIntExact(off), dst, dOff, n);
            case F16 -> Float16.f16ToFloat((short[]) w, Math.toIntExact(off), dst, dOff, n);
            case Q8_0, Q4_0 -> BlockQuant.dequantize(t, (byte[]) w, off, dst, dOff, n);
            default -> throw new IllegalArgumentException("not a weight type: " + t);
        }
    }

    /**
     * out[m, n] for m < M and n in [n0, n1): the dot product of x's row m with W's row n.
     *
     * <p>Each weight type has its own loop over the rows, chosen once per call: with one loop
     * switching on the type per row, C2 compiled that loop (and the row dots inlined into it) for
     * the types it had seen first, and a process that decoded F32, then Q8_0, then Q4_0 ran Q4_0
     * at half the speed of a process that decoded only Q4_0 (`bench generate` on a 77M Llama).
     * q4 is {@link #q4Offsets} of x for a Q4_0 W (null otherwise, and without vectors).
     */
    static void rowsDot(DType t, Object w, long wOff, int K, float[] x, int xOff, int ldx, int M, float[] q4, float[] out, int outOff,
                        int ldo, int n0, int n1) {
        switch (t) {
            case F32 -> rowsDotF32((float[]) w, wOff, K, x, xOff, ldx, M, out, outOff, ldo, n0, n1);
            case BF16 -> rowsDotBf16((short[]) w, wOff, K, x, xOff, ldx, M, out, outOff, ldo, n0, n1);
            case F16 -> rowsDotF16((short[]) w, wOff, K, x, xOff, ldx, M, out, outOff, ldo, n0, n1);
            case Q8_0 -> rowsDotQ8((byte[]) w, wOff, K, x, xOff, ldx, M, out, outOff, ldo, n0, n1);
            case Q4_0 -> rowsDotQ4((byte[]) w, wOff, K, x, xOff, ldx, M, q4, out, outOff, ldo, n0, n1);
            default -> throw new IllegalArgumentException("not a weight type: " + t);
        }
    }

    private static void rowsDotF32(float[] w, long wOff, int K, float[] x, int xOff, int ldx, int M, float[] out, int outOff, int ldo,
                                   int n0, int n1) {
        for (int n = n0; n < n1; n++) {
            int row = Math.toIntExact(wOff + (long) n * K);
            for (int m = 0; m < M; m++) out[outOff + m * ldo + n] = Gemm.dot(x, xOff + m * ldx, w, row, K); // as the GEMM's one-row path
        }
    }

    private static void rowsDotBf16(short[] w, long wOff, int K, float[] x, int xOff, int ldx, int M, float[] out, int outOff, int ldo,
                                    int n0, int n1) {
        for (int n = n0; n < n1; n++) {
            int row = Math.toIntExact(wOff + (long) n * K);
            for (int m = 0; m < M; m++) out[outOff + m * ldo + n] = dotHalf(true, w, row, K, x, xOff + m * ldx, null);
        }
    }

    /**
     * The chunk buffer is looked up once per call, not once per row: a JFR profile of F16 decoding
     * (77M Llama, 1 thread) had 77% of its samples in ThreadLocal's lookup.
     */
    private static void rowsDotF16(short[] w, long wOff, int K, float[] x, int xOff, int ldx, int M, float[] out, int outOff, int ldo,
                                   int n0, int n1) {
        float[] buf = WORK.get().half;
        for (int n = n0; n < n1; n++) {
            int row = Math.toIntExact(wOff + (long) n * K);
            for (int m = 0; m < M; m++) out[outOff + m * ldo + n] = dotHalf(false, w, row, K, x, xOff + m * ldx, buf);
        }
    }

    private static void rowsDotQ8(byte[] w, long wOff, int K, float[] x, int xOff, int ldx, int M, float[] out, int outOff, int ldo,
                                  int n0, int n1) {
        for (int n = n0; n < n1; n++) {
            int o = Math.toIntExact((wOff + (long) n * K) / QK * 34);
            for (int m = 0; m < M; m++) out[outOff + m * ldo + n] = dotQ8(w, o, K / QK, x, xOff + m * ldx);
        }
    }

    private static void rowsDotQ4(byte[] w, long wOff, int K, float[] x, int xOff, int ldx, int M, float[] c, float[] out, int outOff,
                                  int ldo, int n0, int n1) {
        for (int n = n0; n < n1; n++) {
            int o = Math.toIntExact((wOff + (long) n * K) / QK * 18);
            for (int m = 0; m < M; m++) out[outOff + m * ldo + n] = dotQ4(w, o, K / QK, x, xOff + m * ldx, c, m * (K / QK));
        }
    }

    /**
     * out[m, n] for all m < M <= VL and n in [n0, n1), with the rows of x one per vector lane: xT
     * is x transposed to [K, VL] (lane m of vector k is x[m, k]; lanes past M zero, see
     * {@link #transposeRows}). Eight weight rows at a time: at each k one vector of xT is loaded
     * and each of the eight weights is broadcast into an FMA with it, so nine loads feed eight
     * FMAs and the eight sums (a lane per activation row) stay in registers for the whole of K.
     * The activations are read once per eight weight rows, from L1 or L2, unlike dot products of
     * weight rows with activation rows, which re-read every activation row for every pair of weight
     * rows and end in a horizontal sum per output. A non-F32 weight's eight rows are widened once
     * into an L1/L2 buffer. Each output is one sequential sum over k. (Two vectors of rows, sixteen
     * sums, ran no faster than the GEMM at 20-32 rows.)
     */
    static void rowsLanes(DType t, Object w, long wOff, int K, float[] xT, int M, float[] out, int outOff, int ldo, int n0, int n1) {
        Work work = WORK.get();
        float[] buf = t == DType.F32 ? null : work.buf(LANE_ROWS * K);
        float[] sums = work.sums;
        for (int n = n0; n < n1; n += LANE_ROWS) {
            int rows = Math.min(LANE_ROWS, n1 - n);
            float[] r;
            int ro;
            if (t == DType.F32) {
                r = (float[]) w;
                ro = Math.toIntExact(wOff + (long) n * K);
            } else {
                widen(t, w, wOff + (long) n * K, buf, 0, rows * K);
                r = buf;
                ro = 0;
            }
            lanes(r, ro, rows, K, xT, sums);
            for (int m = 0; m < M; m++) {
                int o = outOff + m * ldo + n;
                for (int j = 0; j < rows; j++) out[o + j] = sums[m + j * VL];
            }
        }
    }

    /**
     * The register tile of {@link #rowsLanes}: sums[j * VL + m] for weight row j < 8 (starting at
     * r[ro], K apart; rows past {@code rows} re-read the last, a branch-free loop, and their sums
     * are not used).
     */
    private static void lanes(float[] r, int ro, int rows, int K, float[] xT, float[] sums) {
        int last = rows - 1;
        int r0 = ro, r1 = ro + Math.min(1, last) * K, r2 = ro + Math.min(2, last) * K, r3 = ro + Math.min(3, last) * K;
        int r4 = ro + Math.min(4, last) * K, r5 = ro + Math.min(5, last) * K, r6 = ro + Math.min(6, last) * K, r7 = ro + last * K;
        FloatVector c0 = FloatVector.zero(S), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
        for (int k = 0, xo = 0; k < K; k++, xo += VL) {
            FloatVector xv = FloatVector.fromArray(S, xT, xo);
            c0 = FloatVector.broadcast(S, r[r0 + k]).fma(xv, c0);
            c1 = FloatVector.broadcast(S, r[r1 + k]).fma(xv, c1);
            c2 = FloatVector.broadcast(S, r[r2 + k]).fma(xv, c2);
            c3 = FloatVector.broadcast(S, r[r3 + k]).fma(xv, c3);
            c4 = FloatVector.broadcast(S, r[r4 + k]).fma(xv, c4);
            c5 = FloatVector.broadcast(S, r[r5 + k]).fma(xv, c5);
            c6 = FloatVector.broadcast(S, r[r6 + k]).fma(xv, c6);
            c7 = FloatVector.broadcast(S, r[r7 + k]).fma(xv, c7);
        }
        c0.intoArray(sums, 0);
        c1.intoArray(sums, VL);
        c2.intoArray(sums, 2 * VL);
        c3.intoArray(sums, 3 * VL);
        c4.intoArray(sums, 4 * VL);
        c5.intoArray(sums, 5 * VL);
        c6.intoArray(sums, 6 * VL);
        c7.intoArray(sums, 7 * VL);
    }

    /**
     * xT[k * VL + m] = x[xOff + m * ldx + k] for m < M <= VL, zero for M <= m < VL: the layout
     * {@link #rowsLanes} reads, in the calling thread's scratch (the workers only read it while the
     * caller waits for them).
     */
    static float[] transposeRows(float[] x, int xOff, int ldx, int M, int K) {
        Work work = WORK.get();
        if (work.xT.length < K * VL) work.xT = new float[K * VL];
        float[] xT = work.xT;
        if (M < VL) java.util.Arrays.fill(xT, 0, K * VL, 0f);
        for (int m = 0; m < M; m++) {
            int s = xOff + m * ldx;
            for (int k = 0; k < K; k++) xT[k * VL + m] = x[s + k];
        }
        return xT;
    }

    /**
     * out[m, n] for all m < M and n in [n0, n1): two weight rows at a time (widened once into an L1
     * buffer, or read in place when F32) against four activation rows, eight sums in registers, so
     * that six vector loads feed eight FMAs.
     */
    static void rowsTiled(DType t, Object w, long wOff, int K, float[] x, int xOff, int ldx, int M, float[] out, int outOff, int ldo,
                          int n0, int n1) {
        float[] buf = t == DType.F32 ? null : WORK.get().buf(2 * K);
        for (int n = n0; n < n1; n += 2) {
            int rows = Math.min(2, n1 - n);
            float[] r;
            int ro;
            if (t == DType.F32) {
                r = (float[]) w;
                ro = Math.toIntExact(wOff + (long) n * K);
            } else {
                widen(t, w, wOff + (long) n * K, buf, 0, rows * K);
                r = buf;
                ro = 0;
            }
            for (int m = 0; m < M; m += 4) {
                dot2x4(r, ro, ro + (rows - 1) * K, K, x, xOff + m * ldx, ldx, Math.min(4, M - m), out, outOff + m * ldo + n, ldo, rows > 1);
            }
        }
    }

    /**
     * out[i * ldo + j] = dot(w row j, x row i) for j < 2 (w rows at wa, wb; the second stored only
     * when twoW) and i < xRows <= 4 (x rows ldx apart from xo). Rows past the last re-read it (no
     * branches in the loop).
     */
    private static void dot2x4(float[] w, int wa, int wb, int K, float[] x, int xo, int ldx, int xRows, float[] out, int oo, int ldo,
                               boolean twoW) {
        int x1 = xo + Math.min(1, xRows - 1) * ldx, x2 = xo + Math.min(2, xRows - 1) * ldx, x3 = xo + Math.min(3, xRows - 1) * ldx;
        FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        int k = 0;
        for (int kv = K - K % VL; k < kv; k += VL) {
            FloatVector va = FloatVector.fromArray(S, w, wa + k), vb = FloatVector.fromArray(S, w, wb + k);
            FloatVector y = FloatVector.fromArray(S, x, xo + k);
            a0 = y.fma(va, a0);
            b0 = y.fma(vb, b0);
            y = FloatVector.fromArray(S, x, x1 + k);
            a1 = y.fma(va, a1);
            b1 = y.fma(vb, b1);
            y = FloatVector.fromArray(S, x, x2 + k);
            a2 = y.fma(va, a2);
            b2 = y.fma(vb, b2);
            y = FloatVector.fromArray(S, x, x3 + k);
            a3 = y.fma(va, a3);
            b3 = y.fma(vb, b3);
        }
        float sa0 = LaneSum.sum(a0), sa1 = LaneSum.sum(a1), sa2 = LaneSum.sum(a2), sa3 = LaneSum.sum(a3);
        float sb0 = LaneSum.sum(b0), sb1 = LaneSum.sum(b1), sb2 = LaneSum.sum(b2), sb3 = LaneSum.sum(b3);
        for (; k < K; k++) {
            float u = w[wa + k], v = w[wb + k];
            sa0 += x[xo + k] * u; sa1 += x[x1 + k] * u; sa2 += x[x2 + k] * u; sa3 += x[x3 + k] * u;
            sb0 += x[xo + k] * v; sb1 += x[x1 + k] * v; sb2 += x[x2 + k] * v; sb3 += x[x3 + k] * v;
        }
        out[oo] = sa0;
        if (twoW) out[oo + 1] = sb0;
        if (xRows > 1) { out[oo + ldo] = sa1; if (twoW) out[oo + ldo + 1] = sb1; }
        if (xRows > 2) { out[oo + 2 * ldo] = sa2; if (twoW) out[oo + 2 * ldo + 1] = sb2; }
        if (xRows > 3) { out[oo + 3 * ldo] = sa3; if (twoW) out[oo + 3 * ldo + 1] = sb3; }
    }

    /*
     * The row dot products below keep two independent sums, one per block (or vector) of a pair:
     * with a single sum every block waited on the previous block's FMA (its latency, not the
     * conversions, set the pace). Single thread, 1024 x 768 Q8_0 rows resident in cache, this
     * machine: 2.7-3.1 ns per block against 3.6-3.7 with one sum.
     */

    private static float dotQ8(byte[] w, int o, int blocks, float[] x, int xo) {
        if (!VECTOR) return dotWidened(DType.Q8_0, w, (long) o / 34 * QK, blocks * QK, x, xo);
        FloatVector acc0 = FloatVector.zero(S), acc1 = acc0;
        int b = 0;
        for (; b + 1 < blocks; b += 2, o += 68, xo += 2 * QK) {
            FloatVector d0 = FloatVector.broadcast(S, BlockQuant.scale(w, o)), d1 = FloatVector.broadcast(S, BlockQuant.scale(w, o + 34));
            acc0 = q8Block(w, o, x, xo).fma(d0, acc0);
            acc1 = q8Block(w, o + 34, x, xo + QK).fma(d1, acc1);
        }
        if (b < blocks) acc0 = q8Block(w, o, x, xo).fma(FloatVector.broadcast(S, BlockQuant.scale(w, o)), acc0);
        return LaneSum.sum(acc0) + LaneSum.sum(acc1); // reduced apart, as in dotBf16
    }

    /** One Q8_0 block's quants (at w[o + 2..]) times x[xo..xo + 32), lane-wise, unscaled. */
    private static FloatVector q8Block(byte[] w, int o, float[] x, int xo) {
        FloatVector s = q8(w, o + 2).mul(FloatVector.fromArray(S, x, xo));
        for (int j = VL; j < QK; j += VL) s = q8(w, o + 2 + j).fma(FloatVector.fromArray(S, x, xo + j), s);
        return s;
    }

    /**
     * For {@link #dotQ4}: c[m * blocks + b] = -8 * (sum of x row m over block b) / VL, so that a
     * block's sum started from c in every lane carries the -8 of every quant, which the block
     * then need not subtract per element: sum (q - 8) x = sum q x - 8 sum x. Computed once per
     * product by the calling thread, in its scratch (the workers only read it while the caller
     * waits for them, as with {@link #transposeRows}), not once per chunk: K scalar additions
     * beside a chunk of as few as 16 row dots.
     */
    private static float[] q4Offsets(float[] x, int xOff, int ldx, int M, int K) {
        Work work = WORK.get();
        int blocks = K / QK;
        if (work.q4x.length < M * blocks) work.q4x = new float[M * blocks];
        float[] c = work.q4x;
        for (int m = 0; m < M; m++) {
            for (int b = 0; b < blocks; b++) {
                int o = xOff + m * ldx + b * QK;
                float sum = 0;
                for (int j = 0; j < QK; j++) sum += x[o + j];
                c[m * blocks + b] = -8f * sum / VL;
            }
        }
        return c;
    }

    /**
     * A Q4_0 row times x. The quants are widened without sign (0..15: a mask for the low nibbles,
     * a shift for the high ones, where the signed form needed a mask and a subtraction more
     * each); the -8 comes in through c (see {@link #q4Offsets}). Single thread, 1024 x 768 rows
     * in cache: 7.1-8.6 GB/s of weights against 6.5-7.1 for the signed form.
     */
    private static float dotQ4(byte[] w, int o, int blocks, float[] x, int xo, float[] c, int co) {
        if (!VECTOR) return dotWidened(DType.Q4_0, w, (long) o / 18 * QK, blocks * QK, x, xo);
        FloatVector acc0 = FloatVector.zero(S), acc1 = acc0;
        int b = 0;
        for (; b + 1 < blocks; b += 2, o += 36, xo += 2 * QK) {
            FloatVector d0 = FloatVector.broadcast(S, BlockQuant.scale(w, o)), d1 = FloatVector.broadcast(S, BlockQuant.scale(w, o + 18));
            acc0 = q4Block(w, o, x, xo, c[co + b]).fma(d0, acc0);
            acc1 = q4Block(w, o + 18, x, xo + QK, c[co + b + 1]).fma(d1, acc1);
        }
        if (b < blocks) acc0 = q4Block(w, o, x, xo, c[co + b]).fma(FloatVector.broadcast(S, BlockQuant.scale(w, o)), acc0);
        return LaneSum.sum(acc0) + LaneSum.sum(acc1); // reduced apart, as in dotBf16
    }

    /** One Q4_0 block's quants (low nibbles the first 16 elements, high the last 16) times x, lane-wise, unscaled, from c. */
    private static FloatVector q4Block(byte[] w, int o, float[] x, int xo, float c) {
        FloatVector s = FloatVector.broadcast(S, c);
        for (int j = 0; j < 16; j += VL) {
            IntVector q = (IntVector) ByteVector.fromArray(BS, w, o + 2 + j).convertShape(VectorOperators.ZERO_EXTEND_B2I, IS, 0);
            s = ((FloatVector) q.and(15).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(S, x, xo + j), s);
            s = ((FloatVector) q.lanewise(VectorOperators.LSHR, 4).convert(VectorOperators.I2F, 0)).fma(FloatVector.fromArray(S, x, xo + 16 + j), s);
        }
        return s;
    }

    /*
     * BF16 and F16 rows each have their own method, and the two sums are reduced apart: with one
     * method for both, or with acc0.add(acc1) after the loop, C2 left that add (and LaneSum's
     * shuffles) to Java code that allocated a box per row (96-192 bytes a row; 6 GB in a 30 s
     * serve run of an F16 Llama) and ran 10-15% slower. (F16 widened in registers by integer
     * operations kept allocating 96 bytes a row in either form; dotF16 no longer does that.)
     */

    /** buf: {@link Work#half} for F16 (unused for BF16). */
    private static float dotHalf(boolean bf16, short[] w, int o, int k, float[] x, int xo, float[] buf) {
        int kv = VECTOR ? k - k % (2 * VL) : 0;
        float r = kv == 0 ? 0 : bf16 ? dotBf16(w, o, kv, x, xo) : dotF16(w, o, kv, x, xo, buf);
        for (int j = kv; j < k; j++) r += (bf16 ? Float16.bf16ToFloat(w[o + j]) : Float.float16ToFloat(w[o + j])) * x[xo + j];
        return r;
    }

    /** The dot product of k (a multiple of 2 VL) BF16 weights with x. */
    private static float dotBf16(short[] w, int o, int k, float[] x, int xo) {
        FloatVector acc0 = FloatVector.zero(S), acc1 = acc0;
        for (int j = 0; j < k; j += 2 * VL) {
            acc0 = FloatVector.fromArray(S, x, xo + j).fma(bf16(w, o + j), acc0);
            acc1 = FloatVector.fromArray(S, x, xo + j + VL).fma(bf16(w, o + j + VL), acc1);
        }
        return LaneSum.sum(acc0) + LaneSum.sum(acc1);
    }

    /**
     * The dot product of k (a multiple of 2 VL) F16 weights with x: the row is widened in chunks into
     * an L1 buffer by a scalar loop of Float.float16ToFloat, which C2 compiles to the processor's
     * half-to-single conversion, then multiplied from there. The Vector API has no such conversion;
     * widening in registers with integer operations (ten a vector) ran 1.5x slower on one thread
     * (rows of 768) and allocated 96 bytes a row.
     */
    private static float dotF16(short[] w, int o, int k, float[] x, int xo, float[] buf) {
        FloatVector acc0 = FloatVector.zero(S), acc1 = acc0;
        for (int c = 0; c < k; c += HALF_CHUNK) {
            int n = Math.min(HALF_CHUNK, k - c);
            Float16.f16ToFloat(w, o + c, buf, 0, n);
            for (int j = 0; j < n; j += 2 * VL) {
                acc0 = FloatVector.fromArray(S, x, xo + c + j).fma(FloatVector.fromArray(S, buf, j), acc0);
                acc1 = FloatVector.fromArray(S, x, xo + c + j + VL).fma(FloatVector.fromArray(S, buf, j + VL), acc1);
            }
        }
        return LaneSum.sum(acc0) + LaneSum.sum(acc1);
    }

    // ---- one vector of weights widened to F32 ----

    private static FloatVector q8(Object w, int o) {
        return (FloatVector) ByteVector.fromArray(BS, (byte[]) w, o).convertShape(VectorOperators.B2F, S, 0);
    }

    /**
     * VL bytes of a Q4_0 block's nibbles, widened to int lanes once: both nibbles are then taken with
     * int shifts and masks (x86 has no byte shifts: byte lanes emulate them; interleaved runs of a
     * 8192 x 4096 decode product: 2.0-2.6 ms against 2.1-3.7 ms for byte lanes).
     */
    private static IntVector q4(Object w, int o) {
        return (IntVector) ByteVector.fromArray(BS, (byte[]) w, o).convertShape(VectorOperators.B2I, IS, 0);
    }

    private static FloatVector q4lo(IntVector q) {
        return (FloatVector) q.and(15).sub(8).convert(VectorOperators.I2F, 0);
    }

    private static FloatVector q4hi(IntVector q) {
        return (FloatVector) q.lanewise(VectorOperators.ASHR, 4).and(15).sub(8).convert(VectorOperators.I2F, 0);
    }

    private static FloatVector bf16(short[] w, int o) {
        return ShortVector.fromArray(HS, w, o).convertShape(VectorOperators.S2I, IS, 0)
                .lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /** Widens the row into a scratch buffer, then an F32 dot product. */
    private static float dotWidened(DType t, Object w, long row, int k, float[] x, int xo) {
        float[] buf = WORK.get().buf(k);
        widen(t, w, row, buf, 0, k);
        FloatVector acc = FloatVector.zero(S);
        int j = 0;
        for (; j <= k - VL; j += VL) acc = FloatVector.fromArray(S, buf, j).fma(FloatVector.fromArray(S, x, xo + j), acc);
        float r = LaneSum.sum(acc);
        for (; j < k; j++) r += buf[j] * x[xo + j];
        return r;
    }
}
