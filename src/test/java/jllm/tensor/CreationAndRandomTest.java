package jllm.tensor;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static jllm.testing.GradCheck.assertClose;
import static org.junit.jupiter.api.Assertions.*;

/** Factories, random sampling (statistics with fixed seeds), item(), printing. */
class CreationAndRandomTest {

    @Test
    void factories() {
        Tensor z = Tensor.zeros(2, 3);
        assertArrayEquals(new int[] {2, 3}, z.shape());
        assertEquals(DType.F32, z.dtype());
        assertEquals(0, z.abs().sum().item());
        assertEquals(6, Tensor.ones(2, 3).sum().item());
        Tensor f = Tensor.full(new int[] {2, 2}, 2.5);
        assertArrayEquals(new double[] {2.5, 2.5, 2.5, 2.5}, f.toDoubleArray());
        Tensor fi = Tensor.full(new int[] {3}, 7, DType.I64, Device.CPU);
        assertEquals(DType.I64, fi.dtype());
        assertArrayEquals(new long[] {7, 7, 7}, fi.toLongArray());
        assertEquals(DType.BOOL, Tensor.ones(new int[] {2}, DType.BOOL, Device.CPU).dtype());
        assertArrayEquals(new double[] {1, 0, 0, 0, 1, 0}, Tensor.eye(2, 3).toDoubleArray());
        assertArrayEquals(new double[] {1, 0, 0, 1}, Tensor.eye(2).toDoubleArray());
        assertEquals(0, Tensor.scalar(3).dim());
        assertEquals(3, Tensor.scalar(3).item());
        Tensor like = Tensor.onesLike(fi);
        assertEquals(DType.I64, like.dtype());
        assertArrayEquals(new int[] {3}, Tensor.zerosLike(fi).shape());
        assertEquals(4.0, Tensor.fullLike(f, 4).get(1, 1));
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[] {1, 2, 3}, 2, 2));
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[][] {{1, 2}, {3}}));
        assertArrayEquals(new int[] {2, 2}, Tensor.of(new float[][] {{1, 2}, {3, 4}}).shape());
        assertArrayEquals(new double[] {0, 0.25, 0.5, 0.75, 1}, Tensor.linspace(0, 1, 5).toDoubleArray());
    }

    @Test
    void arange() {
        Tensor a = Tensor.arange(5);
        assertEquals(DType.I64, a.dtype());
        assertArrayEquals(new long[] {0, 1, 2, 3, 4}, a.toLongArray());
        assertArrayEquals(new long[] {2, 5, 8}, Tensor.arange(2, 10, 3).toLongArray());
        assertArrayEquals(new long[] {5, 3, 1}, Tensor.arange(5, 0, -2).toLongArray());
        assertEquals(0, Tensor.arange(3, 3, 1).numel());
        assertEquals(0, Tensor.arange(5, 0, 1).numel());
        Tensor f = Tensor.arange(0.0, 1.0, 0.25);
        assertEquals(DType.F32, f.dtype());
        assertArrayEquals(new double[] {0, 0.25, 0.5, 0.75}, f.toDoubleArray());
        assertEquals(10, Tensor.arange(0.0, 1.0, 0.1).numel());
        assertArrayEquals(new double[] {1, 0.5}, Tensor.arange(1.0, 0.0, -0.5).toDoubleArray());
        assertThrows(IllegalArgumentException.class, () -> Tensor.arange(0, 1, 0));
    }

    @Test
    void randStatisticsAndSeeding() {
        Generator g = new Generator(123);
        Tensor u = Tensor.rand(new int[] {20000}, g);
        double[] v = u.toDoubleArray();
        double mean = 0, min = 1, max = 0;
        for (double x : v) {
            mean += x;
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        mean /= v.length;
        assertTrue(min >= 0 && max < 1, "uniform in [0,1)");
        assertEquals(0.5, mean, 0.01);
        assertEquals(1.0 / 12, u.var().item(), 0.005);
        Tensor n = Tensor.randn(new int[] {20000}, new Generator(7));
        assertEquals(0, n.mean().item(), 0.03);
        assertEquals(1, n.std().item(), 0.03);
        // same seed, same numbers; manualSeed resets the default generator
        assertClose(Tensor.rand(new int[] {5}, new Generator(9)), Tensor.rand(new int[] {5}, new Generator(9)), 0, 0);
        Generator.manualSeed(42);
        Tensor a = Tensor.randn(3, 4), ai = Tensor.randint(0, 10, new int[] {6});
        Generator.manualSeed(42);
        Tensor b = Tensor.randn(3, 4), bi = Tensor.randint(0, 10, new int[] {6});
        assertClose(a, b, 0, 0);
        assertArrayEquals(ai.toLongArray(), bi.toLongArray());
        assertFalse(Tensor.randn(3, 4).equal(a));
        Tensor ru = Tensor.zeros(1000).uniform_(-2, 3, new Generator(1));
        assertTrue(ru.min().item() >= -2 && ru.max().item() < 3);
        Tensor rn = Tensor.zeros(10000).normal_(5, 2, new Generator(2));
        assertEquals(5, rn.mean().item(), 0.1);
        assertEquals(2, rn.std().item(), 0.1);
    }

    @Test
    void randintAndRandperm() {
        Tensor r = Tensor.randint(-3, 4, new int[] {5000}, new Generator(5));
        assertEquals(DType.I64, r.dtype());
        long[] v = r.toLongArray();
        int[] counts = new int[7];
        for (long x : v) {
            assertTrue(x >= -3 && x < 4, "randint value " + x + " out of [-3, 4)");
            counts[(int) x + 3]++;
        }
        for (int c : counts) assertEquals(5000 / 7.0, c, 100, "every value is drawn about equally often");
        assertThrows(IllegalArgumentException.class, () -> Tensor.randint(3, 3, new int[] {1}));
        Tensor p = Tensor.randperm(50, new Generator(3));
        Set<Long> seen = new HashSet<>();
        for (long x : p.toLongArray()) seen.add(x);
        assertEquals(50, seen.size());
        assertTrue(seen.stream().allMatch(x -> x >= 0 && x < 50));
        assertArrayEquals(Tensor.randperm(50, new Generator(3)).toLongArray(), p.toLongArray());
    }

    @Test
    void multinomialWithReplacement() {
        Tensor probs = Tensor.of(new float[] {0.1f, 0.0f, 0.6f, 0.3f});
        Tensor s = probs.multinomial(20000, true, new Generator(11));
        assertArrayEquals(new int[] {20000}, s.shape());
        assertEquals(DType.I64, s.dtype());
        int[] c = new int[4];
        for (long x : s.toLongArray()) c[(int) x]++;
        assertEquals(0, c[1], "zero-probability category is never drawn");
        assertEquals(0.1, c[0] / 20000.0, 0.01);
        assertEquals(0.6, c[2] / 20000.0, 0.015);
        assertEquals(0.3, c[3] / 20000.0, 0.015);
        // unnormalised weights, 2-D input: one row per distribution
        Tensor w = Tensor.of(new float[] {1, 3, 0, 0, 0, 5}, 2, 3);
        Tensor s2 = w.multinomial(4000, true, new Generator(12));
        assertArrayEquals(new int[] {2, 4000}, s2.shape());
        long[] v = s2.toLongArray();
        int ones = 0;
        for (int i = 0; i < 4000; i++) {
            assertTrue(v[i] == 0 || v[i] == 1);
            if (v[i] == 1) ones++;
            assertEquals(2, v[4000 + i]);
        }
        assertEquals(0.75, ones / 4000.0, 0.03);
        assertArrayEquals(probs.multinomial(10, true, new Generator(4)).toLongArray(),
                probs.multinomial(10, true, new Generator(4)).toLongArray());
    }

    @Test
    void multinomialWithoutReplacement() {
        Tensor w = Tensor.of(new float[] {1, 2, 3, 4, 5});
        for (int seed = 0; seed < 50; seed++) {
            long[] s = w.multinomial(5, false, new Generator(seed)).toLongArray();
            Set<Long> d = new HashSet<>();
            for (long x : s) d.add(x);
            assertEquals(5, d.size(), "without replacement every index is distinct");
        }
        // first draw follows the weights: index 4 first with probability 5/15
        int first4 = 0;
        for (int seed = 0; seed < 3000; seed++) if (w.multinomial(2, false, new Generator(seed)).get(0) == 4) first4++;
        assertEquals(1.0 / 3, first4 / 3000.0, 0.03);
        // zero-weight categories come only after all positive ones (PyTorch never draws them)
        Tensor z = Tensor.of(new float[] {0, 1, 0, 1});
        long[] s = z.multinomial(2, false, new Generator(1)).toLongArray();
        assertEquals(Set.of(1L, 3L), Set.of(s[0], s[1]));
        assertThrows(IllegalArgumentException.class, () -> w.multinomial(6, false));
    }

    @Test
    void multinomialErrors() {
        IllegalArgumentException neg = assertThrows(IllegalArgumentException.class,
                () -> Tensor.of(new float[] {0.5f, -0.1f}).multinomial(1, true));
        assertTrue(neg.getMessage().contains("element < 0"), neg.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[] {0.5f, Float.NaN}).multinomial(1, true));
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class,
                () -> Tensor.of(new float[] {1, 1, 0, 0}, 2, 2).multinomial(1, true));
        assertTrue(zero.getMessage().contains("row 1"), zero.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new float[] {1, 0, 0}).multinomial(2, false),
                "more samples than non-zero categories without replacement");
        assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(2, 2, 2).multinomial(1, true));
    }

    @Test
    void itemAndGet() {
        assertEquals(2.5, Tensor.of(new float[] {2.5f}).item());
        assertEquals(7, Tensor.of(new long[] {7}, 1, 1).item());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Tensor.zeros(2).item());
        assertTrue(e.getMessage().contains("a Tensor with 2 elements cannot be converted to a scalar"), e.getMessage());
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertEquals(6, x.get(1, 2));
        assertEquals(6, x.get(-1, -1));
        assertEquals(4, x.t().get(0, 1));
    }

    @Test
    void toStringLikePyTorch() {
        assertEquals("tensor([[1.0000, 2.5000]])", Tensor.of(new float[] {1, 2.5f}, 1, 2).toString());
        assertEquals("tensor([[1., 2.]])", Tensor.of(new float[] {1, 2}, 1, 2).toString());
        assertEquals("tensor([[ 1.5000, -2.0000],\n        [ 3.0000,  4.2500]])",
                Tensor.of(new float[] {1.5f, -2, 3, 4.25f}, 2, 2).toString());
        assertEquals("tensor(1.5000)", Tensor.scalar(1.5).toString());
        assertEquals("tensor(3.)", Tensor.scalar(3).toString());
        assertEquals("tensor([ 1, 20,  3])", Tensor.of(new long[] {1, 20, 3}).toString());
        assertEquals("tensor([1, 2], dtype=torch.int32)", Tensor.of(new int[] {1, 2}).toString());
        assertEquals("tensor([ True, False])", Tensor.of(new boolean[] {true, false}).toString());
        assertEquals("tensor([1.0000e-05, 1.0000e+00])", Tensor.of(new float[] {1e-5f, 1}).toString());
        assertEquals("tensor([0.5000,    nan,    inf])", Tensor.of(new float[] {0.5f, Float.NaN, Float.POSITIVE_INFINITY}).toString());
        assertEquals("tensor([[[1., 2.]],\n\n        [[3., 4.]]])", Tensor.of(new float[] {1, 2, 3, 4}, 2, 1, 2).toString());
        assertEquals("tensor([1.5000], dtype=torch.float64)", Tensor.of(new double[] {1.5}).toString());
        assertEquals("tensor([])", Tensor.zeros(0).toString());
        Tensor leaf = Tensor.of(new float[] {1, 2}).requiresGrad(true);
        assertEquals("tensor([1., 2.], requires_grad=True)", leaf.toString());
        assertEquals("tensor([2., 4.], grad_fn=<MulBackward1>)", leaf.mul(2).toString());
    }
}
