package jllm.backend.cpu;

import jllm.tensor.DType;
import jllm.tensor.Shape;
import jllm.tensor.Tensor;

import java.util.Arrays;

/**
 * Tensor-level wrappers of the fused kernels: make operands contiguous F32, allocate outputs,
 * and split rows (or heads) over the worker pool.
 */
final class Fused {
    private Fused() {}

    private static int lastDim(Tensor t) { return t.dim() == 0 ? 1 : t.shape()[t.dim() - 1]; }

    private static int rowsOf(Tensor t) {
        int c = lastDim(t);
        return c == 0 ? 0 : t.numel() / c;
    }

    private static void rows(int rows, int cols, Parallel.RangeBody body) {
        if ((long) rows * cols >= 4096) Parallel.forRange(rows, Math.max(1, 4096 / Math.max(cols, 1)), body);
        else body.run(0, rows);
    }

    static Tensor softmax(Tensor x, boolean log) {
        Tensor c = CpuBackend.cf(x);
        int C = lastDim(c), R = rowsOf(c);
        Tensor y = CpuBackend.alloc(DType.F32, c.shape());
        float[] xa = CpuBackend.f(c), ya = CpuBackend.f(y);
        int xo = c.storageOffset();
        rows(R, C, (s, e) -> {
            if (log) FusedKernels.logSoftmaxForward(xa, xo, ya, 0, C, s, e);
            else FusedKernels.softmaxForward(xa, xo, ya, 0, C, s, e);
        });
        return y;
    }

    static Tensor softmaxBackward(Tensor y, Tensor dy, boolean log) {
        Tensor yc = CpuBackend.cf(y), gc = CpuBackend.cf(dy);
        int C = lastDim(yc), R = rowsOf(yc);
        Tensor dx = CpuBackend.alloc(DType.F32, yc.shape());
        float[] ya = CpuBackend.f(yc), ga = CpuBackend.f(gc), da = CpuBackend.f(dx);
        int yo = yc.storageOffset(), go = gc.storageOffset();
        rows(R, C, (s, e) -> {
            if (log) FusedKernels.logSoftmaxBackward(ya, yo, ga, go, da, 0, C, s, e);
            else FusedKernels.softmaxBackward(ya, yo, ga, go, da, 0, C, s, e);
        });
        return dx;
    }

    private static float[] arr(Tensor t) { return t == null ? null : CpuBackend.f(t); }

    private static int off(Tensor t) { return t == null ? 0 : t.storageOffset(); }

    private static int[] rowShape(Tensor x) {
        int[] s = x.shape();
        return Arrays.copyOf(s, Math.max(s.length - 1, 0));
    }

