package jllm.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ClipGradTest {
    static Tensor withGrad(float[] grad, int... shape) {
        Tensor p = Tensor.zeros(shape).requiresGrad(true);
        p.setGrad(Tensor.of(grad, shape));
        return p;
    }

    @Test
    void clipsToMaxNormAndReturnsTheNormBefore() {
        Tensor a = withGrad(new float[] {3, 0, 0, 4}, 2, 2);   // ||.||^2 = 25
        Tensor b = withGrad(new float[] {12}, 1);              // 144
        Tensor none = Tensor.zeros(3).requiresGrad(true);     // no grad: ignored
        double total = ClipGrad.clipGradNorm(List.of(a, b, none), 6.5);
        assertEquals(13.0, total, 1e-6);
        float coef = (float) (6.5 / (13.0 + 1e-6));
        assertArrayEquals(new float[] {3 * coef, 0, 0, 4 * coef}, a.grad().toFloatArray(), 1e-6f);
        assertArrayEquals(new float[] {12 * coef}, b.grad().toFloatArray(), 1e-6f);
        assertEquals(6.5, ClipGrad.gradNorm(List.of(a, b), 2.0), 1e-5);
    }

    @Test
    void belowMaxNormLeavesGradsAlone() {
        Tensor a = withGrad(new float[] {0.3f, -0.4f}, 2);
        double total = ClipGrad.clipGradNorm(List.of(a), 1.0);
        assertEquals(0.5, total, 1e-7);
        assertArrayEquals(new float[] {0.3f, -0.4f}, a.grad().toFloatArray(), 0f);
    }

    @Test
    void infinityNormAndPNorms() {
        Tensor a = withGrad(new float[] {1, -7, 2}, 3);
        Tensor b = withGrad(new float[] {-3, 5}, 2);
        double total = ClipGrad.clipGradNorm(List.of(a, b), 3.5, Double.POSITIVE_INFINITY);
        assertEquals(7.0, total);
        assertArrayEquals(new float[] {0.5f, -3.5f, 1f}, a.grad().toFloatArray(), 1e-6f);
        Tensor c = withGrad(new float[] {1, -2, 3}, 3);
        assertEquals(6.0, ClipGrad.gradNorm(List.of(c), 1.0), 1e-6);
        assertEquals(Math.cbrt(36), ClipGrad.gradNorm(List.of(c), 3.0), 1e-5);
    }

    @Test
    void noGradsGiveZero() {
        assertEquals(0.0, ClipGrad.clipGradNorm(List.of(Tensor.zeros(2).requiresGrad(true)), 1.0));
    }

    @Test
    void nonFiniteNorm() {
        Tensor a = withGrad(new float[] {Float.POSITIVE_INFINITY, 1}, 2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ClipGrad.clipGradNorm(List.of(a), 1.0, 2.0, true));
        assertTrue(e.getMessage().contains("non-finite"), e.getMessage());
        assertEquals(Double.POSITIVE_INFINITY, ClipGrad.clipGradNorm(List.of(a), 1.0));
    }

    @Test
    void clipGradValueClamps() {
        Tensor a = withGrad(new float[] {-3, 0.5f, 2}, 3);
        ClipGrad.clipGradValue(List.of(a), 1.0);
        assertArrayEquals(new float[] {-1, 0.5f, 1}, a.grad().toFloatArray(), 0f);
    }
}
