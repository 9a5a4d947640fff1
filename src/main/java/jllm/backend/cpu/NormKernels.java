package jllm.backend.cpu;

import static jllm.backend.cpu.FusedKernels.L;
import static jllm.backend.cpu.FusedKernels.S;

import jdk.incubator.vector.FloatVector;

/**
 * LayerNorm and RMSNorm over the last dimension {@code C} of row-major rows, forward and backward,
 * with PyTorch semantics. Row {@code r} starts at {@code off + r*C}; per-row statistics
 * (mean, rstd) live at {@code off + r}. Weight and bias are optional (pass null).
 *
 * <p>Backward kernels ACCUMULATE into dweight/dbias (caller zeroes them; with several threads give
 * each thread its own partial buffers and sum them afterwards), and overwrite dx.
 */
public final class NormKernels {
    private NormKernels() {}

    /**
     * LayerNorm forward: y = (x - mean) * rstd * w + b with rstd = 1/sqrt(var + eps), var biased
     * (divided by C). Saves mean and rstd per row when the arrays are non-null. y may alias x.
     */
    public static void layerNormForward(float[] x, int xOff, float[] w, int wOff, float[] b, int bOff,
                                        float[] y, int yOff, float[] mean, int meanOff, float[] rstd, int rstdOff,
                                        int C, float eps, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int xo = xOff + r * C, yo = yOff + r * C;
            float mu = (float) (FusedKernels.sum(x, xo, C) / C);
            // two-pass variance: exact enough and immune to the E[x^2]-E[x]^2 cancellation
            double var = sumSqDiff(x, xo, C, mu) / C;
            float rs = (float) (1.0 / Math.sqrt(var + eps));
            if (mean != null) mean[meanOff + r] = mu;
            if (rstd != null) rstd[rstdOff + r] = rs;
            FloatVector muv = FloatVector.broadcast(S, mu), rsv = FloatVector.broadcast(S, rs);
            int i = 0;
            for (int ub = S.loopBound(C); i < ub; i += L) {
                FloatVector h = FloatVector.fromArray(S, x, xo + i).sub(muv).mul(rsv);
                if (w != null) h = h.mul(FloatVector.fromArray(S, w, wOff + i));
                if (b != null) h = h.add(FloatVector.fromArray(S, b, bOff + i));
                h.intoArray(y, yo + i);
            }
            for (; i < C; i++) {
                float h = (x[xo + i] - mu) * rs;
                if (w != null) h *= w[wOff + i];
                if (b != null) h += b[bOff + i];
                y[yo + i] = h;
            }
        }
    }

    /**
     * LayerNorm backward. With xhat = (x-mean)*rstd and g = dy*w (or dy without weight):
     * dx = rstd * (g - mean(g) - xhat * mean(g*xhat)); dw += dy*xhat; db += dy.
     * dw/db may be null (not wanted). dx may alias dy.
     */
    public static void layerNormBackward(float[] dy, int dyOff, float[] x, int xOff, float[] w, int wOff,
                                         float[] mean, int meanOff, float[] rstd, int rstdOff,
                                         float[] dx, int dxOff, float[] dw, int dwOff, float[] db, int dbOff,
                                         int C, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int xo = xOff + r * C, go = dyOff + r * C, dxo = dxOff + r * C;
            float mu = mean[meanOff + r], rs = rstd[rstdOff + r];
            FloatVector muv = FloatVector.broadcast(S, mu), rsv = FloatVector.broadcast(S, rs);
            // pass 1: sum(g), sum(g*xhat); also the parameter gradients
            FloatVector sg = FloatVector.zero(S), sgx = FloatVector.zero(S);
            double sumG = 0, sumGX = 0;
            int i = 0;
            for (int ub = S.loopBound(C); i < ub; i += L) {
                FloatVector d = FloatVector.fromArray(S, dy, go + i);
                FloatVector xh = FloatVector.fromArray(S, x, xo + i).sub(muv).mul(rsv);
                FloatVector g = w == null ? d : d.mul(FloatVector.fromArray(S, w, wOff + i));
                sg = sg.add(g);
                sgx = g.fma(xh, sgx);
                if (dw != null) d.fma(xh, FloatVector.fromArray(S, dw, dwOff + i)).intoArray(dw, dwOff + i);
                if (db != null) d.add(FloatVector.fromArray(S, db, dbOff + i)).intoArray(db, dbOff + i);
                if ((i & (FusedKernels.BLOCK - 1)) == FusedKernels.BLOCK - L) {
                    sumG += LaneSum.sum(sg);
                    sumGX += LaneSum.sum(sgx);
                    sg = FloatVector.zero(S);
                    sgx = FloatVector.zero(S);
                }
            }
            sumG += LaneSum.sum(sg);
            sumGX += LaneSum.sum(sgx);
            for (; i < C; i++) {
                float d = dy[go + i];
                float xh = (x[xo + i] - mu) * rs;
                float g = w == null ? d : d * w[wOff + i];
                sumG += g;
                sumGX += (double) g * xh;
                if (dw != null) dw[dwOff + i] += d * xh;
                if (db != null) db[dbOff + i] += d;
            }
            float mg = (float) (sumG / C), mgx = (float) (sumGX / C);
            FloatVector mgv = FloatVector.broadcast(S, mg), mgxv = FloatVector.broadcast(S, mgx);
            i = 0;
            for (int ub = S.loopBound(C); i < ub; i += L) {
                FloatVector d = FloatVector.fromArray(S, dy, go + i);
                FloatVector xh = FloatVector.fromArray(S, x, xo + i).sub(muv).mul(rsv);
                FloatVector g = w == null ? d : d.mul(FloatVector.fromArray(S, w, wOff + i));
                g.sub(mgv).sub(xh.mul(mgxv)).mul(rsv).intoArray(dx, dxo + i);
            }
            for (; i < C; i++) {
                float d = dy[go + i];
                float xh = (x[xo + i] - mu) * rs;
                float g = w == null ? d : d * w[wOff + i];
                dx[dxo + i] = (g - mg - xh * mgx) * rs;
            }
        }
    }

    /**
     * RMSNorm forward: y = x * rstd * w with rstd = 1/sqrt(mean(x^2) + eps); saves rstd per row
     * when non-null. w may be null. y may alias x.
     */
    public static void rmsNormForward(float[] x, int xOff, float[] w, int wOff, float[] y, int yOff,
                                      float[] rstd, int rstdOff, int C, float eps, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int xo = xOff + r * C, yo = yOff + r * C;
            double ms = FusedKernels.dot(x, xo, x, xo, C) / C;
            float rs = (float) (1.0 / Math.sqrt(ms + eps));
            if (rstd != null) rstd[rstdOff + r] = rs;
            FloatVector rsv = FloatVector.broadcast(S, rs);
            int i = 0;
            for (int ub = S.loopBound(C); i < ub; i += L) {
                FloatVector h = FloatVector.fromArray(S, x, xo + i).mul(rsv);
                if (w != null) h = h.mul(FloatVector.fromArray(S, w, wOff + i));
                h.intoArray(y, yo + i);
            }
            for (; i < C; i++) {
                float h = x[xo + i] * rs;
                y[yo + i] = w != null ? h * w[wOff + i] : h;
            }
        }
    }

    /**
     * RMSNorm backward. With g = dy*w (or dy): dx = rstd * (g - x * rstd^2 * mean(g*x));
     * dw += dy * x * rstd (dw may be null). dx may alias dy.
     */
    public static void rmsNormBackward(float[] dy, int dyOff, float[] x, int xOff, float[] w, int wOff,
                                       float[] rstd, int rstdOff, float[] dx, int dxOff, float[] dw, int dwOff,
                                       int C, int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int xo = xOff + r * C, go = dyOff + r * C, dxo = dxOff + r * C;
            float rs = rstd[rstdOff + r];
            FloatVector rsv = FloatVector.broadcast(S, rs);
            double sgx;
            if (w == null) {
                sgx = FusedKernels.dot(dy, go, x, xo, C);
            } else {
                sgx = 0;
                FloatVector acc = FloatVector.zero(S);
                int i = 0;
                for (int ub = S.loopBound(C); i < ub; i += L) {
                    FloatVector d = FloatVector.fromArray(S, dy, go + i);
                    FloatVector xv = FloatVector.fromArray(S, x, xo + i);
                    acc = d.mul(FloatVector.fromArray(S, w, wOff + i)).fma(xv, acc);
                    if ((i & (FusedKernels.BLOCK - 1)) == FusedKernels.BLOCK - L) {
                        sgx += LaneSum.sum(acc);
                        acc = FloatVector.zero(S);
                    }
                }
                sgx += LaneSum.sum(acc);
                for (; i < C; i++) sgx += (double) (dy[go + i] * w[wOff + i]) * x[xo + i];
            }
            float c = (float) (sgx / C * rs * rs);
            FloatVector cv = FloatVector.broadcast(S, c);
            int i = 0;
            for (int ub = S.loopBound(C); i < ub; i += L) {
                FloatVector d = FloatVector.fromArray(S, dy, go + i);
                FloatVector xv = FloatVector.fromArray(S, x, xo + i);
                if (dw != null) {
                    d.mul(xv.mul(rsv)).add(FloatVector.fromArray(S, dw, dwOff + i)).intoArray(dw, dwOff + i);
                }
                FloatVector g = w == null ? d : d.mul(FloatVector.fromArray(S, w, wOff + i));
                g.sub(xv.mul(cv)).mul(rsv).intoArray(dx, dxo + i);
            }
            for (; i < C; i++) {
                float d = dy[go + i], xv = x[xo + i];
                if (dw != null) dw[dwOff + i] += d * (xv * rs);
                float g = w == null ? d : d * w[wOff + i];
                dx[dxo + i] = (g - xv * c) * rs;
            }
        }
    }

    private static double sumSqDiff(float[] x, int off, int n, float mu) {
        FloatVector muv = FloatVector.broadcast(S, mu);
        double total = 0;
        for (int b = 0; b < n; b += FusedKernels.BLOCK) {
            int e = Math.min(n, b + FusedKernels.BLOCK);
            FloatVector acc = FloatVector.zero(S);
            int i = b;
            for (int ub = b + S.loopBound(e - b); i < ub; i += L) {
                FloatVector d = FloatVector.fromArray(S, x, off + i).sub(muv);
                acc = d.fma(d, acc);
            }
            double t = LaneSum.sum(acc);
            for (; i < e; i++) {
                double d = x[off + i] - mu;
                t += d * d;
            }
            total += t;
        }
        return total;
    }
}