    static Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        Tensor c = CpuBackend.cf(x);
        Tensor w = weight == null ? null : CpuBackend.cf(weight), b = bias == null ? null : CpuBackend.cf(bias);
        int C = lastDim(c), R = rowsOf(c);
        Tensor y = CpuBackend.alloc(DType.F32, c.shape());
        Tensor mean = CpuBackend.alloc(DType.F32, rowShape(c)), rstd = CpuBackend.alloc(DType.F32, rowShape(c));
        float[] xa = CpuBackend.f(c), ya = CpuBackend.f(y), ma = CpuBackend.f(mean), ra = CpuBackend.f(rstd);
        float[] wa = arr(w), ba = arr(b);
        int xo = c.storageOffset(), wo = off(w), bo = off(b);
        rows(R, C, (s, e) -> NormKernels.layerNormForward(xa, xo, wa, wo, ba, bo, ya, 0, ma, 0, ra, 0, C, (float) eps, s, e));
        return new Tensor[] {y, mean, rstd};
    }

    /** Splits rows into one chunk per thread, each with its own parameter-gradient partials, then sums them. */
    private interface ChunkBody {
        void run(int start, int end, float[] dw, float[] db);
    }

    private static void withPartials(int R, int C, boolean needW, boolean needB, float[] dwOut, float[] dbOut, ChunkBody body) {
        int chunks = (long) R * C >= 4096 ? Math.min(Parallel.threads(), Math.max(R, 1)) : 1;
        float[][] pw = new float[chunks][], pb = new float[chunks][];
        for (int i = 0; i < chunks; i++) {
            pw[i] = needW ? (i == 0 ? dwOut : new float[C]) : null;
            pb[i] = needB ? (i == 0 ? dbOut : new float[C]) : null;
        }
        int per = (R + chunks - 1) / Math.max(chunks, 1);
        Parallel.forRange(chunks, 1, (s, e) -> {
            for (int i = s; i < e; i++) body.run(Math.min(R, i * per), Math.min(R, (i + 1) * per), pw[i], pb[i]);
        });
        for (int i = 1; i < chunks; i++) {
            if (needW) Elementwise.addInto(pw[i], 0, dwOut, 0, C);
            if (needB) Elementwise.addInto(pb[i], 0, dbOut, 0, C);
        }
    }

    static Tensor[] layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor weight, boolean hasBias) {
        Tensor g = CpuBackend.cf(dy), c = CpuBackend.cf(x), m = CpuBackend.cf(mean), r = CpuBackend.cf(rstd);
        Tensor w = weight == null ? null : CpuBackend.cf(weight);
        int C = lastDim(c), R = rowsOf(c);
        Tensor dx = CpuBackend.alloc(DType.F32, c.shape());
        Tensor dw = w == null ? null : CpuBackend.alloc(DType.F32, new int[] {C});
        Tensor db = hasBias ? CpuBackend.alloc(DType.F32, new int[] {C}) : null;
        float[] ga = CpuBackend.f(g), xa = CpuBackend.f(c), ma = CpuBackend.f(m), ra = CpuBackend.f(r), dxa = CpuBackend.f(dx);
        float[] wa = arr(w);
        int go = g.storageOffset(), xo = c.storageOffset(), mo = m.storageOffset(), ro = r.storageOffset(), wo = off(w);
        withPartials(R, C, dw != null, db != null, arr(dw), arr(db), (s, e, pw, pb) ->
                NormKernels.layerNormBackward(ga, go, xa, xo, wa, wo, ma, mo, ra, ro, dxa, 0, pw, 0, pb, 0, C, s, e));
        return new Tensor[] {dx, dw, db};
    }

    static Tensor[] rmsNorm(Tensor x, Tensor weight, double eps) {
        Tensor c = CpuBackend.cf(x);
        Tensor w = weight == null ? null : CpuBackend.cf(weight);
        int C = lastDim(c), R = rowsOf(c);
        Tensor y = CpuBackend.alloc(DType.F32, c.shape());
        Tensor rstd = CpuBackend.alloc(DType.F32, rowShape(c));
        float[] xa = CpuBackend.f(c), ya = CpuBackend.f(y), ra = CpuBackend.f(rstd), wa = arr(w);
        int xo = c.storageOffset(), wo = off(w);
        rows(R, C, (s, e) -> NormKernels.rmsNormForward(xa, xo, wa, wo, ya, 0, ra, 0, C, (float) eps, s, e));
        return new Tensor[] {y, rstd};
    }

    static Tensor[] rmsNormBackward(Tensor dy, Tensor x, Tensor rstd, Tensor weight) {
        Tensor g = CpuBackend.cf(dy), c = CpuBackend.cf(x), r = CpuBackend.cf(rstd);
        Tensor w = weight == null ? null : CpuBackend.cf(weight);
        int C = lastDim(c), R = rowsOf(c);
        Tensor dx = CpuBackend.alloc(DType.F32, c.shape());
        Tensor dw = w == null ? null : CpuBackend.alloc(DType.F32, new int[] {C});
        float[] ga = CpuBackend.f(g), xa = CpuBackend.f(c), ra = CpuBackend.f(r), dxa = CpuBackend.f(dx), wa = arr(w);
        int go = g.storageOffset(), xo = c.storageOffset(), ro = r.storageOffset(), wo = off(w);
        withPartials(R, C, dw != null, false, arr(dw), null, (s, e, pw, pb) ->
                NormKernels.rmsNormBackward(ga, go, xa, xo, wa, wo, ra, ro, dxa, 0, pw, 0, C, s, e));
        return new Tensor[] {dx, dw};
    }

    private static int[] targetsOf(Tensor t) {
        return (int[]) (t.dtype() == DType.I32 ? t : t.to(DType.I32)).contiguous().toHostArray();
    }

    private static int ignore(long ignoreIndex) {
        return ignoreIndex < Integer.MIN_VALUE || ignoreIndex > Integer.MAX_VALUE ? Integer.MIN_VALUE : (int) ignoreIndex;
    }

    static Tensor[] crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing) {
        Tensor c = CpuBackend.cf(logits);
        int V = c.shape()[1], N = c.shape()[0];
        int[] t = targetsOf(targets);
        Tensor loss = CpuBackend.alloc(DType.F32, new int[] {N}), lse = CpuBackend.alloc(DType.F32, new int[] {N});
        float[] xa = CpuBackend.f(c), la = CpuBackend.f(loss), sa = CpuBackend.f(lse);
        int xo = c.storageOffset();
        rows(N, V, (s, e) -> LossKernels.crossEntropyForward(xa, xo, t, 0, la, 0, sa, 0, V, ignore(ignoreIndex), (float) labelSmoothing, s, e));
        return new Tensor[] {loss, lse};
    }

    static Tensor crossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor gradPerRow, long ignoreIndex,
                                       double labelSmoothing) {
        Tensor c = CpuBackend.cf(logits), l = CpuBackend.cf(lse);
        Tensor g = CpuBackend.cf(gradPerRow);
        int V = c.shape()[1], N = c.shape()[0];
        int[] t = targetsOf(targets);
        int gStride = g.numel() == 1 ? 0 : 1;
        Tensor dx = CpuBackend.alloc(DType.F32, c.shape());
        float[] xa = CpuBackend.f(c), sa = CpuBackend.f(l), ga = CpuBackend.f(g), da = CpuBackend.f(dx);
        int xo = c.storageOffset(), so = l.storageOffset(), go = g.storageOffset();
        rows(N, V, (s, e) -> LossKernels.crossEntropyBackward(xa, xo, t, 0, sa, so, ga, go, gStride, da, 0, V,
                ignore(ignoreIndex), (float) labelSmoothing, s, e));
        return dx;
    }

    /** Mask strides for [B,H,Tq,Tk] broadcasting. */
    private static int[] maskStrides(Tensor mask, int B, int H, int Tq, int Tk) {
        int[] target = {B, H, Tq, Tk};
        return Shape.broadcastStrides(mask.shape(), mask.stride(), target);
    }

    /** The rows of a rank-4 F32 tensor read in place when its last dim is contiguous, else of a contiguous copy. */
    private static AttentionKernels.Rows rows(Tensor t) {
        Tensor c = t.dtype() == DType.F32 && (t.stride(3) == 1 || t.size(3) == 1) ? t : CpuBackend.cf(t);
        int[] st = c.stride();
        return new AttentionKernels.Rows(CpuBackend.f(c), c.storageOffset(), st[0], st[1], st[2]);
    }

    /**
     * A fresh [B, H, T, W] tensor laid out like like: as a [B, T, H, W] buffer seen through
     * transpose(1, 2) when like is such a view (the heads of a [B, T, C] projection, the layout
     * PyTorch's CPU flash attention returns), else contiguous. Fresh arrays are zero.
     */
    private static Tensor allocLike(Tensor like, int w) {
        int[] s = like.shape();
        if (like.stride(1) < like.stride(2) && s[1] > 1 && s[2] > 1) {
            return CpuBackend.alloc(DType.F32, new int[] {s[0], s[2], s[1], w}).transpose(1, 2);
        }
        return CpuBackend.alloc(DType.F32, new int[] {s[0], s[1], s[2], w});
    }

    static Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale) {
        int[] qs = q.shape(), ks = k.shape(), vs = v.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2], Dv = vs[3];
        Tensor out = allocLike(q, Dv);
        Tensor lse = CpuBackend.alloc(DType.F32, new int[] {B, H, Tq});
        Tensor m = mask == null ? null : mask.dtype() == DType.F32 ? mask : CpuBackend.convert(mask, DType.F32);
        int[] ms = m == null ? new int[4] : maskStrides(m, B, H, Tq, Tk);
        AttentionKernels.Rows qr = rows(q), kr = rows(k), vr = rows(v), or = rows(out);
        float[] la = CpuBackend.f(lse), ma = m == null ? null : CpuBackend.f(m);
        int mo = m == null ? 0 : m.storageOffset();
        int scratch = AttentionKernels.scratchSize(Tk, D, Dv);
        Parallel.forRange(B * H, 1, (s, e) -> AttentionKernels.attentionForward(qr, kr, vr, or, la, 0,
                H, Hkv, Tq, Tk, D, Dv, (float) scale, causal, ma, mo, ms[0], ms[1], ms[2], ms[3], AttentionKernels.scratch(scratch), s, e));
        return new Tensor[] {out, lse};
    }

    static Tensor[] attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale,
                                      Tensor out, Tensor lse) {
        Tensor dq = allocLike(q, q.size(3)), dk = allocLike(k, k.size(3)), dv = allocLike(v, v.size(3));
        attentionBackward(dout, q, k, v, mask, causal, scale, out, lse, dq, dk, dv);
        return new Tensor[] {dq, dk, dv};
    }

    /**
     * The backward writing into caller-given dq (overwritten) and dk, dv (accumulated into: pass
     * zeros), all [B, H|Hkv, T, W] F32 tensors with contiguous last dims, which may be views of one
     * buffer (such as the thirds of a fused [B, T, 3C] qkv gradient).
     */
    static void attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale,
                                  Tensor out, Tensor lse, Tensor dq, Tensor dk, Tensor dv) {
        int[] qs = q.shape(), ks = k.shape(), vs = v.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2], Dv = vs[3];
        Tensor lc = CpuBackend.cf(lse);
        Tensor m = mask == null ? null : mask.dtype() == DType.F32 ? mask : CpuBackend.convert(mask, DType.F32);
        int[] ms = m == null ? new int[4] : maskStrides(m, B, H, Tq, Tk);
        AttentionKernels.Rows qr = rows(q), kr = rows(k), vr = rows(v), or = rows(out), gr = rows(dout);
        AttentionKernels.Rows dqr = rows(dq), dkr = rows(dk), dvr = rows(dv);
        if (dqr.a() != CpuBackend.f(dq) || dkr.a() != CpuBackend.f(dk) || dvr.a() != CpuBackend.f(dv)) {
            throw new IllegalArgumentException("attention backward: dq, dk, dv must be float32 with a contiguous last dim");
        }
        float[] la = CpuBackend.f(lc), ma = m == null ? null : CpuBackend.f(m);
        int lo = lc.storageOffset(), mo = m == null ? 0 : m.storageOffset();
        int scratch = AttentionKernels.scratchSize(Tk, D, Dv);
        Parallel.forRange(B * Hkv, 1, (s, e) -> AttentionKernels.attentionBackward(qr, kr, vr, or, gr, la, lo, dqr, dkr, dvr,
                H, Hkv, Tq, Tk, D, Dv, (float) scale, causal, ma, mo, ms[0], ms[1], ms[2], ms[3], AttentionKernels.scratch(scratch), s, e));
    }

    private static void checkOptimOperand(Tensor t, String what) {
        if (t.dtype() != DType.F32 || !t.isContiguous()) {
            throw new IllegalArgumentException("optimizer " + what + " must be a contiguous float32 tensor, got "
                    + t.dtype().torchName() + " " + Arrays.toString(t.shape()));
        }
    }

    static void adamw(Tensor param, Tensor grad, Tensor m, Tensor v, double lr, double b1, double b2, double eps, double wd, long step) {
        checkOptimOperand(param, "parameter");
        checkOptimOperand(m, "exp_avg");
        checkOptimOperand(v, "exp_avg_sq");
        Tensor g = CpuBackend.cf(grad);
        int n = param.numel();
        float[] pa = CpuBackend.f(param), ga = CpuBackend.f(g), ma = CpuBackend.f(m), va = CpuBackend.f(v);
        int po = param.storageOffset(), go = g.storageOffset(), mo = m.storageOffset(), vo = v.storageOffset();
        Parallel.forRange(n, 1 << 14, (s, e) -> OptimKernels.adamw(pa, po + s, ga, go + s, ma, mo + s, va, vo + s, e - s,
                lr, b1, b2, eps, wd, step));
    }

    static Tensor sgd(Tensor param, Tensor grad, Tensor buf, double lr, double momentum, double dampening, double wd, boolean nesterov) {
        checkOptimOperand(param, "parameter");
        Tensor g = CpuBackend.cf(grad);
        boolean first = buf == null && momentum != 0;
        Tensor b = first ? CpuBackend.alloc(DType.F32, param.shape()) : buf;
        int n = param.numel();
        float[] pa = CpuBackend.f(param), ga = CpuBackend.f(g), ba = b == null ? null : CpuBackend.f(b);
        int po = param.storageOffset(), go = g.storageOffset(), bo = b == null ? 0 : b.storageOffset();
        Parallel.forRange(n, 1 << 14, (s, e) -> OptimKernels.sgd(pa, po + s, ga, go + s, ba, bo + s, e - s,
                lr, momentum, dampening, wd, nesterov, first));
        return b;
    }
}
