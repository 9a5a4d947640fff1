package jllm.tensor;

import jllm.testing.GradCheck;
import org.junit.jupiter.api.Test;

import java.util.function.DoubleUnaryOperator;
import java.util.function.Function;

import static jllm.testing.GradCheck.assertClose;
import static jllm.testing.GradCheck.awayFromZero;
import static jllm.testing.GradCheck.check;
import static jllm.testing.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.*;

/** Forward vs element-wise references and gradient checks of arithmetic, activations and masks. */
class ElementwiseOpsTest {

    private static double[] ref(Tensor x, DoubleUnaryOperator f) {
        double[] v = x.toDoubleArray();
        for (int i = 0; i < v.length; i++) v[i] = f.applyAsDouble(v[i]);
        return v;
    }

    /** out[i,j] = f(a[i or 0, j or 0], b[...]) for 2-D broadcasting of a [ra,ca] with b [rb,cb]. */
    private static double[] ref2(Tensor a, Tensor b, java.util.function.DoubleBinaryOperator f) {
        int[] sa = a.shape(), sb = b.shape();
        int r = Math.max(sa[0], sb[0]), c = Math.max(sa[1], sb[1]);
        double[] x = a.toDoubleArray(), y = b.toDoubleArray(), o = new double[r * c];
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < c; j++) {
                double av = x[(sa[0] == 1 ? 0 : i) * sa[1] + (sa[1] == 1 ? 0 : j)];
                double bv = y[(sb[0] == 1 ? 0 : i) * sb[1] + (sb[1] == 1 ? 0 : j)];
                o[i * c + j] = f.applyAsDouble(av, bv);
            }
        }
        return o;
    }

    // ------------------------------------------------------------------ arithmetic

    @Test
    void addSubMulDivSameShape() {
        Tensor a = uniform(1, -2, 2, 3, 4), b = uniform(2, 0.5, 2, 3, 4);
        assertClose(a.add(b), ref2(a, b, Double::sum), 1e-6, 1e-6);
        assertClose(a.sub(b), ref2(a, b, (x, y) -> x - y), 1e-6, 1e-6);
        assertClose(a.mul(b), ref2(a, b, (x, y) -> x * y), 1e-6, 1e-6);
        assertClose(a.div(b), ref2(a, b, (x, y) -> x / y), 1e-6, 1e-6);
        check(t -> t[0].add(t[1]), a, b);
        check(t -> t[0].sub(t[1]), a, b);
        check(t -> t[0].mul(t[1]), a, b);
        check(t -> t[0].div(t[1]), a, b);
    }

    @Test
    void broadcastingBothWays() {
        Tensor col = uniform(3, -1, 1, 3, 1), row = uniform(4, 0.5, 1.5, 1, 4);
        assertArrayEquals(new int[] {3, 4}, col.add(row).shape());
        assertClose(col.add(row), ref2(col, row, Double::sum), 1e-6, 1e-6);
        assertClose(col.sub(row), ref2(col, row, (x, y) -> x - y), 1e-6, 1e-6);
        assertClose(row.sub(col), ref2(row, col, (x, y) -> x - y), 1e-6, 1e-6);
        assertClose(col.mul(row), ref2(col, row, (x, y) -> x * y), 1e-6, 1e-6);
        assertClose(col.div(row), ref2(col, row, (x, y) -> x / y), 1e-6, 1e-6);
        for (Function<Tensor[], Tensor> f : java.util.List.<Function<Tensor[], Tensor>>of(
                t -> t[0].add(t[1]), t -> t[0].sub(t[1]), t -> t[0].mul(t[1]), t -> t[0].div(t[1]),
                t -> t[1].add(t[0]), t -> t[1].sub(t[0]), t -> t[1].mul(t[0]))) {
            check(f, col, row);
        }
        // [2,3,4] with [4] and with [3,1]
        Tensor big = uniform(5, -1, 1, 2, 3, 4), vec = uniform(6, 0.5, 1.5, 4), mid = uniform(7, 0.5, 1.5, 3, 1);
        check(t -> t[0].mul(t[1]), big, vec);
        check(t -> t[0].div(t[1]), big, mid);
        check(t -> t[1].sub(t[0]), big, mid);
    }

    @Test
    void zeroDimOperands() {
        Tensor s = Tensor.scalar(1.5);
        assertEquals(0, s.dim());
        Tensor m = uniform(8, -1, 1, 2, 3);
        assertArrayEquals(new int[] {2, 3}, m.mul(s).shape());
        assertArrayEquals(new int[0], s.mul(s).shape());
        assertClose(m.mul(s), ref(m, v -> v * 1.5), 1e-6, 1e-6);
        assertClose(s.sub(m), ref(m, v -> 1.5 - v), 1e-6, 1e-6);
        check(t -> t[0].mul(t[1]), m, s);
        check(t -> t[1].div(t[0]), m.abs().add(0.5), s);
        check(t -> t[0].add(t[0]), s);
    }

    @Test
    void scalarArithmetic() {
        Tensor a = uniform(9, 0.5, 2, 2, 3);
        assertClose(a.add(2.5), ref(a, v -> v + 2.5), 1e-6, 1e-6);
        assertClose(a.sub(2.5), ref(a, v -> v - 2.5), 1e-6, 1e-6);
        assertClose(a.mul(-3), ref(a, v -> v * -3), 1e-6, 1e-6);
        assertClose(a.div(4), ref(a, v -> v / 4), 1e-6, 1e-6);
        assertClose(a.rsub(1), ref(a, v -> 1 - v), 1e-6, 1e-6);
        assertClose(a.rdiv(2), ref(a, v -> 2 / v), 1e-6, 1e-6);
        check(t -> t[0].add(2.5), a);
        check(t -> t[0].sub(2.5), a);
        check(t -> t[0].mul(-3), a);
        check(t -> t[0].div(4), a);
        check(t -> t[0].rsub(1), a);
        check(t -> t[0].rdiv(2), a);
    }

    @Test
    void negAndPow() {
        Tensor a = uniform(10, 0.5, 2, 2, 3), e = uniform(11, -1.5, 1.5, 2, 3);
        assertClose(a.neg(), ref(a, v -> -v), 0, 0);
        check(t -> t[0].neg(), a);
        for (double p : new double[] {2, 3, 0.5, -1, 1, 0, 1.7}) {
            assertClose(a.pow(p), ref(a, v -> Math.pow(v, p)), 1e-5, 1e-6);
            check(t -> t[0].pow(p), a);
        }
        assertClose(a.pow(e), ref2(a.reshape(6, 1), e.reshape(6, 1), Math::pow), 1e-5, 1e-6);
        check(t -> t[0].pow(t[1]), a, e);
        // broadcast exponent [3] against base [2,3]
        Tensor e3 = uniform(12, 0.5, 2, 3);
        check(t -> t[0].pow(t[1]), a, e3);
        // negative base with integer scalar exponent
        Tensor n = uniform(13, -2, -0.5, 4);
        assertClose(n.pow(3), ref(n, v -> v * v * v), 1e-5, 1e-6);
        check(t -> t[0].pow(3), n);
        check(t -> t[0].pow(2), n);
    }

    // ------------------------------------------------------------------ unary math

    @Test
    void unaryMath() {
        Tensor x = uniform(20, -2, 2, 3, 5), pos = uniform(21, 0.3, 3, 3, 5), nz = awayFromZero(22, 0.1, 2, 3, 5);
        assertClose(x.exp(), ref(x, Math::exp), 1e-5, 1e-6);
        assertClose(pos.log(), ref(pos, Math::log), 1e-5, 1e-6);
        assertClose(pos.sqrt(), ref(pos, Math::sqrt), 1e-6, 1e-6);
        assertClose(pos.rsqrt(), ref(pos, v -> 1 / Math.sqrt(v)), 1e-5, 1e-6);
        assertClose(nz.abs(), ref(nz, Math::abs), 0, 0);
        assertClose(x.tanh(), ref(x, Math::tanh), 1e-5, 1e-6);
        assertClose(x.sigmoid(), ref(x, v -> 1 / (1 + Math.exp(-v))), 1e-5, 1e-6);
        check(t -> t[0].exp(), x);
        check(t -> t[0].log(), pos);
        check(t -> t[0].sqrt(), pos);
        check(t -> t[0].rsqrt(), pos);
        check(t -> t[0].abs(), nz);
        check(t -> t[0].tanh(), x);
        check(t -> t[0].sigmoid(), x);
        check(t -> t[0].square(), x);
        check(t -> t[0].reciprocal(), nz);
        check(t -> t[0].sin(), x);
        check(t -> t[0].cos(), x);
    }

    private static double erf(double x) {
        // Abramowitz-Stegun 7.1.26 is too coarse; integrate the series instead (|x| <= 3 here)
        double sum = 0, term = x;
        for (int n = 0; n < 200; n++) {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    @Test
    void activations() {
        Tensor x = awayFromZero(30, 0.05, 3, 4, 6);
        assertClose(x.relu(), ref(x, v -> Math.max(v, 0)), 0, 0);
        assertClose(x.gelu(), ref(x, v -> 0.5 * v * (1 + erf(v / Math.sqrt(2)))), 1e-5, 1e-6);
        assertClose(x.gelu("tanh"), ref(x, v -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)))),
                1e-5, 1e-6);
        assertClose(x.silu(), ref(x, v -> v / (1 + Math.exp(-v))), 1e-5, 1e-6);
        assertClose(x.erf(), ref(x, ElementwiseOpsTest::erf), 1e-5, 1e-6);
        check(t -> t[0].relu(), x);
        check(t -> t[0].gelu(), x);
        check(t -> t[0].gelu("tanh"), x);
        check(t -> t[0].silu(), x);
        check(t -> t[0].erf(), x);
        assertThrows(IllegalArgumentException.class, () -> x.gelu("fast"));
    }

    @Test
    void activationsOnStridedInputs() {
        // non-unit strides take the scalar kernels: must agree with the vector ones
        Tensor x = awayFromZero(31, 0.05, 3, 6, 4);
        Tensor xt = x.t();
        assertClose(xt.gelu(), x.gelu().t(), 1e-6, 1e-6);
        assertClose(xt.gelu("tanh"), x.gelu("tanh").t(), 1e-6, 1e-6);
        assertClose(xt.silu(), x.silu().t(), 1e-6, 1e-6);
        assertClose(xt.sigmoid(), x.sigmoid().t(), 1e-6, 1e-6);
        assertClose(xt.tanh(), x.tanh().t(), 1e-6, 1e-6);
        assertClose(xt.erf(), x.erf().t(), 1e-6, 1e-6);
        assertClose(xt.exp(), x.exp().t(), 1e-6, 1e-6);
        check(t -> t[0].t().gelu(), x);
        check(t -> t[0].t().silu(), x);
        check(t -> t[0].t().tanh(), x);
        check(t -> t[0].t().sigmoid(), x);
        check(t -> t[0].t().relu(), x);
    }

    @Test
    void clampForwardAndGradient() {
        Tensor x = Tensor.of(new float[] {-2, -0.7f, -0.2f, 0.3f, 0.8f, 1.9f}, 2, 3);
        assertClose(x.clamp(-0.5, 0.5), -0.5, -0.5, -0.2, 0.3, 0.5, 0.5);
        assertClose(x.clampMin(0), 0, 0, 0, 0.3, 0.8, 1.9);
        assertClose(x.clampMax(0), -2, -0.7, -0.2, 0, 0, 0);
        check(t -> t[0].clamp(-0.5, 0.5), x);
        check(t -> t[0].clampMin(0), x);
        check(t -> t[0].clampMax(0), x);
    }

    @Test
    void whereAndMaskedFill() {
        Tensor a = uniform(40, -1, 1, 2, 3), b = uniform(41, -1, 1, 2, 3);
        Tensor c = Tensor.of(new boolean[] {true, false, true, false, false, true}, 2, 3);
        assertClose(Tensor.where(c, a, b), new double[] {
            a.get(0, 0), b.get(0, 1), a.get(0, 2), b.get(1, 0), b.get(1, 1), a.get(1, 2)}, 0, 0);
        check(t -> Tensor.where(c, t[0], t[1]), a, b);
        // broadcasting: cond [1,3], a [2,3], b [2,1]
        Tensor c13 = Tensor.of(new boolean[] {true, false, true}, 1, 3);
        Tensor b21 = uniform(42, -1, 1, 2, 1);
        Tensor w = Tensor.where(c13, a, b21);
        assertEquals(a.get(1, 2), w.get(1, 2), 0);
        assertEquals(b21.get(1, 0), w.get(1, 1), 0);
        check(t -> Tensor.where(c13, t[0], t[1]), a, b21);
        check(t -> Tensor.where(c, t[0], -1.0), a);

        Tensor mf = a.maskedFill(c, -9);
        assertClose(mf, new double[] {-9, a.get(0, 1), -9, a.get(1, 0), a.get(1, 1), -9}, 0, 0);
        check(t -> t[0].maskedFill(c, 3.0), a);
        // broadcast mask [3] over [2,3]
        Tensor m3 = Tensor.of(new boolean[] {false, true, false});
        Tensor mf3 = a.maskedFill(m3, 7);
        assertEquals(7, mf3.get(1, 1), 0);
        assertEquals(a.get(1, 0), mf3.get(1, 0), 0);
        check(t -> t[0].maskedFill(m3, 0.0), a);
        assertThrows(IllegalArgumentException.class, () -> a.maskedFill(Tensor.of(new float[] {1, 0, 1}), 0));
    }

    @Test
    void maskedFillBroadcastsLikePyTorch() {
        // out-of-place masked_fill expands self and mask to their broadcast shape (ATen: expand_outplace);
        // the in-place form must keep self's shape and so rejects a larger mask
        Tensor a = uniform(43, -1, 1, 3);
        Tensor m = Tensor.of(new boolean[] {true, false, true, false, false, true}, 2, 3);
        Tensor r = a.maskedFill(m, 0);
        assertArrayEquals(new int[] {2, 3}, r.shape());
        assertClose(r, new double[] {0, a.get(1), 0, a.get(0), a.get(1), 0}, 0, 0);
        check(t -> t[0].maskedFill(m, 0.0), a);
        assertThrows(IllegalArgumentException.class, () -> a.clone().maskedFill_(m, 0));
    }

    @Test
    void maximumMinimum() {
        Tensor a = Tensor.of(new float[] {1, 5, -2, 0.5f, 3, -4}, 2, 3), b = Tensor.of(new float[] {2, 4, -3, 0.7f, 2, -1}, 2, 3);
        assertClose(a.maximum(b), 2, 5, -2, 0.7, 3, -1);
        assertClose(a.minimum(b), 1, 4, -3, 0.5, 2, -4);
        check(t -> t[0].maximum(t[1]), a, b);
        check(t -> t[0].minimum(t[1]), a, b);
        Tensor r = Tensor.of(new float[] {0.1f, 2.5f, -10}, 1, 3);
        check(t -> t[0].maximum(t[1]), a, r);
        // ties split the gradient evenly, as PyTorch
        Tensor x = Tensor.of(new float[] {1, 2}).requiresGrad(true), y = Tensor.of(new float[] {1, 3}).requiresGrad(true);
        x.maximum(y).sum().backward();
        assertClose(x.grad(), 0.5, 0);
        assertClose(y.grad(), 0.5, 1);
        // NaN propagates
        assertTrue(Double.isNaN(Tensor.of(new float[] {Float.NaN}).maximum(Tensor.of(new float[] {1})).item()));
    }

    @Test
    void comparisonsGiveBool() {
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}), b = Tensor.of(new float[] {4, 2, 1, 5});
        assertEquals(DType.BOOL, a.eq(b).dtype());
        assertArrayEquals(new long[] {0, 1, 0, 0}, a.eq(b).toLongArray());
        assertArrayEquals(new long[] {1, 0, 1, 1}, a.ne(b).toLongArray());
        assertArrayEquals(new long[] {1, 0, 0, 1}, a.lt(b).toLongArray());
        assertArrayEquals(new long[] {1, 1, 0, 1}, a.le(b).toLongArray());
        assertArrayEquals(new long[] {0, 0, 1, 0}, a.gt(b).toLongArray());
        assertArrayEquals(new long[] {0, 1, 1, 0}, a.ge(b).toLongArray());
        assertArrayEquals(new long[] {0, 1, 0, 0}, a.eq(2).toLongArray());
        assertArrayEquals(new long[] {1, 0, 1, 1}, a.ne(2).toLongArray());
        assertArrayEquals(new long[] {1, 1, 0, 0}, a.lt(2.5).toLongArray());
        assertArrayEquals(new long[] {1, 1, 0, 0}, a.le(2).toLongArray());
        assertArrayEquals(new long[] {0, 0, 1, 1}, a.gt(2).toLongArray());
        assertArrayEquals(new long[] {0, 1, 1, 1}, a.ge(2).toLongArray());
        for (Tensor t : new Tensor[] {a.eq(b), a.lt(2.5), a.ge(2), a.ne(2)}) assertEquals(DType.BOOL, t.dtype());
        // comparisons record no graph
        Tensor g = a.clone().requiresGrad(true);
        assertFalse(g.gt(0).requiresGrad());
        // fractional scalar against an integer tensor compares as float (PyTorch: tensor([1,2,3]) < 2.5)
        Tensor i = Tensor.of(new long[] {1, 2, 3});
        assertArrayEquals(new long[] {1, 1, 0}, i.lt(2.5).toLongArray());
        assertArrayEquals(new long[] {0, 0, 1}, i.gt(2.5).toLongArray());
        assertArrayEquals(new long[] {0, 0, 0}, i.eq(2.5).toLongArray());
        assertArrayEquals(new long[] {1, 1, 1}, i.ne(2.5).toLongArray());
        // integer vs float tensors, broadcast
        Tensor col = Tensor.of(new float[] {1.5f, 2.5f}, 2, 1);
        assertArrayEquals(new int[] {2, 3}, i.lt(col).shape());
        assertArrayEquals(new long[] {1, 0, 0, 1, 1, 0}, i.lt(col).toLongArray());
        // logical ops
        Tensor p = Tensor.of(new boolean[] {true, true, false, false}), q = Tensor.of(new boolean[] {true, false, true, false});
        assertArrayEquals(new long[] {1, 0, 0, 0}, p.logicalAnd(q).toLongArray());
        assertArrayEquals(new long[] {1, 1, 1, 0}, p.logicalOr(q).toLongArray());
        assertArrayEquals(new long[] {0, 0, 1, 1}, p.logicalNot().toLongArray());
    }

    @Test
    void nanSemantics() {
        Tensor n = Tensor.of(new float[] {Float.NaN, 1});
        assertArrayEquals(new long[] {0, 0}, n.eq(Tensor.of(new float[] {Float.NaN, 2})).toLongArray());
        assertArrayEquals(new long[] {1, 1}, n.ne(Tensor.of(new float[] {Float.NaN, 2})).toLongArray());
        assertTrue(Double.isNaN(n.relu().get(0)));
        assertTrue(Double.isNaN(n.clamp(0, 1).get(0)));
    }

    @Test
    void largeTensorsTakeTheParallelPathsCorrectly() {
        // above Strided.PARALLEL_GRAIN (2^15 elements) rows are split over the worker pool
        Tensor a = uniform(50, -1, 1, 300, 257), row = uniform(51, -1, 1, 257), col = uniform(52, -1, 1, 300, 1);
        double[] av = a.toDoubleArray(), rv = row.toDoubleArray(), cv = col.toDoubleArray();
        double[] e1 = new double[av.length], e2 = new double[av.length];
        for (int i = 0; i < 300; i++) for (int j = 0; j < 257; j++) {
            e1[i * 257 + j] = (float) av[i * 257 + j] + (float) rv[j];
            e2[i * 257 + j] = (float) ((float) av[i * 257 + j] * (float) cv[i]);
        }
        assertClose(a.add(row), e1, 0, 0);
        assertClose(a.mul(col), e2, 0, 0);
        assertClose(a.t().contiguous().t(), a, 0, 0);
        assertClose(a.t().exp().t(), a.exp(), 0, 0);
        double[] rowSums = new double[300], colSums = new double[257];
        for (int i = 0; i < 300; i++) for (int j = 0; j < 257; j++) {
            rowSums[i] += av[i * 257 + j];
            colSums[j] += av[i * 257 + j];
        }
        assertClose(a.sum(1, false), rowSums, 1e-5, 1e-4);
        assertClose(a.sum(0, false), colSums, 1e-5, 1e-4);
        assertClose(a.t().sum(1, false), colSums, 1e-5, 1e-4);
        Tensor big = uniform(53, -1, 1, 70000);
        assertClose(big.mul(2).sub(big), big, 1e-6, 1e-7);
        assertClose(big.gelu(), big.view(700, 100).t().gelu().t().reshape(-1), 1e-6, 1e-6);
    }
}
