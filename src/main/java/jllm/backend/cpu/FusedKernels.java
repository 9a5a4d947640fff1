package jllm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Fused CPU kernels over raw row-major {@code float[]} buffers: softmax and log-softmax (here),
 * plus shared vector helpers. Norms live in {@link NormKernels}, cross-entropy in
 * {@link LossKernels}, attention in {@link AttentionKernels}, activations in
 * {@link ActivationKernels}, optimizer updates in {@link OptimKernels}.
 *
 * <p>Every kernel that loops over rows takes a half-open row range {@code [rowStart, rowEnd)} so a
 * caller can split rows across its worker threads; kernels never start threads. Row {@code r} of
 * an operand with row length {@code C} starts at {@code off + r * C}.
 */
public final class FusedKernels {
    private FusedKernels() {}

    /** The preferred float species; static final so C2 can intrinsify every vector op. */
    public static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    static final int L = S.length();

    /**
     * Float lanes accumulate at most this many elements before the partial sum is folded into a
     * double, so that long rows (a 50k vocabulary, say) keep ~1e-7 relative accuracy.
     */
    static final int BLOCK = 512;

    // ---------------------------------------------------------------- shared helpers

    /** Sum of {@code a[off, off+n)}, float lanes folded into a double every {@link #BLOCK}. */
    static double sum(float[] a, int off, int n) {
        double total = 0;
        for (int b = 0; b < n; b += BLOCK) {
            int e = Math.min(n, b + BLOCK);
            FloatVector acc = FloatVector.zero(S);
            int i = b;
            for (int ub = b + S.loopBound(e - b); i < ub; i += L) {
                acc = acc.add(FloatVector.fromArray(S, a, off + i));
            }
            double t = LaneSum.sum(acc);
            for (; i < e; i++) t += a[off + i];
            total += t;
        }
        return total;
    }

