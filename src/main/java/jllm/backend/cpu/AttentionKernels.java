package jllm.backend.cpu;

import static jllm.backend.cpu.FusedKernels.L;
import static jllm.backend.cpu.FusedKernels.S;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import java.util.Arrays;

/**
 * Scaled dot-product attention, forward and backward, on contiguous float buffers.
 *
 * <h2>Layout</h2>
 * <ul>
 *   <li>q: [B*H, Tq, D], row (bh, i) at {@code qOff + (bh*Tq + i)*D}, with {@code bh = b*H + h}.</li>
 *   <li>k: [B*Hkv, kvCap, D], v: [B*Hkv, kvCap, Dv]; key j of kv head {@code kvbh = b*Hkv + kh} at
 *       {@code kOff + (kvbh*kvCap + j)*D}; only keys {@code j < Tk} are used. {@code kvCap == Tk}
 *       for plain contiguous tensors, {@code kvCap = maxT} for a KV cache [B, Hkv, maxT, D].</li>
 *   <li>GQA: q head h of batch b reads kv head {@code kvbh = b*Hkv + h/(H/Hkv)}; H % Hkv == 0.</li>
 *   <li>out: [B*H, Tq, Dv]; lse: [B*H, Tq] (log-sum-exp of the scaled, masked scores per query).</li>
 *   <li>mask (optional, additive, -inf allowed): element (b, h, i, j) at
 *       {@code maskOff + b*msB + h*msH + i*msI + j*msJ}; a stride of 0 broadcasts (a [Tq,Tk] mask has
 *       msB = msH = 0, msI = Tk, msJ = 1). Boolean masks are converted by the caller to 0/-inf.</li>
 *   <li>causal: PyTorch is_causal, top-left aligned: query i sees keys j &lt;= i.</li>
 * </ul>
 * Those are the layouts of the offset-based entry points; the {@link Rows}-based ones take any
 * batch/head/row strides (rows themselves contiguous), so head views of a fused [B, T, 3C]
 * projection and outputs laid out as [B, T, H, D] are read and written in place.
 *
 * <h2>Fully masked rows</h2>
 * A query row whose every score is -inf (or that sees no key, Tk = 0) gets out = 0, lse = -inf
 * and zero gradients. This matches PyTorch &gt;= 2.5, whose SDPA math path uses _safe_softmax
 * (pytorch/pytorch#133882) and returns 0 for such rows; PyTorch 1.13-2.4 returned NaN.
 *
 * <h2>Algorithm</h2>
 * Per query row the kernel computes the row's scores for all visible keys into a scratch row of
 * Tk floats (O(Tk) memory, never Tq*Tk), then an exact max-subtracted softmax and P*V. Keeping the
 * whole score row costs a few KB and avoids the rescaling work of an online softmax, which on a
 * CPU with a 1 MB L2 buys nothing. Scores come from a transposed copy of K (built once per kv head
 * in scratch) so 16 keys are scored per FMA with no horizontal reductions.
 *
 * <p>Threading: forward splits over bh (q heads); backward splits over kv heads ({@code kvbh} in
 * [0, B*Hkv)), each processing all of its q heads, so dK/dV rows are owned by one thread.
 */
public final class AttentionKernels {
    private AttentionKernels() {}

    /** Below this many query rows per head, scores use direct dot products (no K transpose). */
    private static final int TRANSPOSE_MIN_TQ = 4;
    /** Query rows processed together on the transposed path (they share every K/V load). */
    private static final int R = 4;

