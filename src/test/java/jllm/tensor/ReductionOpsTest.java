package jllm.tensor;

import org.junit.jupiter.api.Test;

import static jllm.testing.GradCheck.assertClose;
import static jllm.testing.GradCheck.check;
import static jllm.testing.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.*;

/** Reductions over dims (keepdim or not) and over all elements, arg-reductions, cumsum, softmax. */
class ReductionOpsTest {

    /** Reference reduction of a [2,3,4] tensor over one dim with a loop. */
    private interface Fold { double apply(double[] row); }

    private static double[] reduce3(Tensor x, int dim, Fold f) {
        int[] s = x.shape();
        double[] v = x.toDoubleArray();
        int[] os = s.clone();
        os[dim] = 1;
        double[] out = new double[os[0] * os[1] * os[2]];
        for (int i = 0; i < os[0]; i++) for (int j = 0; j < os[1]; j++) for (int k = 0; k < os[2]; k++) {
            double[] row = new double[s[dim]];
            for (int r = 0; r < s[dim]; r++) {
                int a = dim == 0 ? r : i, b = dim == 1 ? r : j, c = dim == 2 ? r : k;
                row[r] = v[(a * s[1] + b) * s[2] + c];
            }
            out[(i * os[1] + j) * os[2] + k] = f.apply(row);
        }
        return out;
    }

    private static double sum(double[] r) { double s = 0; for (double v : r) s += v; return s; }

    private static double mean(double[] r) { return sum(r) / r.length; }

    private static double var(double[] r, double corr) {
        double m = mean(r), s = 0;
        for (double v : r) s += (v - m) * (v - m);
        return s / (r.length - corr);
    }

    private static double max(double[] r) { double m = Double.NEGATIVE_INFINITY; for (double v : r) m = Math.max(m, v); return m; }

    private static double min(double[] r) { double m = Double.POSITIVE_INFINITY; for (double v : r) m = Math.min(m, v); return m; }

    private static double prod(double[] r) { double p = 1; for (double v : r) p *= v; return p; }

    @Test
    void sumMeanVarStdOverEachDim() {
        Tensor x = uniform(1, -2, 2, 2, 3, 4);
        for (int d = 0; d < 3; d++) {
            final int dim = d;
            int[] kept = x.shape();
            kept[d] = 1;
            assertArrayEquals(kept, x.sum(d, true).shape());
            assertEquals(2, x.sum(d, false).dim());
            assertClose(x.sum(d, true), reduce3(x, d, ReductionOpsTest::sum), 1e-5, 1e-5);
            assertClose(x.sum(d, false), reduce3(x, d, ReductionOpsTest::sum), 1e-5, 1e-5);
            assertClose(x.mean(d, false), reduce3(x, d, ReductionOpsTest::mean), 1e-5, 1e-5);
            assertClose(x.var(d, false), reduce3(x, d, r -> var(r, 1)), 1e-5, 1e-5);
            assertClose(x.var(new int[] {d}, true, 0), reduce3(x, d, r -> var(r, 0)), 1e-5, 1e-5);
            assertClose(x.std(d, true), reduce3(x, d, r -> Math.sqrt(var(r, 1))), 1e-5, 1e-5);
            assertClose(x.prod(d, false), reduce3(x, d, ReductionOpsTest::prod), 1e-5, 1e-5);
            check(t -> t[0].sum(dim, true), x);
            check(t -> t[0].sum(dim, false), x);
            check(t -> t[0].mean(dim, false), x);
            check(t -> t[0].var(dim, true), x);
            check(t -> t[0].var(new int[] {dim}, false, 0), x);
            check(t -> t[0].std(dim, false), x);
            check(t -> t[0].prod(dim, true), x);
            check(t -> t[0].prod(dim, false), x);
        }
    }