    /** Dot product of two ranges, accumulated like {@link #sum}. */
    static double dot(float[] a, int aOff, float[] b, int bOff, int n) {
        double total = 0;
        for (int s = 0; s < n; s += BLOCK) {
            int e = Math.min(n, s + BLOCK);
            FloatVector acc = FloatVector.zero(S);
            int i = s;
            for (int ub = s + S.loopBound(e - s); i < ub; i += L) {
                acc = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc);
            }
            double t = LaneSum.sum(acc);
            for (; i < e; i++) t += (double) a[aOff + i] * b[bOff + i];
            total += t;
        }
        return total;
    }

    /**
     * Short float dot product (head dims); no double folding, two accumulators for latency. Under
     * one vector (head dims of 8 in stories260K-sized models) a scalar loop: the masked vector
     * path and its lane sum cost more than the eight products.
     */
    static float dotShort(float[] a, int aOff, float[] b, int bOff, int n) {
        if (n < L) {
            float s = 0;
            for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
            return s;
        }
        FloatVector acc0 = FloatVector.zero(S), acc1 = FloatVector.zero(S);
        int i = 0;
        for (int ub = n - 2 * L; i <= ub; i += 2 * L) {
            acc0 = FloatVector.fromArray(S, a, aOff + i).fma(FloatVector.fromArray(S, b, bOff + i), acc0);
            acc1 = FloatVector.fromArray(S, a, aOff + i + L).fma(FloatVector.fromArray(S, b, bOff + i + L), acc1);
        }
        for (; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            acc0 = FloatVector.fromArray(S, a, aOff + i, m).fma(FloatVector.fromArray(S, b, bOff + i, m), acc0);
        }
        return LaneSum.sum(acc0.add(acc1));
    }

    /** Max of {@code a[off, off+n)}; NaN-propagating like PyTorch's max reduction; -inf if n == 0. */
    static float max(float[] a, int off, int n) {
        FloatVector acc = FloatVector.broadcast(S, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += L) {
            acc = acc.max(FloatVector.fromArray(S, a, off + i));
        }
        float m = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) m = Math.max(m, a[off + i]);
        return m;
    }

    /** y[i] = exp(x[i] - shift) for i in [0,n); returns the sum of the written values. */
    static double expShiftSum(float[] x, int xOff, float[] y, int yOff, int n, float shift) {
        FloatVector sh = FloatVector.broadcast(S, shift);
        double total = 0;
        for (int b = 0; b < n; b += BLOCK) {
            int e = Math.min(n, b + BLOCK);
            FloatVector acc = FloatVector.zero(S);
            int i = b;
            for (int ub = b + S.loopBound(e - b); i < ub; i += L) {
                FloatVector ev = VecMath.exp(FloatVector.fromArray(S, x, xOff + i).sub(sh));
                ev.intoArray(y, yOff + i);
                acc = acc.add(ev);
            }
            double t = LaneSum.sum(acc);
            for (; i < e; i++) {
                float ev = (float) Math.exp(x[xOff + i] - shift);
                y[yOff + i] = ev;
                t += ev;
            }
            total += t;
        }
        return total;
    }

    /** Sum of exp(x[i] - shift) without writing anything. */
    static double expShiftSum(float[] x, int xOff, int n, float shift) {
        FloatVector sh = FloatVector.broadcast(S, shift);
        double total = 0;
        for (int b = 0; b < n; b += BLOCK) {
            int e = Math.min(n, b + BLOCK);
            FloatVector acc = FloatVector.zero(S);
            int i = b;
            for (int ub = b + S.loopBound(e - b); i < ub; i += L) {
                acc = acc.add(VecMath.exp(FloatVector.fromArray(S, x, xOff + i).sub(sh)));
            }
            double t = LaneSum.sum(acc);
            for (; i < e; i++) t += Math.exp(x[xOff + i] - shift);
            total += t;
        }
        return total;
    }

    /** a[off, off+n) *= s. */
    static void scaleInPlace(float[] a, int off, int n, float s) {
        FloatVector sv = FloatVector.broadcast(S, s);
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += L) {
            FloatVector.fromArray(S, a, off + i).mul(sv).intoArray(a, off + i);
        }
        for (; i < n; i++) a[off + i] *= s;
    }

    // ---------------------------------------------------------------- softmax

    /**
     * Softmax over the last dimension of length {@code C}: y = exp(x - max) / sum(exp(x - max)),
     * rows [rowStart,rowEnd). A row of all -inf yields NaN, as in PyTorch. y may alias x.
     */
    public static void softmaxForward(float[] x, int xOff, float[] y, int yOff, int C, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int xo = xOff + r * C, yo = yOff + r * C;
            float m = max(x, xo, C);
            double s = expShiftSum(x, xo, y, yo, C, m);
            scaleInPlace(y, yo, C, (float) (1.0 / s));
        }
    }

    /** Softmax backward from the saved output: dx = y * (dy - sum(dy * y)). dx may alias dy. */
    public static void softmaxBackward(float[] y, int yOff, float[] dy, int dyOff, float[] dx, int dxOff,
                                       int C, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int yo = yOff + r * C, go = dyOff + r * C, xo = dxOff + r * C;
            FloatVector d = FloatVector.broadcast(S, (float) dot(dy, go, y, yo, C));
            int i = 0;
            for (int ub = S.loopBound(C); i < ub; i += L) {
                FloatVector yv = FloatVector.fromArray(S, y, yo + i);
                yv.mul(FloatVector.fromArray(S, dy, go + i).sub(d)).intoArray(dx, xo + i);
            }
            float ds = d.lane(0);
            for (; i < C; i++) dx[xo + i] = y[yo + i] * (dy[go + i] - ds);
        }
    }

    /** Log-softmax over the last dimension: y = x - max - log(sum(exp(x - max))). y may alias x. */
    public static void logSoftmaxForward(float[] x, int xOff, float[] y, int yOff, int C, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int xo = xOff + r * C, yo = yOff + r * C;
            float m = max(x, xo, C);
            float shift = (float) (m + Math.log(expShiftSum(x, xo, C, m)));
            FloatVector sh = FloatVector.broadcast(S, shift);
            int i = 0;
            for (int ub = S.loopBound(C); i < ub; i += L) {
                FloatVector.fromArray(S, x, xo + i).sub(sh).intoArray(y, yo + i);
            }
            for (; i < C; i++) y[yo + i] = x[xo + i] - shift;
        }
    }

    /** Log-softmax backward from the saved output: dx = dy - exp(y) * sum(dy). dx may alias dy. */
    public static void logSoftmaxBackward(float[] y, int yOff, float[] dy, int dyOff, float[] dx, int dxOff,
                                          int C, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int yo = yOff + r * C, go = dyOff + r * C, xo = dxOff + r * C;
            float s = (float) sum(dy, go, C);
            FloatVector sv = FloatVector.broadcast(S, s);
            int i = 0;
            for (int ub = S.loopBound(C); i < ub; i += L) {
                FloatVector e = VecMath.exp(FloatVector.fromArray(S, y, yo + i));
                FloatVector.fromArray(S, dy, go + i).sub(e.mul(sv)).intoArray(dx, xo + i);
            }
            for (; i < C; i++) dx[xo + i] = dy[go + i] - (float) Math.exp(y[yo + i]) * s;
        }
    }
}
