package jllm.backend.cpu;

import static jllm.backend.cpu.FusedKernels.L;
import static jllm.backend.cpu.FusedKernels.S;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * Elementwise activations over contiguous ranges {@code [off, off+n)}, forward and backward, with
 * PyTorch's formulas, plus a vectorised float erf. Outputs may alias inputs (element i is read
 * before element i is written).
 */
public final class ActivationKernels {
    private ActivationKernels() {}

    // erf(x)/x = P(x^2) on [0,1); erfc(x)*exp(x^2) = Q(x) on [1,3.93); erf = 1 beyond (float).
    // Coefficients: our own weighted least-squares fit on Chebyshev nodes against mpmath; max
    // relative error 1.7e-7 (about 1.5 ulp) over all floats, checked in FusedKernelsTest.
    private static final float P0 = 1.128379225730896f, P1 = -0.37612637877464294f,
            P2 = 0.11283783614635468f, P3 = -0.02686547487974167f, P4 = 0.005221138708293438f,
            P5 = -0.0008485438884235919f, P6 = 0.0001127473806263879f, P7 = -9.689741091278847e-06f;
    private static final float Q0 = 0.9717466831207275f, Q1 = -0.9589799046516418f,
            Q2 = 0.5425196886062622f, Q3 = -0.01388295367360115f, Q4 = -0.2980801463127136f,
            Q5 = 0.31462812423706055f, Q6 = -0.1885107308626175f, Q7 = 0.0756242498755455f,
            Q8 = -0.021033531054854393f, Q9 = 0.004021008498966694f, Q10 = -0.000505480682477355f,
            Q11 = 3.768212627619505e-05f, Q12 = -1.2632701782422373e-06f;
    private static final float ERF_SPLIT = 1f, ERF_ONE = 3.93f;

    private static final float SQRT1_2 = (float) (1.0 / Math.sqrt(2.0));
    /** 1/sqrt(2*pi), PyTorch's M_2_SQRTPI * M_SQRT1_2 * 0.5. */
    private static final float INV_SQRT_2PI = (float) (1.0 / Math.sqrt(2.0 * Math.PI));
    /** sqrt(2/pi), PyTorch's M_SQRT2 * M_2_SQRTPI * 0.5. */
    private static final float K_BETA = (float) Math.sqrt(2.0 / Math.PI);
    private static final float K_KAPPA = 0.044715f;

    /** One Horner step: p*t + c. */
    private static FloatVector h(FloatVector p, FloatVector t, float c) {
        return p.fma(t, FloatVector.broadcast(S, c));
    }

    /** Vectorised erf; see the coefficient comment for accuracy. */
    public static FloatVector erf(FloatVector x) {
        FloatVector ax = x.abs();
        FloatVector t = ax.mul(ax);
        FloatVector p = FloatVector.broadcast(S, P7);
        p = h(h(h(h(h(h(h(p, t, P6), t, P5), t, P4), t, P3), t, P2), t, P1), t, P0);
        FloatVector small = ax.mul(p);
        FloatVector q = FloatVector.broadcast(S, Q12);
        q = h(h(h(h(h(h(q, ax, Q11), ax, Q10), ax, Q9), ax, Q8), ax, Q7), ax, Q6);
        q = h(h(h(h(h(h(q, ax, Q5), ax, Q4), ax, Q3), ax, Q2), ax, Q1), ax, Q0);
        FloatVector e = VecMath.exp(t.neg());
        FloatVector big = e.mul(q).neg().add(1f);
        FloatVector r = small.blend(big, ax.compare(VectorOperators.GE, ERF_SPLIT));
        r = r.blend(1f, ax.compare(VectorOperators.GE, ERF_ONE));
        return r.blend(r.neg(), x.compare(VectorOperators.LT, 0f));
    }

    /** Scalar erf with the same approximation as {@link #erf(FloatVector)}. */
    public static float erf(float x) {
        float ax = Math.abs(x);
        float r;
        if (Float.isNaN(x)) return x;
        if (ax < ERF_SPLIT) {
            float t = ax * ax;
            float p = P7;
            p = Math.fma(p, t, P6); p = Math.fma(p, t, P5); p = Math.fma(p, t, P4); p = Math.fma(p, t, P3);
            p = Math.fma(p, t, P2); p = Math.fma(p, t, P1); p = Math.fma(p, t, P0);
            r = ax * p;
        } else if (ax < ERF_ONE) {
            float q = Q12;
            q = Math.fma(q, ax, Q11); q = Math.fma(q, ax, Q10); q = Math.fma(q, ax, Q9); q = Math.fma(q, ax, Q8);
            q = Math.fma(q, ax, Q7); q = Math.fma(q, ax, Q6); q = Math.fma(q, ax, Q5); q = Math.fma(q, ax, Q4);
            q = Math.fma(q, ax, Q3); q = Math.fma(q, ax, Q2); q = Math.fma(q, ax, Q1); q = Math.fma(q, ax, Q0);
            r = 1f - (float) Math.exp(-(ax * ax)) * q;
        } else {
            r = 1f;
        }
        return x < 0 ? -r : r;
    }

