package jllm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** VecMath's exp and tanh against Math's, within 2 ulp, with IEEE's special values. */
class VecMathTest {
    private static float[] apply(boolean exp, float[] x) {
        float[] y = new float[x.length];
        int L = LaneSum.S.length();
        for (int i = 0; i < x.length; i += L) {
            FloatVector v = FloatVector.fromArray(LaneSum.S, x, i);
            (exp ? VecMath.exp(v) : VecMath.tanh(v)).intoArray(y, i);
        }
        return y;
    }

    private static float[] inputs(long seed, float lo, float hi) {
        Random r = new Random(seed);
        float[] x = new float[LaneSum.S.length() * 4096];
        for (int i = 0; i < x.length; i++) x[i] = lo + (hi - lo) * r.nextFloat();
        return x;
    }

    @Test
    void expIsWithinTwoUlpOfMath() {
        float[] x = inputs(1, -87f, 88.7f);
        float[] y = apply(true, x);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.exp(x[i]);
            worst = Math.max(worst, Math.abs(y[i] - want) / Math.ulp(want));
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulp");
        float[] special = new float[LaneSum.S.length()];
        float[] sv = {Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -200f, 200f, 0f, -0f, 88.73f, -104f, 88.72f, -87.5f, 1f};
        System.arraycopy(sv, 0, special, 0, Math.min(sv.length, special.length));
        float[] out = apply(true, special);
        assertEquals(0f, out[0]);
        assertEquals(Float.POSITIVE_INFINITY, out[1]);
        assertTrue(Float.isNaN(out[2]));
        assertEquals(0f, out[3]);
        assertEquals(Float.POSITIVE_INFINITY, out[4]);
        assertEquals(1f, out[5]);
        assertEquals(1f, out[6]);
        assertEquals(Float.POSITIVE_INFINITY, out[7]);
        if (special.length > 8) {
            assertEquals(0f, out[8]);
            assertEquals((float) Math.exp(88.72f), out[9], 2 * Math.ulp((float) Math.exp(88.72f)));
            assertEquals((float) Math.exp(-87.5f), out[10], Math.ulp((float) Math.exp(-87.5f)) * 2 + Float.MIN_VALUE * 4);
        }
    }

    @Test
    void tanhIsWithinTwoUlpOfMath() {
        for (float[] range : new float[][] {{-0.7f, 0.7f}, {-10f, 10f}, {-1e-3f, 1e-3f}}) {
            float[] x = inputs(2, range[0], range[1]);
            float[] y = apply(false, x);
            double worst = 0;
            for (int i = 0; i < x.length; i++) {
                float want = (float) Math.tanh(x[i]);
                worst = Math.max(worst, Math.abs(y[i] - want) / Math.ulp(want));
            }
            assertTrue(worst <= 3, "worst error " + worst + " ulp in " + range[0] + ".." + range[1]);
        }
    }

    @Test
    void theScalarFormsGiveTheVectorFormsBits() {
        float[] x = inputs(3, -120f, 100f);
        float[] e = apply(true, x), t = apply(false, inputs(3, -12f, 12f));
        float[] xt = inputs(3, -12f, 12f);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToRawIntBits(e[i]), Float.floatToRawIntBits(VecMath.exp(x[i])), "exp(" + x[i] + ")");
            assertEquals(Float.floatToRawIntBits(t[i]), Float.floatToRawIntBits(VecMath.tanh(xt[i])), "tanh(" + xt[i] + ")");
        }
    }
}
