package jllm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** VecMath's exp, log and tanh against Math's, within 2 ulp, with IEEE's special values. */
class VecMathTest {
    private static float[] apply(UnaryOperator<FloatVector> f, float[] x) {
        float[] y = new float[x.length];
        int L = LaneSum.S.length();
        for (int i = 0; i < x.length; i += L) f.apply(FloatVector.fromArray(LaneSum.S, x, i)).intoArray(y, i);
        return y;
    }

    private static float[] apply(boolean exp, float[] x) {
        return apply(exp ? VecMath::exp : VecMath::tanh, x);
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

    @Test
    void logIsWithinTwoUlpOfMathWithItsScalarTwinsBits() {
        Random r = new Random(4);
        float[] x = new float[LaneSum.S.length() * 8192];
        // log-uniform over every binade, subnormals included, and a dense band around 1 where log is smallest
        for (int i = 0; i < x.length; i++) {
            x[i] = i % 4 == 0 ? 0.5f + 1.5f * r.nextFloat() : (float) Math.pow(2, -148 + 275 * r.nextDouble());
        }
        float[] y = apply(VecMath::log, x);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.log(x[i]);
            worst = Math.max(worst, Math.abs(y[i] - want) / Math.ulp(want));
            assertEquals(Float.floatToRawIntBits(y[i]), Float.floatToRawIntBits(VecMath.log(x[i])), "log(" + x[i] + ")");
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulp");
        float[] special = new float[LaneSum.S.length()];
        float[] sv = {0f, -0f, -1f, Float.POSITIVE_INFINITY, Float.NaN, 1f, Float.MIN_VALUE, Float.NEGATIVE_INFINITY};
        System.arraycopy(sv, 0, special, 0, Math.min(sv.length, special.length));
        float[] out = apply(VecMath::log, special);
        for (int i = 0; i < Math.min(sv.length, special.length); i++) {
            assertEquals((float) Math.log(sv[i]), out[i], "log(" + sv[i] + ")");
            assertEquals((float) Math.log(sv[i]), VecMath.log(sv[i]), "scalar log(" + sv[i] + ")");
        }
    }
}