    /** y = erf(x). */
    public static void erf(float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i += L) {
            if (i + L <= n) {
                erf(FloatVector.fromArray(S, x, xOff + i)).intoArray(y, yOff + i);
            } else {
                VectorMask<Float> m = S.indexInRange(i, n);
                erf(FloatVector.fromArray(S, x, xOff + i, m)).intoArray(y, yOff + i, m);
            }
        }
    }

    // ---------------------------------------------------------------- GELU (exact)

    private static FloatVector geluF(FloatVector x) {
        return x.mul(0.5f).mul(erf(x.mul(SQRT1_2)).add(1f));
    }

    private static FloatVector geluB(FloatVector x, FloatVector dy) {
        FloatVector cdf = erf(x.mul(SQRT1_2)).add(1f).mul(0.5f);
        FloatVector pdf = VecMath.exp(x.mul(x).mul(-0.5f)).mul(INV_SQRT_2PI);
        return dy.mul(x.fma(pdf, cdf));
    }

    /** GELU, approximate='none': y = 0.5*x*(1+erf(x/sqrt2)). */
    public static void geluForward(float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i += L) {
            if (i + L <= n) {
                geluF(FloatVector.fromArray(S, x, xOff + i)).intoArray(y, yOff + i);
            } else {
                VectorMask<Float> m = S.indexInRange(i, n);
                geluF(FloatVector.fromArray(S, x, xOff + i, m)).intoArray(y, yOff + i, m);
            }
        }
    }

    /** GELU backward: dx = dy * (0.5*(1+erf(x/sqrt2)) + x*exp(-x^2/2)/sqrt(2pi)). */
    public static void geluBackward(float[] x, int xOff, float[] dy, int dyOff, float[] dx, int dxOff, int n) {
        for (int i = 0; i < n; i += L) {
            if (i + L <= n) {
                geluB(FloatVector.fromArray(S, x, xOff + i), FloatVector.fromArray(S, dy, dyOff + i))
                        .intoArray(dx, dxOff + i);
            } else {
                VectorMask<Float> m = S.indexInRange(i, n);
                geluB(FloatVector.fromArray(S, x, xOff + i, m), FloatVector.fromArray(S, dy, dyOff + i, m))
                        .intoArray(dx, dxOff + i, m);
            }
        }
    }

    // ---------------------------------------------------------------- GELU (tanh)

    // 0.5*(1 + tanh(u)) = sigmoid(2u) = 1/(1 + exp(-2u)): the same function with one exp and one
    // divide, several times cheaper than the vector tanh. For large |u| the exp saturates to 0 or
    // inf and the result to x or -0, as tanh's does.
    private static FloatVector geluTanhF(FloatVector x) {
        FloatVector m2u = x.mul(x).fma(-2f * K_BETA * K_KAPPA, -2f * K_BETA).mul(x); // -2u
        return x.div(VecMath.exp(m2u).add(1f));
    }

    /** d/dx = s + x * 2 s (1 - s) * u', s = sigmoid(2u), u' = kBeta*(1 + 3 kKappa x^2) (tanh' = 4 s (1 - s)). */
    private static FloatVector geluTanhB(FloatVector x, FloatVector dy) {
        FloatVector x2 = x.mul(x);
        FloatVector m2u = x2.fma(-2f * K_BETA * K_KAPPA, -2f * K_BETA).mul(x);
        FloatVector sg = FloatVector.broadcast(S, 1f).div(VecMath.exp(m2u).add(1f));
        FloatVector du2 = x2.fma(6f * K_BETA * K_KAPPA, 2f * K_BETA); // 2u'
        FloatVector oneMinus = sg.neg().add(1f);
        return dy.mul(x.mul(du2).mul(oneMinus).fma(sg, sg));
    }

    /** GELU, approximate='tanh': y = 0.5*x*(1+tanh(sqrt(2/pi)*(x+0.044715*x^3))). */
    public static void geluTanhForward(float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i += L) {
            if (i + L <= n) {
                geluTanhF(FloatVector.fromArray(S, x, xOff + i)).intoArray(y, yOff + i);
            } else {
                VectorMask<Float> m = S.indexInRange(i, n);
                geluTanhF(FloatVector.fromArray(S, x, xOff + i, m)).intoArray(y, yOff + i, m);
            }
        }
    }

    /** GELU tanh backward with PyTorch's derivative: dy*(0.5*(1+th) + 0.5*x*(1-th^2)*kBeta*(1+3*kKappa*x^2)). */
    public static void geluTanhBackward(float[] x, int xOff, float[] dy, int dyOff, float[] dx, int dxOff, int n) {
        for (int i = 0; i < n; i += L) {
            if (i + L <= n) {
                geluTanhB(FloatVector.fromArray(S, x, xOff + i), FloatVector.fromArray(S, dy, dyOff + i))
                        .intoArray(dx, dxOff + i);
            } else {
                VectorMask<Float> m = S.indexInRange(i, n);
                geluTanhB(FloatVector.fromArray(S, x, xOff + i, m), FloatVector.fromArray(S, dy, dyOff + i, m))
                        .intoArray(dx, dxOff + i, m);
            }
        }
    }

    // ---------------------------------------------------------------- SiLU, sigmoid, tanh, relu

    /** SiLU: y = x / (1 + exp(-x)). */
    public static void siluForward(float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector xv = FloatVector.fromArray(S, x, xOff + i, m);
            xv.div(VecMath.exp(xv.neg()).add(1f)).intoArray(y, yOff + i, m);
        }
    }

    /** SiLU backward: dx = dy * s * (1 + x*(1-s)), s = sigmoid(x). */
    public static void siluBackward(float[] x, int xOff, float[] dy, int dyOff, float[] dx, int dxOff, int n) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector xv = FloatVector.fromArray(S, x, xOff + i, m);
            FloatVector s = one.div(VecMath.exp(xv.neg()).add(1f));
            FloatVector d = FloatVector.fromArray(S, dy, dyOff + i, m);
            d.mul(s).mul(xv.fma(one.sub(s), one)).intoArray(dx, dxOff + i, m);
        }
    }

    /** Sigmoid: y = 1 / (1 + exp(-x)). */
    public static void sigmoidForward(float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector one = FloatVector.broadcast(S, 1f);
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector xv = FloatVector.fromArray(S, x, xOff + i, m);
            one.div(VecMath.exp(xv.neg()).add(1f)).intoArray(y, yOff + i, m);
        }
    }

    /** Sigmoid backward from the saved output: dx = dy * y * (1 - y). */
    public static void sigmoidBackward(float[] y, int yOff, float[] dy, int dyOff, float[] dx, int dxOff, int n) {
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector yv = FloatVector.fromArray(S, y, yOff + i, m);
            FloatVector.fromArray(S, dy, dyOff + i, m).mul(yv.neg().add(1f).mul(yv)).intoArray(dx, dxOff + i, m);
        }
    }

    /** Tanh: y = tanh(x). */
    public static void tanhForward(float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            VecMath.tanh(FloatVector.fromArray(S, x, xOff + i, m)).intoArray(y, yOff + i, m);
        }
    }

    /** Tanh backward from the saved output: dx = dy * (1 - y^2). */
    public static void tanhBackward(float[] y, int yOff, float[] dy, int dyOff, float[] dx, int dxOff, int n) {
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector yv = FloatVector.fromArray(S, y, yOff + i, m);
            FloatVector.fromArray(S, dy, dyOff + i, m).mul(yv.mul(yv).neg().add(1f)).intoArray(dx, dxOff + i, m);
        }
    }

    /** ReLU: y = max(x, 0) (NaN propagates, as in PyTorch). */
    public static void reluForward(float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector.fromArray(S, x, xOff + i, m).max(0f).intoArray(y, yOff + i, m);
        }
    }

    /** ReLU backward (PyTorch's threshold_backward on the output): dx = y > 0 ? dy : 0. */
    public static void reluBackward(float[] y, int yOff, float[] dy, int dyOff, float[] dx, int dxOff, int n) {
        for (int i = 0; i < n; i += L) {
            VectorMask<Float> m = S.indexInRange(i, n);
            FloatVector yv = FloatVector.fromArray(S, y, yOff + i, m);
            FloatVector d = FloatVector.fromArray(S, dy, dyOff + i, m);
            FloatVector.zero(S).blend(d, yv.compare(VectorOperators.GT, 0f)).intoArray(dx, dxOff + i, m);
        }
    }
}