    @Test
    void reductionsOverSeveralDimsAndAll() {
        Tensor x = uniform(2, -2, 2, 2, 3, 4);
        double[] v = x.toDoubleArray();
        assertEquals(sum(v), x.sum().item(), 1e-5);
        assertEquals(0, x.sum().dim());
        assertEquals(mean(v), x.mean().item(), 1e-5);
        assertEquals(var(v, 1), x.var().item(), 1e-5);
        assertEquals(Math.sqrt(var(v, 1)), x.std().item(), 1e-5);
        assertEquals(max(v), x.max().item(), 0);
        assertEquals(min(v), x.min().item(), 0);
        check(t -> t[0].sum(), x);
        check(t -> t[0].mean(), x);
        check(t -> t[0].var(), x);
        check(t -> t[0].std(), x);
        check(t -> t[0].max(), x);
        check(t -> t[0].min(), x);
        // dims {0, 2}, negative dims, keepdim
        Tensor s02 = x.sum(new int[] {0, -1}, true);
        assertArrayEquals(new int[] {1, 3, 1}, s02.shape());
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int i = 0; i < 2; i++) for (int k = 0; k < 4; k++) s += x.get(i, j, k);
            assertEquals(s, s02.get(0, j, 0), 1e-5);
        }
        check(t -> t[0].sum(new int[] {0, 2}, false), x);
        check(t -> t[0].mean(new int[] {1, 2}, true), x);
        check(t -> t[0].var(new int[] {0, 1}, false, 1), x);
        // reductions of strided views
        check(t -> t[0].transpose(0, 2).sum(1, false), x);
        check(t -> t[0].permute(2, 0, 1).mean(new int[] {0, 1}, false), x);
        assertClose(x.transpose(0, 2).sum(0, false), x.sum(2, false).t(), 1e-5, 1e-5);
    }

    @Test
    void maxMinAlongDimWithIndices() {
        Tensor x = uniform(3, -2, 2, 2, 3, 4);
        for (int d = 0; d < 3; d++) {
            final int dim = d;
            Tensor[] mx = x.maxWithIndices(d, false), mn = x.minWithIndices(d, true);
            assertClose(mx[0], reduce3(x, d, ReductionOpsTest::max), 0, 0);
            assertClose(mn[0], reduce3(x, d, ReductionOpsTest::min), 0, 0);
            assertEquals(DType.I64, mx[1].dtype());
            assertArrayEquals(mx[0].shape(), mx[1].shape());
            assertArrayEquals(mn[0].shape(), mn[1].shape());
            // values == x.gather(indices)
            assertClose(x.gather(d, mx[1].unsqueeze(d)).squeeze(d), mx[0], 0, 0);
            assertClose(x.gather(d, mn[1]), mn[0], 0, 0);
            assertClose(x.max(d, false), mx[0], 0, 0);
            check(t -> t[0].max(dim, false), x);
            check(t -> t[0].min(dim, true), x);
            check(t -> t[0].maxWithIndices(dim, true)[0], x);
        }
    }

    @Test
    void maxGradientSplitsEvenlyOnTiesForFullReduction() {
        // PyTorch: max() over all elements spreads the gradient evenly over tied maxima;
        // max(dim) sends it to the returned index only
        Tensor x = Tensor.of(new float[] {1, 3, 3, 2}).requiresGrad(true);
        x.max().backward();
        assertClose(x.grad(), 0, 0.5, 0.5, 0);
        Tensor y = Tensor.of(new float[] {1, 3, 3, 2}).requiresGrad(true);
        y.max(0, false).backward();
        assertClose(y.grad(), 0, 1, 0, 0);
    }

    @Test
    void argmaxArgminFirstOccurrence() {
        Tensor x = Tensor.of(new float[] {1, 5, 5, 0, 0, 3, 2, 1}, 2, 4);
        assertArrayEquals(new long[] {1, 1}, x.argmax(1, false).toLongArray());
        assertArrayEquals(new long[] {3, 0}, x.argmin(1, false).toLongArray());
        assertArrayEquals(new long[] {0, 0, 0, 1}, x.argmax(0, false).toLongArray());
        assertArrayEquals(new long[] {1, 1, 1, 0}, x.argmin(0, false).toLongArray());
        assertArrayEquals(new int[] {2, 1}, x.argmax(1, true).shape());
        assertEquals(1, x.argmax().item());
        assertEquals(0, x.argmax().dim());
        assertEquals(DType.I64, x.argmax(1, false).dtype());
        Tensor[] mi = x.maxWithIndices(1, false);
        assertArrayEquals(new long[] {1, 1}, mi[1].toLongArray());
        // NaN is the maximum (PyTorch propagates NaN)
        assertEquals(1, Tensor.of(new float[] {0, Float.NaN, 5}).argmax().item());
    }

    @Test
    void integerReductions() {
        Tensor i = Tensor.of(new long[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertEquals(DType.I64, i.sum().dtype());
        assertEquals(21, i.sum().item());
        assertArrayEquals(new long[] {6, 15}, i.sum(1, false).toLongArray());
        assertEquals(DType.I64, i.sum(0, false).dtype());
        Tensor i32 = Tensor.of(new int[] {1, 2, 3});
        assertEquals(DType.I64, i32.sum().dtype(), "sum of int32 promotes to int64 like PyTorch");
        assertEquals(6, i32.sum().item());
        Tensor b = Tensor.of(new boolean[] {true, false, true});
        assertEquals(DType.I64, b.sum().dtype());
        assertEquals(2, b.sum().item());
        assertEquals(6, i.max().item());
        assertEquals(DType.I64, i.max().dtype());
        assertArrayEquals(new long[] {3, 6}, i.max(1, false).toLongArray());
        assertEquals(720, i.prod(1, false).prod(0, false).item());
        assertThrows(IllegalArgumentException.class, i::mean, "mean of an integer tensor is an error in PyTorch");
        assertArrayEquals(new long[] {1, 3, 6}, i32.cumsum(0).toLongArray());
        assertEquals(DType.I64, i32.cumsum(0).dtype());
        assertTrue(b.any());
        assertFalse(b.all());
    }

    @Test
    void cumsum() {
        Tensor x = uniform(4, -1, 1, 3, 4);
        double[] v = x.toDoubleArray();
        Tensor c1 = x.cumsum(1), c0 = x.cumsum(0);
        for (int i = 0; i < 3; i++) {
            double acc = 0;
            for (int j = 0; j < 4; j++) {
                acc += v[i * 4 + j];
                assertEquals(acc, c1.get(i, j), 1e-5);
            }
        }
        for (int j = 0; j < 4; j++) {
            double acc = 0;
            for (int i = 0; i < 3; i++) {
                acc += v[i * 4 + j];
                assertEquals(acc, c0.get(i, j), 1e-5);
            }
        }
        check(t -> t[0].cumsum(1), x);
        check(t -> t[0].cumsum(0), x);
        check(t -> t[0].cumsum(-1), x.t());
    }

    private static double[] softmaxRef(double[] row) {
        double m = max(row), s = 0;
        double[] o = new double[row.length];
        for (int i = 0; i < row.length; i++) s += o[i] = Math.exp(row[i] - m);
        for (int i = 0; i < row.length; i++) o[i] /= s;
        return o;
    }

    @Test
    void softmaxAndLogSoftmax() {
        Tensor x = uniform(5, -3, 3, 2, 3, 5);
        for (int d = 0; d < 3; d++) {
            final int dim = d;
            Tensor sm = x.softmax(d), lsm = x.logSoftmax(d);
            assertArrayEquals(x.shape(), sm.shape());
            // rows along dim sum to one and match the reference
            assertClose(sm.sum(d, false), Tensor.ones(sm.sum(d, false).shape()), 1e-5, 1e-6);
            Tensor moved = x.transpose(d, -1).contiguous();
            double[] mv = moved.toDoubleArray();
            int n = x.size(d);
            double[] expect = new double[mv.length];
            for (int r = 0; r < mv.length / n; r++) {
                double[] row = java.util.Arrays.copyOfRange(mv, r * n, r * n + n);
                System.arraycopy(softmaxRef(row), 0, expect, r * n, n);
            }
            Tensor ref = Tensor.of(toF(expect), moved.shape()).transpose(d, -1);
            assertClose(sm, ref, 1e-5, 1e-6);
            assertClose(lsm, ref.log(), 1e-5, 1e-5);
            check(t -> t[0].softmax(dim), x);
            check(t -> t[0].logSoftmax(dim), x);
        }
        // large logits do not overflow
        Tensor big = Tensor.of(new float[] {1000, 1001, 1002});
        assertClose(big.softmax(0), Tensor.of(new float[] {0, 1, 2}).softmax(0), 1e-6, 1e-7);
        assertFalse(Double.isNaN(big.logSoftmax(0).sum().item()));
        // softmax of a strided (transposed) input
        check(t -> t[0].t().softmax(-1), uniform(6, -2, 2, 4, 3));
    }

    static float[] toF(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    @Test
    void reductionErrors() {
        Tensor x = uniform(7, -1, 1, 2, 3);
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> x.sum(2, false));
        assertTrue(e.getMessage().contains("Dimension out of range (expected to be in range of [-2, 1], but got 2)"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> x.softmax(-3));
        assertThrows(IllegalArgumentException.class, () -> x.sum(new int[] {1, -1}, false));
    }
}
