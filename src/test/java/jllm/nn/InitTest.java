package jllm.nn;

import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InitTest {

    static double[] stats(Tensor t) {
        double[] v = t.toDoubleArray();
        double s = 0, s2 = 0, min = Double.MAX_VALUE, max = -Double.MAX_VALUE;
        for (double x : v) {
            s += x;
            s2 += x * x;
            min = Math.min(min, x);
            max = Math.max(max, x);
        }
        double mean = s / v.length;
        return new double[] {mean, Math.sqrt(s2 / v.length - mean * mean), min, max};
    }

    @Test
    void gainsAndFans() {
        assertEquals(1, Init.calculateGain("linear"));
        assertEquals(1, Init.calculateGain("conv2d"));
        assertEquals(1, Init.calculateGain("sigmoid"));
        assertEquals(5.0 / 3, Init.calculateGain("tanh"));
        assertEquals(Math.sqrt(2), Init.calculateGain("relu"));
        assertEquals(Math.sqrt(2 / (1 + 0.01 * 0.01)), Init.calculateGain("leaky_relu"));
        assertEquals(Math.sqrt(2 / 6.0), Init.calculateGain("leaky_relu", Math.sqrt(5)), 1e-15);
        assertEquals(0.75, Init.calculateGain("selu"));
        assertThrows(IllegalArgumentException.class, () -> Init.calculateGain("swish"));
        assertArrayEquals(new long[] {75, 150}, Init.calculateFanInAndFanOut(Tensor.zeros(6, 3, 5, 5)));
        assertArrayEquals(new long[] {400, 120}, Init.calculateFanInAndFanOut(Tensor.zeros(120, 400)));
        var e = assertThrows(IllegalArgumentException.class, () -> Init.calculateFanInAndFanOut(Tensor.zeros(5)));
        assertTrue(e.getMessage().contains("fewer than 2 dimensions"));
        assertThrows(IllegalArgumentException.class, () -> Init.kaimingUniform_(Tensor.zeros(3, 3), 0, "fan_avg", "relu"));
    }

    @Test
    void linearAndConvDefaultInitBounds() {
        // kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the bias the same bound
        Linear lin = new Linear(400, 120);
        double b = 1 / Math.sqrt(400);
        double[] s = stats(lin.weight());
        assertTrue(s[2] >= -b && s[3] <= b && s[3] > 0.99 * b && s[2] < -0.99 * b, "weight fills [-b, b]");
        assertEquals(b / Math.sqrt(3), s[1], 0.02 * b);
        assertEquals(0, s[0], 0.02 * b);
        double[] sb = stats(lin.bias());
        assertTrue(sb[2] >= -b && sb[3] <= b);
        Conv2d conv = new Conv2d(6, 16, 5, 1, 0, 1, 2, true);
        double bc = 1 / Math.sqrt(3 * 25); // fan_in = in/groups * kh * kw
        double[] sc = stats(conv.weight());
        assertTrue(sc[2] >= -bc && sc[3] <= bc && sc[3] > 0.95 * bc);
        double[] scb = stats(conv.bias());
        assertTrue(scb[2] >= -bc && scb[3] <= bc);
        double[] se = stats(new Embedding(1000, 64).weight());
        assertEquals(0, se[0], 0.02);
        assertEquals(1, se[1], 0.02);
    }

    @Test
    void kaimingAndXavier() {
        Generator g = new Generator(1);
        Tensor t = Tensor.zeros(256, 512);
        double[] s = stats(Init.kaimingUniform_(t, 0, "fan_in", "relu", g));
        double bound = Math.sqrt(2) * Math.sqrt(3.0 / 512);
        assertTrue(s[3] <= bound && s[3] > 0.99 * bound && s[2] >= -bound);
        s = stats(Init.kaimingUniform_(t, 0, "fan_out", "relu", g));
        assertTrue(s[3] <= Math.sqrt(6.0 / 256) && s[3] > 0.99 * Math.sqrt(6.0 / 256));
        s = stats(Init.kaimingNormal_(t, 0, "fan_in", "relu", g));
        assertEquals(Math.sqrt(2.0 / 512), s[1], 0.01 * Math.sqrt(2.0 / 512));
        s = stats(Init.xavierUniform_(t, 2.0, g));
        double a = 2.0 * Math.sqrt(6.0 / (256 + 512));
        assertTrue(s[3] <= a && s[3] > 0.99 * a && s[2] >= -a);
        s = stats(Init.xavierNormal_(t, 1.0, g));
        assertEquals(Math.sqrt(2.0 / 768), s[1], 0.01 * Math.sqrt(2.0 / 768));
        assertEquals(0, s[0], 0.01 * Math.sqrt(2.0 / 768));
        // reproducible with the same generator seed, and runs on parameters (requiresGrad leaves)
        Tensor p1 = Tensor.zeros(4, 4).requiresGrad(true), p2 = Tensor.zeros(4, 4).requiresGrad(true);
        Init.kaimingUniform_(p1, Math.sqrt(5), "fan_in", "leaky_relu", new Generator(7));
        Init.kaimingUniform_(p2, Math.sqrt(5), "fan_in", "leaky_relu", new Generator(7));
        assertTrue(p1.equal(p2));
        assertEquals(3.0, Init.constant_(Tensor.zeros(2).requiresGrad(true), 3).sum().item() / 2);
        assertEquals(2.0, Init.ones_(Tensor.zeros(2)).sum().item());
        assertEquals(0.0, Init.zeros_(Tensor.ones(2)).sum().item());
        Init.kaimingUniform_(Tensor.zeros(0, 3)); // zero elements: a no-op
    }

    @Test
    void truncatedNormal() {
        Generator g = new Generator(3);
        Tensor t = Tensor.zeros(200_000);
        double[] s = stats(Init.truncNormal_(t.view(400, 500), 0, 1, -2, 2, g));
        assertTrue(s[2] >= -2 && s[3] <= 2);
        assertEquals(0, s[0], 0.01);
        // the standard deviation of N(0,1) truncated to [-2, 2]
        double phi2 = Math.exp(-2) / Math.sqrt(2 * Math.PI), z = Init.erf(2 / Math.sqrt(2));
        assertEquals(Math.sqrt(1 - 4 * phi2 / z), s[1], 0.005);
        s = stats(Init.truncNormal_(t, 0.5, 0.02, 0.47, 0.55, g));
        assertTrue(s[2] >= 0.47 && s[3] <= 0.55 && s[2] < 0.471 && s[3] > 0.549);
        // a window in the far tail still lands inside [a, b]
        s = stats(Init.truncNormal_(Tensor.zeros(1000), 0, 1, 3, 4, g));
        assertTrue(s[2] >= 3 && s[3] <= 4);
        assertThrows(IllegalArgumentException.class, () -> Init.truncNormal_(Tensor.zeros(3), 0, 1, 2, 1));
    }

    @Test
    void erfAndErfinv() {
        assertEquals(0.5204998778130465, Init.erf(0.5), 1e-14);
        assertEquals(0.8427007929497149, Init.erf(1), 1e-14);
        assertEquals(0.9953222650189527, Init.erf(2), 1e-14);
        assertEquals(0.9999992569016276, Init.erf(3.5), 1e-14);
        assertEquals(-0.9999779095030014, Init.erf(-3), 1e-14);
        for (double x = -4; x <= 4; x += 0.37) assertEquals(x, Init.erfinv(Init.erf(x)), 1e-7 * Math.max(1, Math.abs(x)) * (Math.abs(x) > 3 ? 100 : 1));
        assertEquals(Double.POSITIVE_INFINITY, Init.erfinv(1));
        assertTrue(Double.isNaN(Init.erfinv(1.5)));
    }

    @Test
    void skipInitLeavesWeightsZeroAndTheGeneratorUntouched() {
        Generator.manualSeed(5);
        double before = Tensor.rand(1).item();
        Generator.manualSeed(5);
        Linear l = Init.skipInit(() -> new Linear(8, 4));
        Embedding e = Init.skipInit(() -> new Embedding(10, 4));
        assertEquals(0.0, l.weight().abs().max().item());
        assertEquals(0.0, e.weight().abs().max().item());
        assertEquals(before, Tensor.rand(1).item(), "nothing was drawn");
        assertTrue(!Init.skipping());
        assertTrue(new Linear(8, 4).weight().abs().max().item() > 0, "outside skipInit layers initialise as before");
    }
}
