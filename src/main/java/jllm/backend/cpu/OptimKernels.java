package jllm.backend.cpu;

import static jllm.backend.cpu.FusedKernels.L;
import static jllm.backend.cpu.FusedKernels.S;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Optimizer updates over contiguous ranges {@code [off, off+n)} (a caller may split a parameter
 * into chunks across threads), reproducing torch.optim's single-tensor (foreach=False) code paths:
 * scalar hyper-parameters are combined in double, as Python floats are, then cast to float, and
 * the tensor arithmetic is done in float in the same order as PyTorch's CPU kernels.
 */
public final class OptimKernels {
    private OptimKernels() {}

    /**
     * One torch.optim.AdamW step (amsgrad=False, maximize=False) for step number {@code step}
     * (1-based, already incremented):
     * p *= 1 - lr*wd; m.lerp_(g, 1-b1); v = v*b2 + (1-b2)*g*g;
     * p += -(lr/(1-b1^step)) * m / (sqrt(v)/sqrt(1-b2^step) + eps).
     */
    public static void adamw(float[] p, int pOff, float[] g, int gOff, float[] m, int mOff, float[] v, int vOff,
                             int n, double lr, double beta1, double beta2, double eps, double weightDecay, long step) {
        adam(p, pOff, g, gOff, m, mOff, v, vOff, n, lr, beta1, beta2, eps, weightDecay, step, true);
    }

    /**
     * One torch.optim.Adam step; {@code decoupled} selects AdamW's decoupled weight decay
     * (p *= 1 - lr*wd) instead of Adam's L2 term (g += wd*p).
     */
    public static void adam(float[] p, int pOff, float[] g, int gOff, float[] m, int mOff, float[] v, int vOff,
                            int n, double lr, double beta1, double beta2, double eps, double weightDecay, long step,
                            boolean decoupled) {
        if (step < 1) throw new IllegalArgumentException("adam: step must be >= 1, got " + step);
        float decay = (float) (1.0 - lr * weightDecay);
        float wd = (float) weightDecay;
        boolean doDecay = weightDecay != 0.0;
        float w = (float) (1.0 - beta1);           // lerp weight
        boolean lerpSmall = Math.abs(w) < 0.5f;
        float b2 = (float) beta2;
        float c2 = (float) (1.0 - beta2);
        double bc1 = 1.0 - Math.pow(beta1, step);
        double bc2 = 1.0 - Math.pow(beta2, step);
        float negStep = (float) -(lr / bc1);
        float bc2s = (float) Math.sqrt(bc2);
        float epsF = (float) eps;

        FloatVector decayV = FloatVector.broadcast(S, decay), wdV = FloatVector.broadcast(S, wd);
        FloatVector wV = FloatVector.broadcast(S, w), w1V = FloatVector.broadcast(S, 1f - w);
        FloatVector b2V = FloatVector.broadcast(S, b2), c2V = FloatVector.broadcast(S, c2);
        FloatVector stV = FloatVector.broadcast(S, negStep), bcV = FloatVector.broadcast(S, bc2s);
        FloatVector epsV = FloatVector.broadcast(S, epsF);
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += L) {
            FloatVector pv = FloatVector.fromArray(S, p, pOff + i);
            FloatVector gv = FloatVector.fromArray(S, g, gOff + i);
            FloatVector mv = FloatVector.fromArray(S, m, mOff + i);
            FloatVector vv = FloatVector.fromArray(S, v, vOff + i);
            if (doDecay) {
                if (decoupled) pv = pv.mul(decayV);
                else gv = pv.fma(wdV, gv);
            }
            FloatVector diff = gv.sub(mv);
            mv = lerpSmall ? diff.fma(wV, mv) : gv.sub(diff.mul(w1V));
            vv = vv.mul(b2V).add(c2V.mul(gv).mul(gv));
            FloatVector denom = vv.lanewise(VectorOperators.SQRT).div(bcV).add(epsV);
            pv = pv.add(stV.mul(mv).div(denom));
            pv.intoArray(p, pOff + i);
            mv.intoArray(m, mOff + i);
            vv.intoArray(v, vOff + i);
        }
        for (; i < n; i++) {
            float pv = p[pOff + i], gv = g[gOff + i], mv = m[mOff + i], vv = v[vOff + i];
            if (doDecay) {
                if (decoupled) pv = pv * decay;
                else gv = Math.fma(pv, wd, gv);
            }
            float diff = gv - mv;
            mv = lerpSmall ? Math.fma(diff, w, mv) : gv - diff * (1f - w);
            vv = vv * b2 + c2 * gv * gv;
            float denom = (float) Math.sqrt(vv) / bc2s + epsF;
            pv = pv + negStep * mv / denom;
            p[pOff + i] = pv;
            m[mOff + i] = mv;
            v[vOff + i] = vv;
        }
    }

    /**
     * One torch.optim.SGD step (maximize=False): g' = g + wd*p; with momentum, buf = g' on the first
     * step ({@code firstStep}: the buffer did not exist yet, it is written here) else
     * buf = momentum*buf + (1-dampening)*g'; g' = nesterov ? g' + momentum*buf : buf; p -= lr*g'.
     * buf may be null when momentum == 0. g is not modified.
     */
    public static void sgd(float[] p, int pOff, float[] g, int gOff, float[] buf, int bufOff, int n,
                           double lr, double momentum, double dampening, double weightDecay,
                           boolean nesterov, boolean firstStep) {
        float wd = (float) weightDecay, mom = (float) momentum, damp = (float) (1.0 - dampening);
        float negLr = (float) -lr;
        boolean doDecay = weightDecay != 0.0, doMom = momentum != 0.0;
        if (doMom && buf == null) throw new IllegalArgumentException("sgd: momentum buffer required when momentum != 0");
        FloatVector wdV = FloatVector.broadcast(S, wd), momV = FloatVector.broadcast(S, mom);
        FloatVector dampV = FloatVector.broadcast(S, damp), lrV = FloatVector.broadcast(S, negLr);
        int i = 0;
        for (int ub = S.loopBound(n); i < ub; i += L) {
            FloatVector pv = FloatVector.fromArray(S, p, pOff + i);
            FloatVector gv = FloatVector.fromArray(S, g, gOff + i);
            if (doDecay) gv = pv.fma(wdV, gv);
            if (doMom) {
                FloatVector bv;
                if (firstStep) {
                    bv = gv;
                } else {
                    bv = FloatVector.fromArray(S, buf, bufOff + i).mul(momV);
                    bv = gv.fma(dampV, bv);
                }
                bv.intoArray(buf, bufOff + i);
                gv = nesterov ? bv.fma(momV, gv) : bv;
            }
            gv.fma(lrV, pv).intoArray(p, pOff + i);
        }
        for (; i < n; i++) {
            float pv = p[pOff + i], gv = g[gOff + i];
            if (doDecay) gv = Math.fma(pv, wd, gv);
            if (doMom) {
                float bv = firstStep ? gv : Math.fma(gv, damp, buf[bufOff + i] * mom);
                buf[bufOff + i] = bv;
                gv = nesterov ? Math.fma(bv, mom, gv) : bv;
            }
            p[pOff + i] = Math.fma(gv, negLr, pv);
        }
    }

    /** Sum of squares of a[off, off+n) in double (per-chunk float lanes), for clip_grad_norm. */
    public static double sumOfSquares(float[] a, int off, int n) {
        return FusedKernels.dot(a, off, a, off, n);
    }

    /** a[off, off+n) *= s (e.g. the clip coefficient). */
    public static void scale(float[] a, int off, int n, float s) {
        FusedKernels.scaleInPlace(a, off, n, s);
    }
}
