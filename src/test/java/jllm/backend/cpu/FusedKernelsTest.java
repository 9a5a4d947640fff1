package jllm.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import java.util.function.ToDoubleFunction;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import org.junit.jupiter.api.Test;

/** Each kernel against a plain double-precision reference; reference backwards against finite differences. */
class FusedKernelsTest {
    static final int[] SIZES = {1, 3, 17, 65, 257};
    static final double RTOL = 1e-5, ATOL = 1e-6;

    // ------------------------------------------------------------------ helpers

    static float[] rand(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    static double[] d(float[] a) {
        double[] o = new double[a.length];
        for (int i = 0; i < a.length; i++) o[i] = a[i];
        return o;
    }

    static void close(String what, double[] ref, float[] got, int off, double rtol, double atol) {
        for (int i = 0; i < ref.length; i++) {
            double e = ref[i], g = got[off + i];
            if (Double.isNaN(e) && Double.isNaN(g)) continue;
            if (e == g) continue;
            if (!(Math.abs(e - g) <= atol + rtol * Math.abs(e))) {
                fail(what + ": index " + i + " expected " + e + " got " + g + " (abs err " + Math.abs(e - g) + ")");
            }
        }
    }

    static void close(String what, double[] ref, float[] got) {
        close(what, ref, got, 0, RTOL, ATOL);
    }

    static void closeD(String what, double[] ref, double[] got, double tol) {
        for (int i = 0; i < ref.length; i++) {
            if (!(Math.abs(ref[i] - got[i]) <= tol * (1 + Math.abs(ref[i])))) {
                fail(what + ": index " + i + " analytic " + ref[i] + " numeric " + got[i]);
            }
        }
    }

    /** Central differences of f at x, in double. */
    static double[] numGrad(ToDoubleFunction<double[]> f, double[] x) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double h = 1e-6 * Math.max(1, Math.abs(x[i]));
            double o = x[i];
            x[i] = o + h;
            double fp = f.applyAsDouble(x);
            x[i] = o - h;
            double fm = f.applyAsDouble(x);
            x[i] = o;
            g[i] = (fp - fm) / (2 * h);
        }
        return g;
    }

    static double dotD(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /** erf in double: Maclaurin series below 3, Laplace continued fraction for erfc above. */
    static double erfRef(double x) {
        double ax = Math.abs(x);
        double r;
        if (ax < 3) {
            double term = ax, sum = ax, x2 = ax * ax;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double t = term / (2 * n + 1);
                sum += t;
                if (Math.abs(t) < 1e-18 * Math.abs(sum)) break;
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else {
            // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + ...)))))
            double f = ax;
            for (int k = 200; k >= 1; k--) f = ax + (k / 2.0) / f;
            r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
        }
        return x < 0 ? -r : r;
    }

    // ------------------------------------------------------------------ erf / exp / tanh accuracy

    @Test
    void erfReferenceIsSane() {
        assertEquals(0.8427007929497149, erfRef(1.0), 1e-15);
        assertEquals(0.9999779095030014, erfRef(3.0), 1e-15);
        assertEquals(0.9953222650189527, erfRef(2.0), 1e-15);
        assertEquals(1 - 1.5417257900280018e-8, erfRef(4.0), 1e-16);
    }

    @Test
    void erfIsAccurate() {
        int n = 200_000;
        float[] x = new float[n + 4];
        for (int i = 0; i < n; i++) x[i] = -6f + 12f * i / n;
        x[n] = 1e-30f; x[n + 1] = -1e-20f; x[n + 2] = Float.POSITIVE_INFINITY; x[n + 3] = 0f;
        float[] y = new float[x.length];
        ActivationKernels.erf(x, 0, y, 0, x.length);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            double e = Float.isInfinite(x[i]) ? 1.0 : erfRef(x[i]);
            double rel = e == 0 ? Math.abs(y[i]) : Math.abs(y[i] - e) / Math.abs(e);
            worst = Math.max(worst, rel);
            assertEquals(y[i], ActivationKernels.erf(x[i]), 2e-7f * Math.abs(y[i]), "scalar erf at " + x[i]);
        }
        assertTrue(worst < 2.5e-7, "erf max rel err " + worst);
        float[] nan = {Float.NaN};
        ActivationKernels.erf(nan, 0, nan, 0, 1);
        assertTrue(Float.isNaN(nan[0]));
    }

    @Test
    void vectorExpAndTanhAreAccurate() {
        int L = FusedKernels.S.length();
        double worstExp = 0, worstTanh = 0;
        float[] buf = new float[L];
        for (int i = 0; i < 20000; i += L) {
            float[] x = new float[L];
            for (int l = 0; l < L; l++) x[l] = -80f + 160f * (i + l) / 20000f;
            FloatVector.fromArray(FusedKernels.S, x, 0).lanewise(VectorOperators.EXP).intoArray(buf, 0);
            for (int l = 0; l < L; l++) {
                double e = Math.exp(x[l]);
                worstExp = Math.max(worstExp, Math.abs(buf[l] - e) / e);
            }
            for (int l = 0; l < L; l++) x[l] /= 8f;
            FloatVector.fromArray(FusedKernels.S, x, 0).lanewise(VectorOperators.TANH).intoArray(buf, 0);
            for (int l = 0; l < L; l++) {
                double e = Math.tanh(x[l]);
                if (e != 0) worstTanh = Math.max(worstTanh, Math.abs(buf[l] - e) / Math.abs(e));
            }
        }
        assertTrue(worstExp < 2.5e-7, "EXP max rel err " + worstExp);
        assertTrue(worstTanh < 2.5e-7, "TANH max rel err " + worstTanh);
    }

    // ------------------------------------------------------------------ activations

    interface F2 { double f(double x); }

    static void checkUnary(String name, F2 ref, Random r, double scale, Kernel k) {
        for (int n : new int[] {1, 3, 17, 65, 257, 1000}) {
            float[] x = rand(r, n + 2, scale);
            float[] y = new float[n + 3];
            k.run(x, 2, y, 3, n);
            double[] e = new double[n];
            for (int i = 0; i < n; i++) e[i] = ref.f(x[i + 2]);
            close(name + " n=" + n, e, y, 3, RTOL, ATOL);
        }
    }

    interface Kernel { void run(float[] x, int xo, float[] y, int yo, int n); }
    interface BwdKernel { void run(float[] x, int xo, float[] dy, int dyo, float[] dx, int dxo, int n); }
    interface F3 { double f(double x, double dy); }

    static void checkBwd(String name, F3 ref, Random r, double scale, BwdKernel k) {
        for (int n : new int[] {1, 3, 17, 65, 257, 1000}) {
            float[] x = rand(r, n + 1, scale);
            float[] dy = rand(r, n, 1);
            float[] dx = new float[n];
            k.run(x, 1, dy, 0, dx, 0, n);
            double[] e = new double[n];
            for (int i = 0; i < n; i++) e[i] = ref.f(x[i + 1], dy[i]);
            close(name + " n=" + n, e, dx, 0, RTOL, ATOL);
        }
    }

    static double sig(double x) { return 1 / (1 + Math.exp(-x)); }
    static final double KB = Math.sqrt(2 / Math.PI), KK = 0.044715;

    @Test
    void activations() {
        Random r = new Random(1);
        checkUnary("gelu", x -> 0.5 * x * (1 + erfRef(x / Math.sqrt(2))), r, 3, ActivationKernels::geluForward);
        checkBwd("gelu'", (x, g) -> g * (0.5 * (1 + erfRef(x / Math.sqrt(2))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI)),
                r, 3, ActivationKernels::geluBackward);
        checkUnary("gelu_tanh", x -> 0.5 * x * (1 + Math.tanh(KB * (x + KK * x * x * x))), r, 3, ActivationKernels::geluTanhForward);
        checkBwd("gelu_tanh'", (x, g) -> {
            double t = Math.tanh(KB * (x + KK * x * x * x));
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * KB * (1 + 3 * KK * x * x));
        }, r, 3, ActivationKernels::geluTanhBackward);
        checkUnary("silu", x -> x * sig(x), r, 4, ActivationKernels::siluForward);
        checkBwd("silu'", (x, g) -> g * sig(x) * (1 + x * (1 - sig(x))), r, 4, ActivationKernels::siluBackward);
        checkUnary("sigmoid", FusedKernelsTest::sig, r, 4, ActivationKernels::sigmoidForward);
        checkUnary("tanh", Math::tanh, r, 2, ActivationKernels::tanhForward);
        checkUnary("relu", x -> Math.max(x, 0), r, 1, ActivationKernels::reluForward);
        // backward from saved outputs
        checkBwd("sigmoid'", (y, g) -> g * y * (1 - y), r, 1, ActivationKernels::sigmoidBackward);
        checkBwd("tanh'", (y, g) -> g * (1 - y * y), r, 1, ActivationKernels::tanhBackward);
        checkBwd("relu'", (y, g) -> y > 0 ? g : 0, r, 1, ActivationKernels::reluBackward);
        // derivative formulas themselves vs finite differences
        double[] xs = {-3.1, -0.7, 0.2, 1.3, 2.9};
        for (double x : xs) {
            double h = 1e-6;
            assertEquals((0.5 * (x + h) * (1 + erfRef((x + h) / Math.sqrt(2))) - 0.5 * (x - h) * (1 + erfRef((x - h) / Math.sqrt(2)))) / (2 * h),
                    0.5 * (1 + erfRef(x / Math.sqrt(2))) + x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI), 1e-8);
        }
    }

    // ------------------------------------------------------------------ softmax

    static double[] softmaxRef(double[] x) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : x) m = Math.max(m, v);
        double s = 0;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) s += y[i] = Math.exp(x[i] - m);
        for (int i = 0; i < x.length; i++) y[i] /= s;
        return y;
    }

    static double[] row(double[] a, int r, int C) {
        return java.util.Arrays.copyOfRange(a, r * C, r * C + C);
    }

    @Test
    void softmaxAndLogSoftmax() {
        Random r = new Random(2);
        for (int C : new int[] {1, 3, 17, 65, 257, 3000}) {
            int N = 5;
            float[] x = rand(r, N * C, 3), dy = rand(r, N * C, 1);
            float[] y = new float[N * C], ly = new float[N * C], dx = new float[N * C], ldx = new float[N * C];
            // two row ranges, as two threads would
            FusedKernels.softmaxForward(x, 0, y, 0, C, 0, 2);
            FusedKernels.softmaxForward(x, 0, y, 0, C, 2, N);
            FusedKernels.logSoftmaxForward(x, 0, ly, 0, C, 0, N);
            FusedKernels.softmaxBackward(y, 0, dy, 0, dx, 0, C, 0, N);
            FusedKernels.logSoftmaxBackward(ly, 0, dy, 0, ldx, 0, C, 0, N);
            for (int i = 0; i < N; i++) {
                double[] p = softmaxRef(row(d(x), i, C)), g = row(d(dy), i, C);
                double[] lp = new double[C], e = new double[C], le = new double[C];
                double sdy = 0, sg = 0;
                for (int j = 0; j < C; j++) { lp[j] = Math.log(p[j]); sdy += g[j] * p[j]; sg += g[j]; }
                for (int j = 0; j < C; j++) { e[j] = p[j] * (g[j] - sdy); le[j] = g[j] - p[j] * sg; }
                close("softmax C=" + C, p, y, i * C, RTOL, 1e-7);
                close("log_softmax C=" + C, lp, ly, i * C, RTOL, 1e-5);
                close("softmax' C=" + C, e, dx, i * C, RTOL, 1e-7);
                close("log_softmax' C=" + C, le, ldx, i * C, RTOL, 1e-6);
            }
        }
        // reference backward formulas vs finite differences
        double[] x = d(rand(r, 7, 2)), g = d(rand(r, 7, 1));
        double[] p = softmaxRef(x);
        double s = dotD(g, p);
        double[] an = new double[7], lan = new double[7];
        double sg = 0;
        for (double v : g) sg += v;
        for (int j = 0; j < 7; j++) { an[j] = p[j] * (g[j] - s); lan[j] = g[j] - p[j] * sg; }
        closeD("softmax fd", an, numGrad(z -> dotD(softmaxRef(z), g), x), 1e-6);
        closeD("log_softmax fd", lan, numGrad(z -> {
            double[] q = softmaxRef(z);
            double t = 0;
            for (int j = 0; j < q.length; j++) t += g[j] * Math.log(q[j]);
            return t;
        }, x), 1e-6);
        // an all -inf row gives NaN like PyTorch
        float[] inf = {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY};
        FusedKernels.softmaxForward(inf, 0, inf, 0, 2, 0, 1);
        assertTrue(Float.isNaN(inf[0]));
    }

    // ------------------------------------------------------------------ layer norm / rms norm

    /** returns y; fills mean/rstd/xhat for one row. */
    static double[] lnRef(double[] x, double[] w, double[] b, double eps, double[] stats) {
        int C = x.length;
        double mu = 0;
        for (double v : x) mu += v;
        mu /= C;
        double var = 0;
        for (double v : x) var += (v - mu) * (v - mu);
        var /= C;
        double rs = 1 / Math.sqrt(var + eps);
        double[] y = new double[C];
        for (int i = 0; i < C; i++) y[i] = (x[i] - mu) * rs * (w == null ? 1 : w[i]) + (b == null ? 0 : b[i]);
        if (stats != null) { stats[0] = mu; stats[1] = rs; }
        return y;
    }

    /** dx for one row; accumulates dw, db. */
    static double[] lnBwdRef(double[] x, double[] w, double[] dy, double eps, double[] dw, double[] db) {
        int C = x.length;
        double[] st = new double[2];
        lnRef(x, w, null, eps, st);
        double[] xh = new double[C], g = new double[C], dx = new double[C];
        double mg = 0, mgx = 0;
        for (int i = 0; i < C; i++) {
            xh[i] = (x[i] - st[0]) * st[1];
            g[i] = dy[i] * (w == null ? 1 : w[i]);
            mg += g[i];
            mgx += g[i] * xh[i];
            if (dw != null) dw[i] += dy[i] * xh[i];
            if (db != null) db[i] += dy[i];
        }
        mg /= C;
        mgx /= C;
        for (int i = 0; i < C; i++) dx[i] = st[1] * (g[i] - mg - xh[i] * mgx);
        return dx;
    }

    @Test
    void layerNorm() {
        Random r = new Random(3);
        float eps = 1e-5f;
        for (int C : new int[] {1, 3, 17, 65, 257, 1100}) {
            for (int variant = 0; variant < 3; variant++) {
                boolean hasW = variant != 2, hasB = variant == 0;
                int N = 4;
                float[] x = rand(r, N * C, 2), dy = rand(r, N * C, 1);
                for (int i = 0; i < x.length; i++) x[i] += 3f; // offset mean: exercises the two-pass variance
                float[] w = hasW ? rand(r, C, 1) : null, b = hasB ? rand(r, C, 1) : null;
                float[] y = new float[N * C], mean = new float[N], rstd = new float[N], dx = new float[N * C];
                float[] dw = hasW ? new float[C] : null, db = hasB ? new float[C] : null;
                NormKernels.layerNormForward(x, 0, w, 0, b, 0, y, 0, mean, 0, rstd, 0, C, eps, 0, 1);
                NormKernels.layerNormForward(x, 0, w, 0, b, 0, y, 0, mean, 0, rstd, 0, C, eps, 1, N);
                NormKernels.layerNormBackward(dy, 0, x, 0, w, 0, mean, 0, rstd, 0, dx, 0, dw, 0, db, 0, C, 0, N);
                double[] edw = new double[C], edb = new double[C];
                for (int i = 0; i < N; i++) {
                    double[] st = new double[2];
                    double[] ey = lnRef(row(d(x), i, C), hasW ? d(w) : null, hasB ? d(b) : null, eps, st);
                    close("ln y C=" + C, ey, y, i * C, RTOL, 1e-5);
                    close("ln mean", new double[] {st[0]}, mean, i, RTOL, ATOL);
                    close("ln rstd", new double[] {st[1]}, rstd, i, RTOL, ATOL);
                    double[] edx = lnBwdRef(row(d(x), i, C), hasW ? d(w) : null, row(d(dy), i, C), eps, edw, edb);
                    close("ln dx C=" + C + " v" + variant, edx, dx, i * C, RTOL, 2e-6);
                }
                if (hasW) close("ln dw C=" + C, edw, dw, 0, RTOL, 1e-5);
                if (hasB) close("ln db C=" + C, edb, db, 0, RTOL, 1e-5);
            }
        }
        // reference backward vs finite differences (x and w)
        int C = 6;
        double[] x = d(rand(r, C, 1)), w = d(rand(r, C, 1)), bb = d(rand(r, C, 1)), g = d(rand(r, C, 1));
        double[] dw = new double[C], db = new double[C];
        double[] dx = lnBwdRef(x, w, g, 1e-5, dw, db);
        closeD("ln fd x", dx, numGrad(z -> dotD(lnRef(z, w, bb, 1e-5, null), g), x), 1e-6);
        closeD("ln fd w", dw, numGrad(z -> dotD(lnRef(x, z, bb, 1e-5, null), g), w), 1e-6);
        closeD("ln fd b", db, numGrad(z -> dotD(lnRef(x, w, z, 1e-5, null), g), bb), 1e-6);
    }

    static double[] rmsRef(double[] x, double[] w, double eps) {
        double ms = 0;
        for (double v : x) ms += v * v;
        double rs = 1 / Math.sqrt(ms / x.length + eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] * rs * (w == null ? 1 : w[i]);
        return y;
    }

    static double[] rmsBwdRef(double[] x, double[] w, double[] dy, double eps, double[] dw) {
        int C = x.length;
        double ms = 0;
        for (double v : x) ms += v * v;
        double rs = 1 / Math.sqrt(ms / C + eps);
        double sgx = 0;
        for (int i = 0; i < C; i++) sgx += dy[i] * (w == null ? 1 : w[i]) * x[i];
        double[] dx = new double[C];
        for (int i = 0; i < C; i++) {
            dx[i] = rs * (dy[i] * (w == null ? 1 : w[i]) - x[i] * rs * rs * sgx / C);
            if (dw != null) dw[i] += dy[i] * x[i] * rs;
        }
        return dx;
    }

    @Test
    void rmsNorm() {
        Random r = new Random(4);
        float eps = 1e-6f;
        for (int C : new int[] {1, 3, 17, 65, 257, 1100}) {
            for (boolean hasW : new boolean[] {true, false}) {
                int N = 3;
                float[] x = rand(r, N * C, 2), dy = rand(r, N * C, 1);
                float[] w = hasW ? rand(r, C, 1) : null;
                float[] y = new float[N * C], rstd = new float[N], dx = new float[N * C];
                float[] dw = hasW ? new float[C] : null;
                NormKernels.rmsNormForward(x, 0, w, 0, y, 0, rstd, 0, C, eps, 0, N);
                NormKernels.rmsNormBackward(dy, 0, x, 0, w, 0, rstd, 0, dx, 0, dw, 0, C, 0, 2);
                NormKernels.rmsNormBackward(dy, 0, x, 0, w, 0, rstd, 0, dx, 0, dw, 0, C, 2, N);
                double[] edw = new double[C];
                for (int i = 0; i < N; i++) {
                    double[] xr = row(d(x), i, C);
                    close("rms y C=" + C, rmsRef(xr, hasW ? d(w) : null, eps), y, i * C, RTOL, 1e-6);
                    close("rms dx C=" + C, rmsBwdRef(xr, hasW ? d(w) : null, row(d(dy), i, C), eps, edw), dx, i * C, RTOL, 2e-6);
                }
                if (hasW) close("rms dw C=" + C, edw, dw, 0, RTOL, 1e-5);
            }
        }
        int C = 5;
        double[] x = d(rand(r, C, 1)), w = d(rand(r, C, 1)), g = d(rand(r, C, 1));
        double[] dw = new double[C];
        double[] dx = rmsBwdRef(x, w, g, 1e-6, dw);
        closeD("rms fd x", dx, numGrad(z -> dotD(rmsRef(z, w, 1e-6), g), x), 1e-6);
        closeD("rms fd w", dw, numGrad(z -> dotD(rmsRef(x, z, 1e-6), g), w), 1e-6);
    }

    // ------------------------------------------------------------------ cross-entropy

    static double ceRef(double[] x, int t, double eps) {
        double m = Double.NEGATIVE_INFINITY;
        for (double v : x) m = Math.max(m, v);
        double s = 0, mean = 0;
        for (double v : x) { s += Math.exp(v - m); mean += v; }
        double lse = m + Math.log(s);
        mean /= x.length;
        return (1 - eps) * (lse - x[t]) + eps * (lse - mean);
    }

    static double[] ceBwdRef(double[] x, int t, double eps, double g) {
        double[] p = softmaxRef(x);
        for (int j = 0; j < x.length; j++) p[j] = g * (p[j] - (j == t ? 1 - eps : 0) - eps / x.length);
        return p;
    }

    @Test
    void crossEntropy() {
        Random r = new Random(5);
        int ignore = -100;
        for (int V : new int[] {1, 3, 17, 65, 257, 5000}) {
            for (float eps : new float[] {0f, 0.1f}) {
                int N = 6;
                float[] x = rand(r, N * V, 3);
                int[] t = new int[N + 1];
                for (int i = 0; i < N; i++) t[i + 1] = r.nextInt(V);
                t[3] = ignore;
                float[] loss = new float[N], lse = new float[N], dx = new float[N * V];
                float[] g = rand(r, N, 1);
                LossKernels.crossEntropyForward(x, 0, t, 1, loss, 0, lse, 0, V, ignore, eps, 0, 3);
                LossKernels.crossEntropyForward(x, 0, t, 1, loss, 0, lse, 0, V, ignore, eps, 3, N);
                LossKernels.crossEntropyBackward(x, 0, t, 1, lse, 0, g, 0, 1, dx, 0, V, ignore, eps, 0, N);
                assertEquals(N - 1, LossKernels.countValidTargets(t, 1, N, ignore));
                for (int i = 0; i < N; i++) {
                    double[] xr = row(d(x), i, V);
                    if (t[i + 1] == ignore) {
                        assertEquals(0f, loss[i]);
                        close("ce ignored dx", new double[V], dx, i * V, 0, 0);
                        continue;
                    }
                    close("ce loss V=" + V + " eps=" + eps, new double[] {ceRef(xr, t[i + 1], eps)}, loss, i, RTOL, 1e-6);
                    close("ce dx V=" + V, ceBwdRef(xr, t[i + 1], eps, g[i]), dx, i * V, RTOL, 1e-7);
                }
                // broadcast upstream gradient (gStride 0) and in-place dlogits
                float[] xc = x.clone();
                float[] g1 = {0.25f};
                LossKernels.crossEntropyBackward(xc, 0, t, 1, lse, 0, g1, 0, 0, xc, 0, V, ignore, eps, 0, N);
                for (int i = 0; i < N; i++) {
                    double[] e = t[i + 1] == ignore ? new double[V] : ceBwdRef(row(d(x), i, V), t[i + 1], eps, 0.25);
                    close("ce dx in place V=" + V, e, xc, i * V, RTOL, 1e-7);
                }
            }
        }
        // reference gradient vs finite differences
        double[] x = d(rand(r, 9, 2));
        closeD("ce fd", ceBwdRef(x, 4, 0.1, 1.0), numGrad(z -> ceRef(z, 4, 0.1), x), 1e-6);
        // bad targets
        float[] x1 = new float[6];
        float[] out = new float[2];
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class,
                () -> LossKernels.crossEntropyForward(x1, 0, new int[] {1, 3}, 0, out, 0, null, 0, 3, -100, 0f, 0, 2));
        assertTrue(ex.getMessage().contains("row 1") && ex.getMessage().contains("3"), ex.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> LossKernels.crossEntropyForward(x1, 0, new int[] {-1, 0}, 0, out, 0, null, 0, 3, -100, 0f, 0, 2));
    }

    // ------------------------------------------------------------------ attention

    /** Plain double attention; fills out [BH,Tq,Dv], lse [BH,Tq]; returns nothing. */
    static void attnRef(double[] q, double[] k, double[] v, double[] mask, int[] ms, int B, int H, int Hkv,
                        int Tq, int Tk, int kvCap, int D, int Dv, double scale, boolean causal, double[] out, double[] lse) {
        int G = H / Hkv;
        for (int b = 0; b < B; b++) for (int h = 0; h < H; h++) {
            int bh = b * H + h, kv = b * Hkv + h / G;
            for (int i = 0; i < Tq; i++) {
                double[] s = new double[Tk];
                double m = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < Tk; j++) {
                    if (causal && j > i) { s[j] = Double.NEGATIVE_INFINITY; continue; }
                    double acc = 0;
                    for (int c = 0; c < D; c++) acc += q[(bh * Tq + i) * D + c] * k[(kv * kvCap + j) * D + c];
                    s[j] = acc * scale + (mask == null ? 0 : mask[b * ms[0] + h * ms[1] + i * ms[2] + j * ms[3]]);
                    m = Math.max(m, s[j]);
                }
                int o = (bh * Tq + i) * Dv;
                if (m == Double.NEGATIVE_INFINITY) {
                    for (int c = 0; c < Dv; c++) out[o + c] = 0;
                    lse[bh * Tq + i] = Double.NEGATIVE_INFINITY;
                    continue;
                }
                double sum = 0;
                for (int j = 0; j < Tk; j++) sum += s[j] = Math.exp(s[j] - m);
                for (int c = 0; c < Dv; c++) {
                    double a = 0;
                    for (int j = 0; j < Tk; j++) a += s[j] / sum * v[(kv * kvCap + j) * Dv + c];
                    out[o + c] = a;
                }
                lse[bh * Tq + i] = m + Math.log(sum);
            }
        }
    }

    /** Reference backward from the formulas (recomputing P); writes dq, accumulates dk, dv. */
    static void attnBwdRef(double[] q, double[] k, double[] v, double[] mask, int[] ms, int B, int H, int Hkv,
                           int Tq, int Tk, int kvCap, int D, int Dv, double scale, boolean causal, double[] dout,
                           double[] dq, double[] dk, double[] dv) {
        double[] out = new double[B * H * Tq * Dv], lse = new double[B * H * Tq];
        attnRef(q, k, v, mask, ms, B, H, Hkv, Tq, Tk, kvCap, D, Dv, scale, causal, out, lse);
        int G = H / Hkv;
        for (int b = 0; b < B; b++) for (int h = 0; h < H; h++) {
            int bh = b * H + h, kv = b * Hkv + h / G;
            for (int i = 0; i < Tq; i++) {
                double l = lse[bh * Tq + i];
                int qo = (bh * Tq + i) * D, oo = (bh * Tq + i) * Dv;
                for (int c = 0; c < D; c++) dq[qo + c] = 0;
                if (l == Double.NEGATIVE_INFINITY) continue;
                double di = 0;
                for (int c = 0; c < Dv; c++) di += dout[oo + c] * out[oo + c];
                for (int j = 0; j < Tk; j++) {
                    if (causal && j > i) continue;
                    double s = 0;
                    for (int c = 0; c < D; c++) s += q[qo + c] * k[(kv * kvCap + j) * D + c];
                    s = s * scale + (mask == null ? 0 : mask[b * ms[0] + h * ms[1] + i * ms[2] + j * ms[3]]);
                    double p = Math.exp(s - l);
                    double dp = 0;
                    for (int c = 0; c < Dv; c++) {
                        dv[(kv * kvCap + j) * Dv + c] += p * dout[oo + c];
                        dp += dout[oo + c] * v[(kv * kvCap + j) * Dv + c];
                    }
                    double ds = p * (dp - di);
                    for (int c = 0; c < D; c++) {
                        dq[qo + c] += scale * ds * k[(kv * kvCap + j) * D + c];
                        dk[(kv * kvCap + j) * D + c] += scale * ds * q[qo + c];
                    }
                }
            }
        }
    }

    record AttnCase(int B, int H, int Hkv, int Tq, int Tk, int D, int Dv, boolean causal, int maskKind) {}

    @Test
    void attention() {
        Random r = new Random(6);
        AttnCase[] cases = {
            new AttnCase(1, 1, 1, 1, 1, 1, 1, false, 0),
            new AttnCase(2, 4, 2, 17, 17, 16, 16, true, 0),
            new AttnCase(1, 2, 2, 3, 65, 17, 33, false, 1),   // Tq < 4: direct-dot path, broadcast [Tq,Tk] mask
            new AttnCase(1, 3, 1, 2, 50, 32, 32, false, 1),   // direct path, D a multiple of 16: 16 keys at a time and 2 more
            new AttnCase(2, 3, 1, 65, 65, 33, 17, true, 2),   // MQA, per-(b,h) mask with -inf, causal
            new AttnCase(1, 2, 1, 20, 70, 64, 64, true, 0),   // causal with Tq < Tk (top-left)
            new AttnCase(1, 2, 2, 70, 20, 8, 5, true, 1),     // causal with Tq > Tk
            new AttnCase(1, 4, 4, 64, 128, 64, 64, false, 3), // mask with fully masked rows
            new AttnCase(1, 1, 1, 257, 257, 32, 32, true, 0),
        };
        for (AttnCase c : cases) {
            int B = c.B, H = c.H, Hkv = c.Hkv, Tq = c.Tq, Tk = c.Tk, D = c.D, Dv = c.Dv;
            String name = c.toString();
            float scale = (float) (1 / Math.sqrt(D));
            float[] q = rand(r, B * H * Tq * D, 1), k = rand(r, B * Hkv * Tk * D, 1), v = rand(r, B * Hkv * Tk * Dv, 1);
            float[] dout = rand(r, B * H * Tq * Dv, 1);
            float[] mask = null;
            int[] ms = {0, 0, 0, 0};
            if (c.maskKind == 1) {
                mask = rand(r, Tq * Tk, 1);
                ms = new int[] {0, 0, Tk, 1};
            } else if (c.maskKind == 2) {
                mask = rand(r, B * H * Tq * Tk, 1);
                for (int i = 0; i < mask.length; i++) if (r.nextInt(4) == 0) mask[i] = Float.NEGATIVE_INFINITY;
                ms = new int[] {H * Tq * Tk, Tq * Tk, Tk, 1};
            } else if (c.maskKind == 3) {
                // boolean-style padding mask [B,1,1,Tk] plus some fully masked query rows via a [Tq,Tk] part:
                // use [Tq, Tk] with rows 5 and 9 all -inf, others random 0/-inf
                mask = new float[Tq * Tk];
                for (int i = 0; i < Tq; i++) for (int j = 0; j < Tk; j++)
                    mask[i * Tk + j] = (i == 5 || i == 9 || r.nextInt(3) == 0) ? Float.NEGATIVE_INFINITY : 0f;
                ms = new int[] {0, 0, Tk, 1};
            }
            double[] eo = new double[B * H * Tq * Dv], el = new double[B * H * Tq];
            double[] dm = mask == null ? null : d(mask);
            attnRef(d(q), d(k), d(v), dm, ms, B, H, Hkv, Tq, Tk, Tk, D, Dv, scale, c.causal, eo, el);
            float[] out = new float[eo.length], lse = new float[el.length];
            float[] scratch = new float[AttentionKernels.scratchSize(Tk, D, Dv)];
            java.util.Arrays.fill(scratch, Float.NaN); // as left by another call
            int BH = B * H, split = BH / 2;
            AttentionKernels.attentionForward(q, 0, k, 0, v, 0, out, 0, lse, 0, H, Hkv, Tq, Tk, Tk, D, Dv, scale, c.causal,
                    mask, 0, ms[0], ms[1], ms[2], ms[3], scratch, 0, split);
            AttentionKernels.attentionForward(q, 0, k, 0, v, 0, out, 0, lse, 0, H, Hkv, Tq, Tk, Tk, D, Dv, scale, c.causal,
                    mask, 0, ms[0], ms[1], ms[2], ms[3], scratch, split, BH);
            close("attn out " + name, eo, out, 0, 1e-5, 2e-6);
            close("attn lse " + name, el, lse, 0, 1e-5, 1e-5);

            double[] edq = new double[q.length], edk = new double[k.length], edv = new double[v.length];
            attnBwdRef(d(q), d(k), d(v), dm, ms, B, H, Hkv, Tq, Tk, Tk, D, Dv, scale, c.causal, d(dout), edq, edk, edv);
            float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
            int KV = B * Hkv, ksplit = KV / 2;
            // the scratch is the thread's own, kept between calls: the backward must not read what it has not written
            java.util.Arrays.fill(scratch, Float.NaN);
            AttentionKernels.attentionBackward(q, 0, k, 0, v, 0, out, 0, dout, 0, lse, 0, dq, 0, dk, 0, dv, 0,
                    H, Hkv, Tq, Tk, Tk, D, Dv, scale, c.causal, mask, 0, ms[0], ms[1], ms[2], ms[3], scratch, 0, ksplit);
            AttentionKernels.attentionBackward(q, 0, k, 0, v, 0, out, 0, dout, 0, lse, 0, dq, 0, dk, 0, dv, 0,
                    H, Hkv, Tq, Tk, Tk, D, Dv, scale, c.causal, mask, 0, ms[0], ms[1], ms[2], ms[3], scratch, ksplit, KV);
            close("attn dq " + name, edq, dq, 0, 1e-5, 2e-6);
            close("attn dk " + name, edk, dk, 0, 1e-5, 2e-6);
            close("attn dv " + name, edv, dv, 0, 1e-5, 2e-6);
        }
    }

    @Test
    void attentionReferenceBackwardMatchesFiniteDifferences() {
        Random r = new Random(7);
        int B = 1, H = 2, Hkv = 1, Tq = 3, Tk = 4, D = 3, Dv = 2;
        double scale = 0.7;
        double[] q = d(rand(r, B * H * Tq * D, 1)), k = d(rand(r, B * Hkv * Tk * D, 1)), v = d(rand(r, B * Hkv * Tk * Dv, 1));
        double[] g = d(rand(r, B * H * Tq * Dv, 1));
        double[] mask = d(rand(r, Tq * Tk, 1));
        mask[1] = Double.NEGATIVE_INFINITY;
        int[] ms = {0, 0, Tk, 1};
        double[] dq = new double[q.length], dk = new double[k.length], dv = new double[v.length];
        attnBwdRef(q, k, v, mask, ms, B, H, Hkv, Tq, Tk, Tk, D, Dv, scale, true, g, dq, dk, dv);
        ToDoubleFunction<double[][]> loss = a -> {
            double[] o = new double[g.length], l = new double[B * H * Tq];
            attnRef(a[0], a[1], a[2], mask, ms, B, H, Hkv, Tq, Tk, Tk, D, Dv, scale, true, o, l);
            return dotD(o, g);
        };
        closeD("attn fd q", dq, numGrad(z -> loss.applyAsDouble(new double[][] {z, k, v}), q), 1e-6);
        closeD("attn fd k", dk, numGrad(z -> loss.applyAsDouble(new double[][] {q, z, v}), k), 1e-6);
        closeD("attn fd v", dv, numGrad(z -> loss.applyAsDouble(new double[][] {q, k, z}), v), 1e-6);
    }

    @Test
    void attentionOverPaddedKvCapacityMatchesContiguous() {
        Random r = new Random(12);
        int B = 2, H = 4, Hkv = 2, Tq = 9, Tk = 9, cap = 13, D = 20, Dv = 24;
        float scale = 0.3f;
        float[] q = rand(r, B * H * Tq * D, 1), k = rand(r, B * Hkv * Tk * D, 1), v = rand(r, B * Hkv * Tk * Dv, 1);
        float[] dout = rand(r, B * H * Tq * Dv, 1);
        float[] kc = rand(r, B * Hkv * cap * D, 1), vc = rand(r, B * Hkv * cap * Dv, 1); // junk past Tk
        for (int kv = 0; kv < B * Hkv; kv++) {
            System.arraycopy(k, kv * Tk * D, kc, kv * cap * D, Tk * D);
            System.arraycopy(v, kv * Tk * Dv, vc, kv * cap * Dv, Tk * Dv);
        }
        float[] sc = new float[AttentionKernels.scratchSize(Tk, D, Dv)];
        float[] o1 = new float[B * H * Tq * Dv], o2 = o1.clone(), l1 = new float[B * H * Tq], l2 = l1.clone();
        AttentionKernels.attentionForward(q, 0, k, 0, v, 0, o1, 0, l1, 0, H, Hkv, Tq, Tk, Tk, D, Dv, scale, true,
                null, 0, 0, 0, 0, 0, sc, 0, B * H);
        AttentionKernels.attentionForward(q, 0, kc, 0, vc, 0, o2, 0, l2, 0, H, Hkv, Tq, Tk, cap, D, Dv, scale, true,
                null, 0, 0, 0, 0, 0, sc, 0, B * H);
        close("padded out", d(o1), o2, 0, 0, 0);
        float[] dq1 = new float[q.length], dk1 = new float[k.length], dv1 = new float[v.length];
        float[] dq2 = new float[q.length], dk2 = new float[kc.length], dv2 = new float[vc.length];
        AttentionKernels.attentionBackward(q, 0, k, 0, v, 0, o1, 0, dout, 0, l1, 0, dq1, 0, dk1, 0, dv1, 0,
                H, Hkv, Tq, Tk, Tk, D, Dv, scale, true, null, 0, 0, 0, 0, 0, sc, 0, B * Hkv);
        AttentionKernels.attentionBackward(q, 0, kc, 0, vc, 0, o2, 0, dout, 0, l2, 0, dq2, 0, dk2, 0, dv2, 0,
                H, Hkv, Tq, Tk, cap, D, Dv, scale, true, null, 0, 0, 0, 0, 0, sc, 0, B * Hkv);
        close("padded dq", d(dq1), dq2, 0, 0, 0);
        for (int kv = 0; kv < B * Hkv; kv++) {
            close("padded dk", row(d(dk1), kv, Tk * D), dk2, kv * cap * D, 0, 0);
            close("padded dv", row(d(dv1), kv, Tk * Dv), dv2, kv * cap * Dv, 0, 0);
            for (int j = Tk; j < cap; j++) assertEquals(0f, dk2[(kv * cap + j) * D], "no gradient past Tk");
        }
    }

    @Test
    void attentionDecodeOverKvCache() {
        Random r = new Random(8);
        int B = 2, H = 4, Hkv = 2, maxT = 40, len = 33, D = 64, Dv = 64;
        float scale = 0.125f;
        float[] q = rand(r, B * H * D, 1), kc = rand(r, B * Hkv * maxT * D, 1), vc = rand(r, B * Hkv * maxT * Dv, 1);
        double[] eo = new double[B * H * Dv], el = new double[B * H];
        attnRef(d(q), d(kc), d(vc), null, null, B, H, Hkv, 1, len, maxT, D, Dv, scale, false, eo, el);
        float[] out = new float[eo.length];
        float[] scratch = new float[AttentionKernels.scratchSize(len, D, Dv)];
        AttentionKernels.attentionDecode(q, 0, kc, 0, vc, 0, out, 0, H, Hkv, len, maxT, D, Dv, scale, scratch, 0, B * H);
        close("decode out", eo, out, 0, 1e-5, 2e-6);
        assertThrows(IllegalArgumentException.class, () -> AttentionKernels.attentionDecode(q, 0, kc, 0, vc, 0, out, 0,
                3, Hkv, len, maxT, D, Dv, scale, scratch, 0, 1));
    }

    // ------------------------------------------------------------------ optimizers

    @Test
    void adamwMatchesTorchFormula() {
        Random r = new Random(9);
        for (int n : SIZES) {
            for (boolean decoupled : new boolean[] {true, false}) {
                float[] p = rand(r, n, 1), m = new float[n], v = new float[n];
                double[] ep = d(p), em = new double[n], ev = new double[n];
                double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8, wd = 0.1;
                for (int step = 1; step <= 5; step++) {
                    float[] g = rand(r, n, 0.1);
                    OptimKernels.adam(p, 0, g, 0, m, 0, v, 0, n, lr, b1, b2, eps, wd, step, decoupled);
                    double bc1 = 1 - Math.pow(b1, step), bc2 = 1 - Math.pow(b2, step);
                    for (int i = 0; i < n; i++) {
                        double gi = g[i];
                        if (decoupled) ep[i] *= 1 - lr * wd;
                        else gi += wd * ep[i];
                        em[i] = b1 * em[i] + (1 - b1) * gi;
                        ev[i] = b2 * ev[i] + (1 - b2) * gi * gi;
                        ep[i] -= lr / bc1 * em[i] / (Math.sqrt(ev[i]) / Math.sqrt(bc2) + eps);
                    }
                }
                close("adam p n=" + n, ep, p, 0, RTOL, 1e-7);
                close("adam m n=" + n, em, m, 0, RTOL, 1e-9);
                close("adam v n=" + n, ev, v, 0, RTOL, 1e-12);
            }
        }
        float[] z = new float[1];
        assertThrows(IllegalArgumentException.class, () -> OptimKernels.adamw(z, 0, z, 0, z, 0, z, 0, 1, 1, 0.9, 0.9, 1e-8, 0, 0));
    }

    @Test
    void sgdMatchesTorchFormula() {
        Random r = new Random(10);
        for (int n : SIZES) {
            for (int variant = 0; variant < 4; variant++) {
                double lr = 0.05, mom = variant == 0 ? 0 : 0.9, damp = variant == 2 ? 0.1 : 0, wd = variant >= 2 ? 0.01 : 0;
                boolean nesterov = variant == 3;
                float[] p = rand(r, n, 1), buf = new float[n];
                double[] ep = d(p), eb = new double[n];
                for (int step = 1; step <= 4; step++) {
                    float[] g = rand(r, n, 0.5);
                    float[] g0 = g.clone();
                    OptimKernels.sgd(p, 0, g, 0, mom == 0 ? null : buf, 0, n, lr, mom, damp, wd, nesterov, step == 1);
                    assertEquals(java.util.Arrays.toString(g0), java.util.Arrays.toString(g), "sgd must not modify g");
                    for (int i = 0; i < n; i++) {
                        double gi = g[i] + wd * ep[i];
                        if (mom != 0) {
                            eb[i] = step == 1 ? gi : mom * eb[i] + (1 - damp) * gi;
                            gi = nesterov ? gi + mom * eb[i] : eb[i];
                        }
                        ep[i] -= lr * gi;
                    }
                }
                close("sgd p n=" + n + " v" + variant, ep, p, 0, RTOL, 1e-7);
            }
        }
    }

    @Test
    void sumOfSquaresAndScale() {
        Random r = new Random(11);
        for (int n : new int[] {1, 3, 17, 65, 257, 100_000}) {
            float[] a = rand(r, n + 1, 1);
            double e = 0;
            for (int i = 1; i <= n; i++) e += (double) a[i] * a[i];
            assertEquals(e, OptimKernels.sumOfSquares(a, 1, n), 1e-6 * e);
            float[] b = a.clone();
            OptimKernels.scale(b, 1, n, 0.37f);
            assertEquals(a[0], b[0]);
            for (int i = 1; i <= n; i++) assertEquals(a[i] * 0.37f, b[i]);
        }
    }
}