    private static int roundUp(int n) {
        return (n + L - 1) / L * L;
    }

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[1][0]);

    /**
     * The calling thread's attention scratch, at least n floats, kept for its next call (contents
     * undefined: the forward and the backward write every scratch float before reading it). A fresh
     * array per call cost a decode step more than its attention: at 1500 cached positions each call
     * allocated and zeroed about a megabyte (G1 treats it as a humongous object), 14 MB a token for
     * a 12-layer model, and decoding slowed as the context grew. In training at T = 1024 each
     * backward task's scratch was 0.56 MB, humongous for G1 too.
     */
    public static float[] scratch(int n) {
        float[][] h = SCRATCH.get();
        if (h[0].length < n) h[0] = new float[n];
        return h[0];
    }

    /** Floats of per-thread scratch the forward and backward kernels need. */
    public static int scratchSize(int Tk, int D, int Dv) {
        return (D + Dv + 2 * R) * roundUp(Math.max(Tk, 1));
    }

    private static void checkHeads(int H, int Hkv) {
        if (H <= 0 || Hkv <= 0 || H % Hkv != 0) {
            throw new IllegalArgumentException("attention: q heads " + H + " must be a positive multiple of kv heads " + Hkv);
        }
    }

    /**
     * Forward for q heads bh in [bhStart, bhEnd): writes out (and lse when non-null).
     * See the class comment for layouts; mask may be null.
     */
    public static void attentionForward(float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                        float[] out, int outOff, float[] lse, int lseOff,
                                        int H, int Hkv, int Tq, int Tk, int kvCap, int D, int Dv,
                                        float scale, boolean causal,
                                        float[] mask, int maskOff, int msB, int msH, int msI, int msJ,
                                        float[] scratch, int bhStart, int bhEnd) {
        checkHeads(H, Hkv);
        attentionForward(Rows.packed(q, qOff, H, Tq, D), Rows.packed(k, kOff, Hkv, kvCap, D), Rows.packed(v, vOff, Hkv, kvCap, Dv),
                Rows.packed(out, outOff, H, Tq, Dv), lse, lseOff, H, Hkv, Tq, Tk, D, Dv, scale, causal,
                mask, maskOff, msB, msH, msI, msJ, scratch, bhStart, bhEnd);
    }

    /**
     * Where the rows of one operand live: row t of head h in batch b starts at
     * {@code off + b*sB + h*sH + t*sT} (elements within a row are contiguous). Lets the kernels read
     * and write views such as the q/k/v thirds of a fused [B, T, 3C] projection in place.
     */
    public record Rows(float[] a, int off, int sB, int sH, int sT) {
        /** A contiguous [B, heads, rows, width] buffer starting at off. */
        public static Rows packed(float[] a, int off, int heads, int rows, int width) {
            return new Rows(a, off, heads * rows * width, rows * width, width);
        }

        int at(int b, int h, int t) { return off + b * sB + h * sH + t * sT; }
    }

    /**
     * Forward on strided operands for q heads bh = b*H + h in [bhStart, bhEnd): writes out (and lse,
     * contiguous [B*H, Tq], when non-null). Heads of k/v are kv heads (GQA as in the class comment).
     */
    public static void attentionForward(Rows qr, Rows kr, Rows vr, Rows outr, float[] lse, int lseOff,
                                        int H, int Hkv, int Tq, int Tk, int D, int Dv,
                                        float scale, boolean causal,
                                        float[] mask, int maskOff, int msB, int msH, int msI, int msJ,
                                        float[] scratch, int bhStart, int bhEnd) {
        checkHeads(H, Hkv);
        int G = H / Hkv;
        int TkP = roundUp(Math.max(Tk, 1));
        if (scratch.length < scratchSize(Tk, D, Dv)) {
            throw new IllegalArgumentException("attention: scratch has " + scratch.length + " floats, needs " + scratchSize(Tk, D, Dv));
        }
        float[] q = qr.a, k = kr.a, v = vr.a, out = outr.a;
        int qT = qr.sT, kT = kr.sT, vT = vr.sT, oT = outr.sT;
        int ktOff = 0, sOff = D * TkP;
        boolean transpose = Tq >= TRANSPOSE_MIN_TQ;
        int[] kIdx = transpose ? rowOffsets(kT) : null;
        float[] f = new float[R];
        int[] xo = new int[R], oo = new int[R];
        int lastKv = -1;
        for (int bh = bhStart; bh < bhEnd; bh++) {
            int b = bh / H, h = bh % H;
            int kvbh = b * Hkv + h / G;
            int kBase = kr.at(b, h / G, 0), vBase = vr.at(b, h / G, 0);
            int qBase = qr.at(b, h, 0), oBase = outr.at(b, h, 0);
            int mBase = mask == null ? 0 : maskOff + b * msB + h * msH;
            if (!transpose) {
                for (int i = 0; i < Tq; i++) {
                    int qo = qBase + i * qT;
                    int o = oBase + i * oT;
                    int jEnd = causal ? Math.min(Tk, i + 1) : Tk;
                    float m = scoreRow(q, qo, k, kBase, kT, D, scale, jEnd, scratch, sOff,
                            mask, mBase + i * msI, msJ);
                    if (m == Float.NEGATIVE_INFINITY || jEnd == 0) {
                        Arrays.fill(out, o, o + Dv, 0f);
                        if (lse != null) lse[lseOff + bh * Tq + i] = Float.NEGATIVE_INFINITY;
                        continue;
                    }
                    double sum = FusedKernels.expShiftSum(scratch, sOff, scratch, sOff, jEnd, m);
                    combine(scratch, sOff, jEnd, v, vBase, vT, Dv, (float) (1.0 / sum), out, o);
                    if (lse != null) lse[lseOff + bh * Tq + i] = (float) (m + Math.log(sum));
                }
                continue;
            }
            if (kvbh != lastKv) {
                transpose(k, kBase, kT, Tk, D, scratch, ktOff, TkP, kIdx);
                lastKv = kvbh;
            }
            for (int i0 = 0; i0 < Tq; i0 += R) {
                int nr = Math.min(R, Tq - i0);
                int jEndB = causal ? Math.min(Tk, i0 + nr) : Tk;
                int nP = roundUp(jEndB); // softmax over whole vectors: keys past jEndB hold -inf
                for (int r = 0; r < R; r++) {
                    int i = i0 + Math.min(r, nr - 1); // spare rows repeat the last row and are never stored
                    xo[r] = qBase + i * qT;
                    oo[r] = oBase + i * oT;
                }
                scores4(q, xo, D, scratch, ktOff, TkP, sOff, jEndB, scale);
                for (int r = 0; r < R; r++) {
                    int so = sOff + r * TkP;
                    if (r >= nr) {
                        Arrays.fill(scratch, so, so + jEndB, 0f);
                        f[r] = 0f;
                        continue;
                    }
                    int i = i0 + r;
                    int lim = causal ? Math.min(Tk, i + 1) : Tk;
                    float m = limitAndMask(scratch, so, lim, nP, mask, mBase + i * msI, msJ);
                    if (m == Float.NEGATIVE_INFINITY) {
                        Arrays.fill(scratch, so, so + jEndB, 0f);
                        f[r] = 0f;
                        if (lse != null) lse[lseOff + bh * Tq + i] = Float.NEGATIVE_INFINITY;
                        continue;
                    }
                    double sum = FusedKernels.expShiftSum(scratch, so, scratch, so, nP, m);
                    f[r] = (float) (1.0 / sum);
                    if (lse != null) lse[lseOff + bh * Tq + i] = (float) (m + Math.log(sum));
                }
                combine4(scratch, sOff, TkP, jEndB, v, vBase, vT, Dv, f, out, oo, nr);
            }
        }
    }

    /**
     * Backward for kv heads kvbh in [kvStart, kvEnd) (kvbh = b*Hkv + kh), each over its H/Hkv q heads.
     * Recomputes P = exp(S - lse) and writes dq (overwrite) and ACCUMULATES dk, dv (caller zeroes):
     * dV += P^T dO; dP = dO V^T; dS = P*(dP - rowsum(dO*O)); dQ = scale*dS K; dK += scale*dS^T Q.
     */
    public static void attentionBackward(float[] q, int qOff, float[] k, int kOff, float[] v, int vOff,
                                         float[] out, int outOff, float[] dout, int doutOff, float[] lse, int lseOff,
                                         float[] dq, int dqOff, float[] dk, int dkOff, float[] dv, int dvOff,
                                         int H, int Hkv, int Tq, int Tk, int kvCap, int D, int Dv,
                                         float scale, boolean causal,
                                         float[] mask, int maskOff, int msB, int msH, int msI, int msJ,
                                         float[] scratch, int kvStart, int kvEnd) {
        checkHeads(H, Hkv);
        attentionBackward(Rows.packed(q, qOff, H, Tq, D), Rows.packed(k, kOff, Hkv, kvCap, D), Rows.packed(v, vOff, Hkv, kvCap, Dv),
                Rows.packed(out, outOff, H, Tq, Dv), Rows.packed(dout, doutOff, H, Tq, Dv), lse, lseOff,
                Rows.packed(dq, dqOff, H, Tq, D), Rows.packed(dk, dkOff, Hkv, kvCap, D), Rows.packed(dv, dvOff, Hkv, kvCap, Dv),
                H, Hkv, Tq, Tk, D, Dv, scale, causal, mask, maskOff, msB, msH, msI, msJ, scratch, kvStart, kvEnd);
    }

    /** {@link #attentionBackward} on strided operands (see {@link Rows}); lse is contiguous [B*H, Tq]. */
    public static void attentionBackward(Rows qr, Rows kr, Rows vr, Rows outr, Rows doutr, float[] lse, int lseOff,
                                         Rows dqr, Rows dkr, Rows dvr,
                                         int H, int Hkv, int Tq, int Tk, int D, int Dv,
                                         float scale, boolean causal,
                                         float[] mask, int maskOff, int msB, int msH, int msI, int msJ,
                                         float[] scratch, int kvStart, int kvEnd) {
        checkHeads(H, Hkv);
        int G = H / Hkv;
        int TkP = roundUp(Math.max(Tk, 1));
        if (scratch.length < scratchSize(Tk, D, Dv)) {
            throw new IllegalArgumentException("attention: scratch has " + scratch.length + " floats, needs " + scratchSize(Tk, D, Dv));
        }
        float[] q = qr.a, k = kr.a, v = vr.a, out = outr.a, dout = doutr.a, dq = dqr.a, dk = dkr.a, dv = dvr.a;
        int qT = qr.sT, kT = kr.sT, vT = vr.sT, oT = outr.sT, doT = doutr.sT, dqT = dqr.sT, dkT = dkr.sT, dvT = dvr.sT;
        int ktOff = 0, vtOff = D * TkP, sOff = (D + Dv) * TkP, dpOff = sOff + R * TkP;
        boolean transpose = Tq >= TRANSPOSE_MIN_TQ;
        int[] kIdx = transpose ? rowOffsets(kT) : null, vIdx = transpose ? rowOffsets(vT) : null;
        float[] ones = {1f, 1f, 1f, 1f};
        int[] qo = new int[R], oo = new int[R], doo = new int[R], dqo = new int[R];
        for (int kvbh = kvStart; kvbh < kvEnd; kvbh++) {
            int b = kvbh / Hkv, kh = kvbh % Hkv;
            int kBase = kr.at(b, kh, 0), vBase = vr.at(b, kh, 0);
            int dkBase = dkr.at(b, kh, 0), dvBase = dvr.at(b, kh, 0);
            if (transpose) {
                transpose(k, kBase, kT, Tk, D, scratch, ktOff, TkP, kIdx);
                transpose(v, vBase, vT, Tk, Dv, scratch, vtOff, TkP, vIdx);
            }
            for (int g = 0; g < G; g++) {
                int h = kh * G + g;
                int bh = b * H + h;
                int qBase = qr.at(b, h, 0), oBase = outr.at(b, h, 0), doBase = doutr.at(b, h, 0), dqBase = dqr.at(b, h, 0);
                int mBase = mask == null ? 0 : maskOff + b * msB + h * msH;
                if (!transpose) {
                    for (int i = 0; i < Tq; i++) {
                        backwardRow(q, k, kBase, kT, v, vBase, vT, out, dout, lse, dq, dk, dkBase, dkT, dv, dvBase, dvT,
                                qBase + i * qT, oBase + i * oT, doBase + i * doT,
                                dqBase + i * dqT, lseOff + bh * Tq + i,
                                causal ? Math.min(Tk, i + 1) : Tk, D, Dv, scale, mask, mBase + i * msI, msJ,
                                scratch, sOff, dpOff, TkP);
                    }
                    continue;
                }
                for (int i0 = 0; i0 < Tq; i0 += R) {
                    int nr = Math.min(R, Tq - i0);
                    int jEndB = causal ? Math.min(Tk, i0 + nr) : Tk;
                    int nP = roundUp(jEndB); // whole vectors: P past jEndB is 0 (-inf scores)
                    for (int r = 0; r < R; r++) {
                        int i = i0 + Math.min(r, nr - 1); // spare rows repeat the last row with P = 0
                        qo[r] = qBase + i * qT;
                        dqo[r] = dqBase + i * dqT;
                        oo[r] = oBase + i * oT;
                        doo[r] = doBase + i * doT;
                    }
                    // P = exp(S - lse)
                    scores4(q, qo, D, scratch, ktOff, TkP, sOff, jEndB, scale);
                    // dP = dO V^T
                    scores4(dout, doo, Dv, scratch, vtOff, TkP, dpOff, jEndB, 1f);
                    for (int r = 0; r < R; r++) {
                        int so = sOff + r * TkP;
                        int i = i0 + r;
                        float l = r < nr ? lse[lseOff + bh * Tq + i] : Float.NEGATIVE_INFINITY;
                        if (l == Float.NEGATIVE_INFINITY) {
                            Arrays.fill(scratch, so, so + nP, 0f);
                        } else {
                            limitAndMask(scratch, so, causal ? Math.min(Tk, i + 1) : Tk, nP, mask, mBase + i * msI, msJ);
                            expShift(scratch, so, nP, l);
                        }
                        float di = r < nr ? FusedKernels.dotShort(dout, doo[r], out, oo[r], Dv) : 0f;
                        // dS*scale = scale * P * (dP - Di), written over the dP row
                        dsRow(scratch, so, dpOff + r * TkP, nP, di, scale);
                    }
                    rank4(scratch, sOff, TkP, jEndB, dout, doo, dv, dvBase, dvT, Dv);   // dV += P^T dO
                    rank4(scratch, dpOff, TkP, jEndB, q, qo, dk, dkBase, dkT, D);      // dK += dS^T Q
                    combine4(scratch, dpOff, TkP, jEndB, k, kBase, kT, D, ones, dq, dqo, nr); // dQ = dS K
                }
            }
        }
    }

    /** One query row of the backward on the direct (untransposed) path. */
    private static void backwardRow(float[] q, float[] k, int kBase, int kT, float[] v, int vBase, int vT, float[] out,
                                    float[] dout, float[] lse, float[] dq, float[] dk, int dkBase, int dkT,
                                    float[] dv, int dvBase, int dvT,
                                    int qo, int oo, int doo, int dqo, int lseIdx, int jEnd, int D, int Dv, float scale,
                                    float[] mask, int mRow, int msJ, float[] scratch, int sOff, int dpOff, int TkP) {
        float l = lse[lseIdx];
        if (l == Float.NEGATIVE_INFINITY || jEnd == 0) {
            Arrays.fill(dq, dqo, dqo + D, 0f);
            return;
        }
        scoreRow(q, qo, k, kBase, kT, D, scale, jEnd, scratch, sOff, mask, mRow, msJ);
        expShift(scratch, sOff, jEnd, l);
        scoreRow(dout, doo, v, vBase, vT, Dv, 1f, jEnd, scratch, dpOff, null, 0, 0);
        float di = FusedKernels.dotShort(dout, doo, out, oo, Dv);
        rank1(scratch, sOff, jEnd, dout, doo, dv, dvBase, dvT, Dv, 1f);
        dsRow(scratch, sOff, dpOff, jEnd, di, scale);
        rank1(scratch, dpOff, jEnd, q, qo, dk, dkBase, dkT, D, 1f);
        combine(scratch, dpOff, jEnd, k, kBase, kT, D, 1f, dq, dqo);
    }

    /**
     * Decode-step forward for Tq = 1 over a KV cache [B, Hkv, maxT, D] holding {@code len} valid
     * positions: every q head attends keys [0, len), no causal mask. Equivalent to
     * {@link #attentionForward} with Tq=1, Tk=len, kvCap=maxT, causal=false, no mask.
     */
    public static void attentionDecode(float[] q, int qOff, float[] kCache, int kOff, float[] vCache, int vOff,
                                       float[] out, int outOff, int H, int Hkv, int len, int maxT, int D, int Dv,
                                       float scale, float[] scratch, int bhStart, int bhEnd) {
        if (len > maxT) throw new IllegalArgumentException("attention: cache length " + len + " exceeds capacity " + maxT);
        attentionForward(q, qOff, kCache, kOff, vCache, vOff, out, outOff, null, 0, H, Hkv, 1, len, maxT, D, Dv,
                scale, false, null, 0, 0, 0, 0, 0, scratch, bhStart, bhEnd);
    }

    // ---------------------------------------------------------------- pieces

    /** Gather offsets {0, ld, 2*ld, ...}: element d of L consecutive rows. */
    private static int[] rowOffsets(int ld) {
        int[] idx = new int[L];
        for (int r = 0; r < L; r++) idx[r] = r * ld;
        return idx;
    }

    /**
     * dst[d*TkP + j] = src[base + j*ld + d] for j < Tk; zero padding up to TkP. Whole blocks of L
     * rows are gathered a column at a time (idx from {@link #rowOffsets}(ld)); a scalar loop with
     * strided stores costs several times more.
     */
    private static void transpose(float[] src, int base, int ld, int Tk, int D, float[] dst, int dOff, int TkP, int[] idx) {
        int j0 = 0;
        for (; j0 + L <= Tk; j0 += L) {
            int so = base + j0 * ld, dO = dOff + j0;
            for (int d = 0; d < D; d++) FloatVector.fromArray(S, src, so + d, idx, 0).intoArray(dst, dO + d * TkP);
        }
        for (int j = j0; j < Tk; j++) {
            int so = base + j * ld;
            for (int d = 0; d < D; d++) dst[dOff + d * TkP + j] = src[so + d];
        }
        if (TkP > Tk) {
            for (int d = 0; d < D; d++) Arrays.fill(dst, dOff + d * TkP + Tk, dOff + d * TkP + TkP, 0f);
        }
    }

    /**
     * Direct path (few query rows): s[j] = scale * dot(x_row, K_j) (+ mask) for j < jEnd into
     * sc[sOff..]; returns the max (-inf if all masked).
     */
    private static float scoreRow(float[] x, int xo, float[] k, int kBase, int kT, int D, float scale, int jEnd,
                                  float[] sc, int sOff, float[] mask, int mRow, int msJ) {
        for (int j = 0; j < jEnd; j++) {
            sc[sOff + j] = scale * FusedKernels.dotShort(x, xo, k, kBase + j * kT, D);
        }
        if (mask != null) {
            if (msJ == 1) {
                int j = 0;
                for (int ub = S.loopBound(jEnd); j < ub; j += L) {
                    FloatVector.fromArray(S, sc, sOff + j).add(FloatVector.fromArray(S, mask, mRow + j))
                            .intoArray(sc, sOff + j);
                }
                for (; j < jEnd; j++) sc[sOff + j] += mask[mRow + j];
            } else {
                for (int j = 0; j < jEnd; j++) sc[sOff + j] += mask[mRow + j * msJ];
            }
        }
        return FusedKernels.max(sc, sOff, jEnd);
    }

    /** s[j] = exp(s[j] - shift) for j < n. */
    private static void expShift(float[] s, int off, int n, float shift) {
        FloatVector sh = FloatVector.broadcast(S, shift);
        for (int j = 0; j < n; j += L) {
            VectorMask<Float> m = S.indexInRange(j, n);
            VecMath.exp(FloatVector.fromArray(S, s, off + j, m).sub(sh)).intoArray(s, off + j, m);
        }
    }

    /** ds[j] = scale * p[j] * (dp[j] - di), written over dp. */
    private static void dsRow(float[] sc, int pOff, int dpOff, int n, float di, float scale) {
        FloatVector dv = FloatVector.broadcast(S, di), sv = FloatVector.broadcast(S, scale);
        for (int j = 0; j < n; j += L) {
            VectorMask<Float> m = S.indexInRange(j, n);
            FloatVector p = FloatVector.fromArray(S, sc, pOff + j, m);
            FloatVector dp = FloatVector.fromArray(S, sc, dpOff + j, m);
            p.mul(dp.sub(dv)).mul(sv).intoArray(sc, dpOff + j, m);
        }
    }

    /** o[0..Dv) = f * sum_{j<n} w[j] * V_j, V_j at vBase + j*vT. */
    private static void combine(float[] w, int wOff, int n, float[] v, int vBase, int vT, int Dv, float f,
                                float[] o, int oo) {
        int c = 0;
        for (; c + 4 * L <= Dv; c += 4 * L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int vo = vBase + c;
            for (int j = 0; j < n; j++, vo += vT) {
                float p = w[wOff + j];
                FloatVector pv = FloatVector.broadcast(S, p);
                a0 = FloatVector.fromArray(S, v, vo).fma(pv, a0);
                a1 = FloatVector.fromArray(S, v, vo + L).fma(pv, a1);
                a2 = FloatVector.fromArray(S, v, vo + 2 * L).fma(pv, a2);
                a3 = FloatVector.fromArray(S, v, vo + 3 * L).fma(pv, a3);
            }
            a0.mul(f).intoArray(o, oo + c);
            a1.mul(f).intoArray(o, oo + c + L);
            a2.mul(f).intoArray(o, oo + c + 2 * L);
            a3.mul(f).intoArray(o, oo + c + 3 * L);
        }
        for (; c < Dv; c += L) {
            VectorMask<Float> m = S.indexInRange(c, Dv);
            FloatVector a0 = FloatVector.zero(S), a1 = a0;
            int vo = vBase + c, j = 0;
            for (; j + 1 < n; j += 2, vo += 2 * vT) {
                a0 = FloatVector.fromArray(S, v, vo, m).fma(FloatVector.broadcast(S, w[wOff + j]), a0);
                a1 = FloatVector.fromArray(S, v, vo + vT, m).fma(FloatVector.broadcast(S, w[wOff + j + 1]), a1);
            }
            if (j < n) a0 = FloatVector.fromArray(S, v, vo, m).fma(FloatVector.broadcast(S, w[wOff + j]), a0);
            a0.add(a1).mul(f).intoArray(o, oo + c, m);
        }
    }

    /** dst_j += f * w[j] * x for j < n, dst_j at dBase + j*ld, x at xo (length Dx). */
    private static void rank1(float[] w, int wOff, int n, float[] x, int xo, float[] dst, int dBase, int ld, int Dx, float f) {
        for (int j = 0; j < n; j++) {
            float p = w[wOff + j] * f;
            if (p == 0f) continue;
            FloatVector pv = FloatVector.broadcast(S, p);
            int ro = dBase + j * ld;
            for (int c = 0; c < Dx; c += L) {
                VectorMask<Float> m = S.indexInRange(c, Dx);
                FloatVector.fromArray(S, x, xo + c, m).fma(pv, FloatVector.fromArray(S, dst, ro + c, m))
                        .intoArray(dst, ro + c, m);
            }
        }
    }

    /**
     * Scores of R query rows (x rows at xo[r], length D) against keys [0,n) from the transposed K at
     * sc[ktOff + d*TkP + j]; row r goes to sc[sOff + r*TkP + j] (values past n are scratch).
     */
    private static void scores4(float[] x, int[] xo, int D, float[] sc, int ktOff, int TkP, int sOff, int n,
                                float scale) {
        int x0 = xo[0], x1 = xo[1], x2 = xo[2], x3 = xo[3];
        int s0 = sOff, s1 = sOff + TkP, s2 = sOff + 2 * TkP, s3 = sOff + 3 * TkP;
        int j = 0;
        for (; j + L < n; j += 2 * L) {
            FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00;
            FloatVector a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            int kt = ktOff + j;
            for (int d = 0; d < D; d++, kt += TkP) {
                FloatVector k0 = FloatVector.fromArray(S, sc, kt), k1 = FloatVector.fromArray(S, sc, kt + L);
                FloatVector b0 = FloatVector.broadcast(S, x[x0 + d]);
                a00 = k0.fma(b0, a00); a01 = k1.fma(b0, a01);
                FloatVector b1 = FloatVector.broadcast(S, x[x1 + d]);
                a10 = k0.fma(b1, a10); a11 = k1.fma(b1, a11);
                FloatVector b2 = FloatVector.broadcast(S, x[x2 + d]);
                a20 = k0.fma(b2, a20); a21 = k1.fma(b2, a21);
                FloatVector b3 = FloatVector.broadcast(S, x[x3 + d]);
                a30 = k0.fma(b3, a30); a31 = k1.fma(b3, a31);
            }
            a00.mul(scale).intoArray(sc, s0 + j); a01.mul(scale).intoArray(sc, s0 + j + L);
            a10.mul(scale).intoArray(sc, s1 + j); a11.mul(scale).intoArray(sc, s1 + j + L);
            a20.mul(scale).intoArray(sc, s2 + j); a21.mul(scale).intoArray(sc, s2 + j + L);
            a30.mul(scale).intoArray(sc, s3 + j); a31.mul(scale).intoArray(sc, s3 + j + L);
        }
        for (; j < n; j += L) {
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int kt = ktOff + j;
            for (int d = 0; d < D; d++, kt += TkP) {
                FloatVector k0 = FloatVector.fromArray(S, sc, kt);
                a0 = k0.fma(FloatVector.broadcast(S, x[x0 + d]), a0);
                a1 = k0.fma(FloatVector.broadcast(S, x[x1 + d]), a1);
                a2 = k0.fma(FloatVector.broadcast(S, x[x2 + d]), a2);
                a3 = k0.fma(FloatVector.broadcast(S, x[x3 + d]), a3);
            }
            a0.mul(scale).intoArray(sc, s0 + j);
            a1.mul(scale).intoArray(sc, s1 + j);
            a2.mul(scale).intoArray(sc, s2 + j);
            a3.mul(scale).intoArray(sc, s3 + j);
        }
    }

    /**
     * Sets s[lim, n) to -inf (causal limit inside a row block, padding up to whole vectors), adds the
     * mask over [0, lim), and returns the max, over [0, n) so that whole vectors are compared.
     */
    private static float limitAndMask(float[] s, int so, int lim, int n, float[] mask, int mRow, int msJ) {
        if (lim < n) Arrays.fill(s, so + lim, so + n, Float.NEGATIVE_INFINITY);
        if (mask != null) {
            if (msJ == 1) {
                int j = 0;
                for (int ub = S.loopBound(lim); j < ub; j += L) {
                    FloatVector.fromArray(S, s, so + j).add(FloatVector.fromArray(S, mask, mRow + j)).intoArray(s, so + j);
                }
                for (; j < lim; j++) s[so + j] += mask[mRow + j];
            } else {
                for (int j = 0; j < lim; j++) s[so + j] += mask[mRow + j * msJ];
            }
        }
        return FusedKernels.max(s, so, n);
    }

    /**
     * o_r[0..Dv) = f[r] * sum_{j<n} w_r[j] * V_j for the first nr of R rows; w_r at wOff + r*TkP,
     * V_j at vBase + j*vT, o_r at oo[r].
     */
    private static void combine4(float[] w, int wOff, int TkP, int n, float[] v, int vBase, int vT, int Dv, float[] f,
                                 float[] o, int[] oo, int nr) {
        int w0 = wOff, w1 = wOff + TkP, w2 = wOff + 2 * TkP, w3 = wOff + 3 * TkP;
        int c = 0;
        for (; c + 2 * L <= Dv; c += 2 * L) {
            FloatVector a00 = FloatVector.zero(S), a01 = a00, a10 = a00, a11 = a00;
            FloatVector a20 = a00, a21 = a00, a30 = a00, a31 = a00;
            int vo = vBase + c;
            for (int j = 0; j < n; j++, vo += vT) {
                FloatVector v0 = FloatVector.fromArray(S, v, vo), v1 = FloatVector.fromArray(S, v, vo + L);
                FloatVector p0 = FloatVector.broadcast(S, w[w0 + j]);
                a00 = v0.fma(p0, a00); a01 = v1.fma(p0, a01);
                FloatVector p1 = FloatVector.broadcast(S, w[w1 + j]);
                a10 = v0.fma(p1, a10); a11 = v1.fma(p1, a11);
                FloatVector p2 = FloatVector.broadcast(S, w[w2 + j]);
                a20 = v0.fma(p2, a20); a21 = v1.fma(p2, a21);
                FloatVector p3 = FloatVector.broadcast(S, w[w3 + j]);
                a30 = v0.fma(p3, a30); a31 = v1.fma(p3, a31);
            }
            a00.mul(f[0]).intoArray(o, oo[0] + c); a01.mul(f[0]).intoArray(o, oo[0] + c + L);
            if (nr > 1) { a10.mul(f[1]).intoArray(o, oo[1] + c); a11.mul(f[1]).intoArray(o, oo[1] + c + L); }
            if (nr > 2) { a20.mul(f[2]).intoArray(o, oo[2] + c); a21.mul(f[2]).intoArray(o, oo[2] + c + L); }
            if (nr > 3) { a30.mul(f[3]).intoArray(o, oo[3] + c); a31.mul(f[3]).intoArray(o, oo[3] + c + L); }
        }
        for (; c < Dv; c += L) {
            VectorMask<Float> m = S.indexInRange(c, Dv);
            FloatVector a0 = FloatVector.zero(S), a1 = a0, a2 = a0, a3 = a0;
            int vo = vBase + c;
            for (int j = 0; j < n; j++, vo += vT) {
                FloatVector v0 = FloatVector.fromArray(S, v, vo, m);
                a0 = v0.fma(FloatVector.broadcast(S, w[w0 + j]), a0);
                a1 = v0.fma(FloatVector.broadcast(S, w[w1 + j]), a1);
                a2 = v0.fma(FloatVector.broadcast(S, w[w2 + j]), a2);
                a3 = v0.fma(FloatVector.broadcast(S, w[w3 + j]), a3);
            }
            a0.mul(f[0]).intoArray(o, oo[0] + c, m);
            if (nr > 1) a1.mul(f[1]).intoArray(o, oo[1] + c, m);
            if (nr > 2) a2.mul(f[2]).intoArray(o, oo[2] + c, m);
            if (nr > 3) a3.mul(f[3]).intoArray(o, oo[3] + c, m);
        }
    }

    /** dst_j += sum_r w_r[j] * x_r for j < n (rank-R update); w_r at wOff + r*TkP, x_r at xo[r], dst_j at dBase + j*ld. */
    private static void rank4(float[] w, int wOff, int TkP, int n, float[] x, int[] xo, float[] dst, int dBase, int ld, int Dx) {
        int w0 = wOff, w1 = wOff + TkP, w2 = wOff + 2 * TkP, w3 = wOff + 3 * TkP;
        for (int c = 0; c < Dx; c += L) {
            VectorMask<Float> m = S.indexInRange(c, Dx);
            FloatVector x0 = FloatVector.fromArray(S, x, xo[0] + c, m), x1 = FloatVector.fromArray(S, x, xo[1] + c, m);
            FloatVector x2 = FloatVector.fromArray(S, x, xo[2] + c, m), x3 = FloatVector.fromArray(S, x, xo[3] + c, m);
            int ro = dBase + c;
            if (c + L <= Dx) {
                for (int j = 0; j < n; j++, ro += ld) {
                    FloatVector t0 = x0.mul(w[w0 + j]), t1 = x2.mul(w[w2 + j]);
                    t0 = x1.fma(FloatVector.broadcast(S, w[w1 + j]), t0);
                    t1 = x3.fma(FloatVector.broadcast(S, w[w3 + j]), t1);
                    FloatVector.fromArray(S, dst, ro).add(t0.add(t1)).intoArray(dst, ro);
                }
            } else {
                for (int j = 0; j < n; j++, ro += ld) {
                    FloatVector t0 = x0.mul(w[w0 + j]), t1 = x2.mul(w[w2 + j]);
                    t0 = x1.fma(FloatVector.broadcast(S, w[w1 + j]), t0);
                    t1 = x3.fma(FloatVector.broadcast(S, w[w3 + j]), t1);
                    FloatVector.fromArray(S, dst, ro, m).add(t0.add(t1)).intoArray(dst, ro, m);
                }
            }
        }
    }
}
