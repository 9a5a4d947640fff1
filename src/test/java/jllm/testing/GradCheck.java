package jllm.testing;

import jllm.autograd.Grad;
import jllm.tensor.DType;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Test helpers shared by every package: {@link #assertClose} for tensors, and {@link #check} which
 * compares autograd gradients with central finite differences.
 *
 * <p>How {@code check} works: every F32 input is copied into a fresh contiguous leaf that requires
 * grad; the function's outputs are contracted with fixed pseudo-random weights {@code W} (seeded, so a
 * run is reproducible) into the scalar {@code L = sum(out * W)}. The analytic gradient is
 * {@code out.backward(W)} (so the check does not depend on mul/sum being right), the numeric one is
 * {@code (L(x + h e_j) - L(x - h e_j)) / 2h} for every element j, with L accumulated in double on host
 * arrays and the forward run in F32 with grad mode off. Inputs of other dtypes (indices, masks) are
 * passed through unchanged; to hold an F32 tensor constant, capture it in the lambda instead.
 *
 * <p>Why these tolerances: the forward runs in F32, so each L carries a rounding error of roughly
 * {@code eps32 * sum|out*W|} (~1e-7 relative); dividing by 2h = 2e-2 amplifies that to ~1e-5 for O(1)
 * outputs, and the truncation error of central differences is {@code h^2/6 * f'''} ~ 2e-5 for smooth
 * O(1) functions. A wrong gradient (a missing factor, a wrong sign, a wrong index, a broadcast not
 * summed) is off by O(1), so {@code |a - n| <= atol * scale + rtol * |n|} with atol = rtol = 1e-2 and
 * {@code scale = max(1, max|n|)} separates the two by orders of magnitude without flakiness. Keep
 * inputs away from kinks (relu/abs at 0, clamp bounds, ties in max) by more than h.
 */
public final class GradCheck {
    /** Default finite-difference step. */
    public static final double H = 1e-2;
    /** Default tolerances for {@link #check} (see the class comment). */
    public static final double RTOL = 1e-2, ATOL = 1e-2;

    private GradCheck() {}

    // ------------------------------------------------------------------ assertClose

    /** {@link #assertClose(Tensor, Tensor, double, double)} with PyTorch's float32 defaults (rtol 1.3e-6, atol 1e-5). */
    public static void assertClose(Tensor actual, Tensor expected) { assertClose(actual, expected, 1.3e-6, 1e-5); }

    /**
     * Asserts equal shapes and |actual - expected| <= atol + rtol * |expected| element-wise (like
     * {@code torch.testing.assert_close}); NaN matches only NaN at the same index. Dtypes may differ
     * (values are compared as doubles). The failure message names the worst element by index.
     */
    public static void assertClose(Tensor actual, Tensor expected, double rtol, double atol) {
        assertNotNull(actual, "actual tensor is null");
        assertNotNull(expected, "expected tensor is null");
        if (!Arrays.equals(actual.shape(), expected.shape())) {
            fail("shape mismatch: actual " + Arrays.toString(actual.shape()) + " vs expected " + Arrays.toString(expected.shape()));
        }
        compare(actual.toDoubleArray(), expected.toDoubleArray(), actual.shape(), rtol, atol, "");
    }

    /** Compares with a row-major array of expected values (shape taken from actual). */
    public static void assertClose(Tensor actual, double[] expected, double rtol, double atol) {
        assertNotNull(actual, "actual tensor is null");
        if (actual.numel() != expected.length) {
            fail("actual has " + actual.numel() + " elements (shape " + Arrays.toString(actual.shape()) + ") but "
                    + expected.length + " values were expected");
        }
        compare(actual.toDoubleArray(), expected, actual.shape(), rtol, atol, "");
    }

    public static void assertClose(Tensor actual, double... expected) { assertClose(actual, expected, 1.3e-6, 1e-5); }

    private static void compare(double[] a, double[] e, int[] shape, double rtol, double atol, String what) {
        int bad = 0, worst = -1;
        double worstExcess = -1;
        for (int i = 0; i < a.length; i++) {
            boolean ok;
            double excess;
            if (Double.isNaN(a[i]) || Double.isNaN(e[i])) {
                ok = Double.isNaN(a[i]) && Double.isNaN(e[i]);
                excess = ok ? 0 : Double.POSITIVE_INFINITY;
            } else if (Double.isInfinite(e[i]) || Double.isInfinite(a[i])) {
                ok = a[i] == e[i];
                excess = ok ? 0 : Double.POSITIVE_INFINITY;
            } else {
                double diff = Math.abs(a[i] - e[i]), allowed = atol + rtol * Math.abs(e[i]);
                ok = diff <= allowed;
                excess = diff - allowed;
            }
            if (!ok) {
                bad++;
                if (excess > worstExcess) {
                    worstExcess = excess;
                    worst = i;
                }
            }
        }
        if (bad > 0) {
            double diff = Math.abs(a[worst] - e[worst]);
            fail(what + "tensors are not close: " + bad + " / " + a.length + " elements mismatch; worst at index "
                    + Arrays.toString(unravel(worst, shape)) + ": actual " + a[worst] + ", expected " + e[worst]
                    + ", |diff| " + diff + " > allowed " + (atol + rtol * Math.abs(e[worst]))
                    + " (rtol " + rtol + ", atol " + atol + ")");
        }
    }

    /** Row-major flat index to a multi-index. */
    public static int[] unravel(int flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            int s = Math.max(shape[d], 1);
            idx[d] = flat % s;
            flat /= s;
        }
        return idx;
    }

    // ------------------------------------------------------------------ gradient check

    /** Gradient check of a single-output function with the default step and tolerances. */
    public static void check(Function<Tensor[], Tensor> fn, Tensor... inputs) {
        check(fn, H, RTOL, ATOL, inputs);
    }

    public static void check(Function<Tensor[], Tensor> fn, double h, double rtol, double atol, Tensor... inputs) {
        checkMulti(in -> List.of(fn.apply(in)), h, rtol, atol, inputs);
    }

    /** Gradient check of a function with several outputs (each output gets its own weights). */
    public static void checkMulti(Function<Tensor[], List<Tensor>> fn, Tensor... inputs) {
        checkMulti(fn, H, RTOL, ATOL, inputs);
    }

    public static void checkMulti(Function<Tensor[], List<Tensor>> fn, double h, double rtol, double atol, Tensor... inputs) {
        int n = inputs.length;
        boolean[] diff = new boolean[n];
        float[][] base = new float[n][];
        Tensor[] leaves = new Tensor[n];
        for (int i = 0; i < n; i++) {
            Tensor t = inputs[i];
            diff[i] = t != null && t.dtype() == DType.F32;
            if (diff[i]) {
                base[i] = t.toFloatArray();
                leaves[i] = tensor(base[i], t.shape()).to(t.device()).requiresGrad(true);
            } else {
                leaves[i] = t;
            }
        }
        // analytic
        List<Tensor> outs = fn.apply(leaves);
        Random rnd = new Random(1234);
        List<double[]> weights = new ArrayList<>();
        boolean any = false;
        for (Tensor o : outs) {
            double[] w = new double[o.numel()];
            for (int k = 0; k < w.length; k++) w[k] = rnd.nextDouble() * 2 - 1;
            weights.add(w);
            if (o.requiresGrad()) any = true;
        }
        if (!any) fail("no output of the function requires grad: the op recorded no graph");
        for (int k = 0; k < outs.size(); k++) {
            Tensor o = outs.get(k);
            if (!o.requiresGrad()) continue;
            float[] wf = new float[weights.get(k).length];
            for (int j = 0; j < wf.length; j++) wf[j] = (float) weights.get(k)[j];
            Tensor w = tensor(wf, o.shape()).to(o.device());
            o.backward(w, k < outs.size() - 1);
        }
        // numeric
        for (int i = 0; i < n; i++) {
            if (!diff[i]) continue;
            Tensor g = leaves[i].grad();
            double[] analytic = g == null ? new double[base[i].length] : g.toDoubleArray();
            if (g != null && !Arrays.equals(g.shape(), inputs[i].shape())) {
                fail("input " + i + ": gradient shape " + Arrays.toString(g.shape()) + " != input shape " + Arrays.toString(inputs[i].shape()));
            }
            double[] numeric = new double[base[i].length];
            double scale = 1;
            for (int j = 0; j < base[i].length; j++) {
                float orig = base[i][j];
                base[i][j] = (float) (orig + h);
                double lp = loss(fn, inputs, base, diff, weights, i);
                base[i][j] = (float) (orig - h);
                double lm = loss(fn, inputs, base, diff, weights, i);
                base[i][j] = orig;
                // divide by the step actually taken in F32
                double step = (double) (float) (orig + h) - (double) (float) (orig - h);
                numeric[j] = (lp - lm) / step;
                scale = Math.max(scale, Math.abs(numeric[j]));
            }
            compare(analytic, numeric, inputs[i].shape(), rtol, atol * scale,
                    "gradient of input " + i + " (shape " + Arrays.toString(inputs[i].shape()) + ", "
                            + (g == null ? "autograd gave no gradient, " : "") + "actual = autograd, expected = finite differences): ");
        }
    }

    private static double loss(Function<Tensor[], List<Tensor>> fn, Tensor[] inputs, float[][] base, boolean[] diff,
                               List<double[]> weights, int changed) {
        Tensor[] in = new Tensor[inputs.length];
        for (int i = 0; i < in.length; i++) {
            in[i] = diff[i] ? tensor(base[i], inputs[i].shape()).to(inputs[i].device()) : inputs[i];
        }
        double l = 0;
        try (var g = Grad.off()) {
            List<Tensor> outs = fn.apply(in);
            for (int k = 0; k < outs.size(); k++) {
                double[] o = outs.get(k).toDoubleArray(), w = weights.get(k);
                for (int j = 0; j < o.length; j++) l += o[j] * w[j];
            }
        }
        return l;
    }

    /** A reproducible F32 tensor with values uniform in [lo, hi). */
    public static Tensor uniform(long seed, double lo, double hi, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = 1;
        for (int s : shape) n *= s;
        float[] d = new float[n];
        for (int i = 0; i < n; i++) d[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return tensor(d, shape);
    }

    /** Like {@link #uniform} but every value is at least {@code gap} away from 0 in magnitude (for kinks at 0). */
    public static Tensor awayFromZero(long seed, double gap, double hi, int... shape) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = 1;
        for (int s : shape) n *= s;
        float[] d = new float[n];
        for (int i = 0; i < n; i++) {
            double m = gap + (hi - gap) * r.nextDouble();
            d[i] = (float) (r.nextBoolean() ? m : -m);
        }
        return tensor(d, shape);
    }

    /**
     * An F32 CPU tensor of exactly this shape: an empty shape gives a 0-dim tensor (where
     * {@code Tensor.of(data)} with no shape gives a 1-D one).
     */
    public static Tensor tensor(float[] data, int[] shape) {
        return shape.length == 0 ? Tensor.of(data.clone(), 1).reshape() : Tensor.of(data, shape);
    }
}
