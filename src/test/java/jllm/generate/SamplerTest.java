package jllm.generate;

import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SamplerTest {
    static final float NEG = Float.NEGATIVE_INFINITY;

    static Tensor row(double... v) {
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) f[i] = (float) v[i];
        return Tensor.of(f, 1, v.length);
    }

    static Tensor logProbs(double... p) {
        double[] l = new double[p.length];
        for (int i = 0; i < p.length; i++) l[i] = Math.log(p[i]);
        return row(l);
    }

    /** Which entries survived filtering. */
    static boolean[] kept(Tensor filtered) {
        float[] a = filtered.toFloatArray();
        boolean[] k = new boolean[a.length];
        for (int i = 0; i < a.length; i++) k[i] = a[i] != NEG;
        return k;
    }

    @Test
    void topKKeepsTheKLargestAndTheirTies() {
        assertArrayEquals(new float[] {NEG, NEG, NEG, 5, 4}, Sampler.topK(row(1, 3, 2, 5, 4), 2).toFloatArray());
        // values tied with the k-th largest stay, as `logits[logits < v[:, [-1]]] = -inf` does
        assertArrayEquals(new float[] {NEG, 3, 3, NEG}, Sampler.topK(row(1, 3, 3, 2), 1).toFloatArray());
        assertArrayEquals(new float[] {NEG, 3, 3, NEG}, Sampler.topK(row(1, 3, 3, 2), 2).toFloatArray());
        // k larger than the vocabulary keeps everything
        assertArrayEquals(new float[] {1, 3, 2}, Sampler.topK(row(1, 3, 2), 10).toFloatArray());
        // per row
        Tensor two = Tensor.of(new float[] {1, 2, 3, 9, 8, 7}, 2, 3);
        assertArrayEquals(new float[] {NEG, 2, 3, 9, 8, NEG}, Sampler.topK(two, 2).toFloatArray());
        assertThrows(IllegalArgumentException.class, () -> Sampler.topK(row(1, 2), 0));
    }

    @Test
    void topPKeepsTheSmallestNucleusReachingP() {
        Tensor l = logProbs(0.15, 0.5, 0.05, 0.3);
        // sorted: 0.5, 0.3, 0.15, 0.05; cumulative 0.5, 0.8, 0.95, 1.0
        assertArrayEquals(new boolean[] {false, true, false, true}, kept(Sampler.topP(l, 0.7)));
        assertArrayEquals(new boolean[] {true, true, false, true}, kept(Sampler.topP(l, 0.9)));
        assertArrayEquals(new boolean[] {false, true, false, false}, kept(Sampler.topP(l, 0.3)));
        assertArrayEquals(new boolean[] {false, true, false, false}, kept(Sampler.topP(l, 1e-6)), "always keeps one");
        assertArrayEquals(new boolean[] {true, true, true, true}, kept(Sampler.topP(l, 0.99)));
        assertArrayEquals(new boolean[] {true, true, true, true}, kept(Sampler.topP(l, 1.0)));
        // kept logits are unchanged
        assertEquals(l.toFloatArray()[1], Sampler.topP(l, 0.7).toFloatArray()[1]);
        // rows are independent; -inf entries (from top-k) count as probability 0
        Tensor two = Tensor.cat(0, logProbs(0.6, 0.3, 0.1), row(0, NEG, 0));
        assertArrayEquals(new boolean[] {true, true, false, true, false, true}, kept(Sampler.topP(two, 0.8)));
        assertThrows(IllegalArgumentException.class, () -> Sampler.topP(l, 0));
        assertThrows(IllegalArgumentException.class, () -> Sampler.topP(l, 1.5));
    }

    @Test
    void temperatureThenTopKThenTopP() {
        Tensor l = logProbs(0.4, 0.3, 0.2, 0.1);
        // top-p alone: 0.4 < 0.5 so two tokens; after top-k = 2 the survivors renormalise to 0.571, 0.429 -> one token
        assertArrayEquals(new boolean[] {true, true, false, false}, kept(new Sampler(1.0, null, 0.5, 0).process(l)));
        assertArrayEquals(new boolean[] {true, false, false, false}, kept(new Sampler(1.0, 2, 0.5, 0).process(l)));
        // temperature divides the logits before anything else
        Tensor t = new Sampler(2.0, null, null, 0).process(row(2, 4, -6));
        assertArrayEquals(new float[] {1, 2, -3}, t.toFloatArray());
        // a high temperature flattens the distribution, so top-p keeps more
        assertArrayEquals(new boolean[] {true, true, true, false}, kept(new Sampler(5.0, null, 0.7, 0).process(l)));
    }

    @Test
    void samplesFollowTheFilteredDistribution() {
        int n = 4000;
        Tensor l = logProbs(0.5, 0.3, 0.2).expand(n, 3).contiguous();
        long[] s = new Sampler(1.0, null, 0.7, 123).sample(l).toLongArray();
        int[] count = new int[3];
        for (long v : s) count[(int) v]++;
        assertEquals(0, count[2], "filtered token never drawn");
        assertEquals(0.5 / 0.8, count[0] / (double) n, 0.03);
        long[] all = new Sampler(1.0, null, null, 123).sample(l).toLongArray();
        int[] c2 = new int[3];
        for (long v : all) c2[(int) v]++;
        assertEquals(0.2, c2[2] / (double) n, 0.03);
    }

    @Test
    void greedyIsTopKOneAndArgmax() {
        Tensor l = Tensor.randn(new int[] {6, 50}, new Generator(3));
        long[] greedy = Sampler.greedy().sample(l).toLongArray();
        long[] argmax = l.argmax(-1, false).toLongArray();
        assertArrayEquals(argmax, greedy);
        for (long seed = 0; seed < 5; seed++) {
            assertArrayEquals(greedy, new Sampler(1.0, 1, null, seed).sample(l).toLongArray());
            assertArrayEquals(greedy, new Sampler(0.7, 1, 0.9, seed).sample(l).toLongArray());
        }
        assertTrue(Sampler.greedy().isGreedy());
        Tensor p = Sampler.greedy().probabilities(l);
        assertEquals(6.0, p.sum().item(), 1e-6);
        assertEquals(1.0, p.get(0, (int) greedy[0]));
        assertEquals(List_of_shape(6, 1), List_of_shape(Sampler.greedy().sample(l).shape()));
    }

    static java.util.List<Integer> List_of_shape(int... s) { return java.util.Arrays.stream(s).boxed().toList(); }

    @Test
    void sameSeedSameDraws() {
        Tensor l = Tensor.randn(new int[] {4, 100}, new Generator(9));
        Sampler a = new Sampler(1.0, 20, 0.95, 77), b = new Sampler(1.0, 20, 0.95, 77), c = new Sampler(1.0, 20, 0.95, 78);
        boolean differs = false;
        for (int i = 0; i < 10; i++) {
            long[] x = a.sample(l).toLongArray();
            assertArrayEquals(x, b.sample(l).toLongArray());
            differs |= !java.util.Arrays.equals(x, c.sample(l).toLongArray());
        }
        assertTrue(differs);
    }

    @Test
    void badSettings() {
        assertThrows(IllegalArgumentException.class, () -> new Sampler(-1, null, null, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(Double.NaN, null, null, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, 0, null, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, null, 0.0, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, null, 1.01, 0));
        assertThrows(IllegalArgumentException.class, () -> new Sampler(1, null, null, 0).sample(Tensor.zeros(3)));
        assertFalse(new Sampler(1e-3, null, null, 0).isGreedy());
    }
}
