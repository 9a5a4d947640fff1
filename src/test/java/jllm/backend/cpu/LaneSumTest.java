package jllm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** LaneSum folds the lanes in halves, in one order: the same bits as that fold written out in scalar code. */
class LaneSumTest {
    @Test
    void sumsLanesInTheDocumentedOrder() {
        Random r = new Random(3);
        int L = LaneSum.S.length();
        for (int t = 0; t < 1000; t++) {
            float[] a = new float[L];
            for (int i = 0; i < L; i++) a[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(8) - 4));
            float[] f = a.clone();
            for (int half = L / 2; half >= 1; half /= 2) {
                for (int i = 0; i < half; i++) f[i] = f[i] + f[i + half];
            }
            assertEquals(Float.floatToRawIntBits(f[0]), Float.floatToRawIntBits(LaneSum.sum(FloatVector.fromArray(LaneSum.S, a, 0))), "case " + t);
        }
    }
}
