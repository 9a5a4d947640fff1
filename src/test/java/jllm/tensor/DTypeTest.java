package jllm.tensor;

import org.junit.jupiter.api.Test;

import static jllm.testing.GradCheck.assertClose;
import static org.junit.jupiter.api.Assertions.*;

/** Creation in every dtype, conversions (with float rounding), PyTorch's type promotion. */
class DTypeTest {

    @Test
    void creationAndConversionRoundTrips() {
        Tensor f = Tensor.of(new float[] {1.5f, -2, 3.75f});
        for (DType dt : new DType[] {DType.F64, DType.F16, DType.BF16, DType.F32}) {
            Tensor c = f.to(dt);
            assertEquals(dt, c.dtype());
            assertClose(c.to(DType.F32), f, 0, 0);
        }
        Tensor l = Tensor.of(new long[] {1, -2, 3});
        assertEquals(DType.I64, l.dtype());
        Tensor i = l.to(DType.I32);
        assertEquals(DType.I32, i.dtype());
        assertArrayEquals(new int[] {1, -2, 3}, i.toIntArray());
        assertArrayEquals(new long[] {1, -2, 3}, i.to(DType.I64).toLongArray());
        // float -> int truncates toward zero, like PyTorch's cast
        assertArrayEquals(new long[] {1, -2, 3}, Tensor.of(new float[] {1.9f, -2.7f, 3.2f}).to(DType.I64).toLongArray());
        // to bool: nonzero is true
        assertArrayEquals(new long[] {1, 0, 1}, Tensor.of(new float[] {0.1f, 0, -3}).to(DType.BOOL).toLongArray());
        assertArrayEquals(new double[] {1, 0}, Tensor.of(new boolean[] {true, false}).to(DType.F32).toDoubleArray());
        assertEquals(DType.F64, Tensor.of(new double[] {1}).dtype());
        assertEquals(DType.BOOL, Tensor.of(new boolean[] {true}).dtype());
        // a strided source converts element by element
        Tensor m = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).t();
        assertArrayEquals(new long[] {1, 4, 2, 5, 3, 6}, m.to(DType.I64).toLongArray());
        assertArrayEquals(new double[] {1, 4, 2, 5, 3, 6}, m.to(DType.BF16).toDoubleArray());
    }

    @Test
    void bf16RoundsToNearestEven() {
        // bf16 keeps 8 significand bits: around 1.0 its spacing is 2^-7
        float ulp = 0x1p-7f;
        float[] in = {
            1 + ulp / 2,          // exact tie between 1 and 1+ulp -> even (1)
            1 + 3 * ulp / 2,      // tie between 1+ulp (odd) and 1+2ulp (even) -> 1+2ulp
            1 + ulp / 2 + 0x1p-20f, // just above the tie -> up
            -(1 + ulp / 2),       // sign symmetric
            Float.POSITIVE_INFINITY, Float.NaN
        };
        double[] want = {1, 1 + 2 * ulp, 1 + ulp, -1, Double.POSITIVE_INFINITY, Double.NaN};
        assertClose(Tensor.of(in).to(DType.BF16).to(DType.F32), want, 0, 0);
        // a large float beyond bf16's max rounds to inf
        assertEquals(Double.POSITIVE_INFINITY, Tensor.of(new float[] {Float.MAX_VALUE}).to(DType.BF16).item());
    }

    @Test
    void f16RoundsToNearestEven() {
        float ulp = 0x1p-10f;
        float[] in = {1 + ulp / 2, 1 + 3 * ulp / 2, 1 + ulp / 2 + 0x1p-20f, 65504, 65520, 1e-8f, 0x1p-24f};
        double[] want = {1, 1 + 2 * ulp, 1 + ulp, 65504, Double.POSITIVE_INFINITY, 0, 0x1p-24};
        assertClose(Tensor.of(in).to(DType.F16).to(DType.F32), want, 0, 0);
        // F16 <-> BF16 goes through float
        assertClose(Tensor.of(new float[] {1.5f, -0.25f}).to(DType.F16).to(DType.BF16).to(DType.F32), new double[] {1.5, -0.25}, 0, 0);
        // F64 -> F16 goes through float, as c10::Half(float) does in PyTorch
        assertEquals(1 + 0x1p-10, Tensor.of(new double[] {1 + 0x1p-10}).to(DType.F16).item(), 0);
    }

    @Test
    void typePromotion() {
        Tensor i = Tensor.of(new long[] {1, 2, 3}), f = Tensor.of(new float[] {0.5f, 0.5f, 0.5f});
        Tensor s = i.add(f);
        assertEquals(DType.F32, s.dtype());
        assertArrayEquals(new double[] {1.5, 2.5, 3.5}, s.toDoubleArray());
        assertEquals(DType.F32, f.mul(i).dtype());
        // int / int is true division
        Tensor q = i.div(Tensor.of(new long[] {2, 2, 2}));
        assertEquals(DType.F32, q.dtype());
        assertArrayEquals(new double[] {0.5, 1, 1.5}, q.toDoubleArray());
        assertEquals(DType.F32, i.div(2).dtype());
        assertArrayEquals(new double[] {0.5, 1, 1.5}, i.div(2).toDoubleArray());
        // int + int scalar stays int, int * fractional scalar becomes float
        assertEquals(DType.I64, i.add(2).dtype());
        assertArrayEquals(new long[] {3, 4, 5}, i.add(2).toLongArray());
        assertEquals(DType.F32, i.mul(0.5).dtype());
        assertArrayEquals(new double[] {0.5, 1, 1.5}, i.mul(0.5).toDoubleArray());
        assertEquals(DType.F32, i.add(0.5).dtype());
        // I32 with I64 -> I64
        assertEquals(DType.I64, Tensor.of(new int[] {1, 2, 3}).add(i).dtype());
        // F32 with F64 tensors (same rank) -> F64; a 0-dim F64 does not promote an F32 tensor
        assertEquals(DType.F64, f.add(Tensor.of(new double[] {1, 1, 1})).dtype());
        assertEquals(DType.F32, f.add(Tensor.scalar(1, DType.F64, Device.CPU)).dtype());
        // a 0-dim float with an int tensor -> default float (F32)
        assertEquals(DType.F32, i.mul(Tensor.scalar(2.0)).dtype());
        // bool masks: bool * float -> float, bool + int -> int, bool + bool arithmetic -> ...
        Tensor b = Tensor.of(new boolean[] {true, false, true});
        assertEquals(DType.F32, b.mul(f).dtype());
        assertArrayEquals(new double[] {0.5, 0, 0.5}, b.mul(f).toDoubleArray());
        assertEquals(DType.I64, b.add(i).dtype());
        assertArrayEquals(new long[] {2, 2, 4}, b.add(i).toLongArray());
        assertArrayEquals(new double[] {0.5, 0, 0.5}, Tensor.where(b, f, 0).toDoubleArray());
        // F16 + BF16 -> F32
        assertEquals(DType.F32, f.to(DType.F16).add(f.to(DType.BF16)).dtype());
        // bf16 arithmetic stays bf16
        assertEquals(DType.BF16, f.to(DType.BF16).mul(f.to(DType.BF16)).dtype());
        assertClose(f.to(DType.BF16).mul(f.to(DType.BF16)), new double[] {0.25, 0.25, 0.25}, 0, 0);
        // unary float ops on ints compute in float
        assertEquals(DType.F32, i.exp().dtype());
        assertEquals(Math.exp(2), i.exp().get(1), 1e-5);
        assertEquals(DType.F32, i.sqrt().dtype());
        assertEquals(DType.I64, i.neg().dtype());
        assertEquals(DType.I64, i.abs().dtype());
    }

    @Test
    void inPlaceOpsKeepTheirDType() {
        Tensor i = Tensor.of(new long[] {1, 2, 3});
        i.add_(Tensor.of(new long[] {1, 1, 1}));
        assertArrayEquals(new long[] {2, 3, 4}, i.toLongArray());
        i.mul_(2);
        assertArrayEquals(new long[] {4, 6, 8}, i.toLongArray());
        assertThrows(IllegalArgumentException.class, () -> i.add_(Tensor.of(new float[] {0.5f, 0.5f, 0.5f})),
                "result type float can't be cast to long (PyTorch)");
        Tensor f = Tensor.of(new float[] {1, 2, 3});
        f.add_(Tensor.of(new long[] {1, 1, 1}));
        assertArrayEquals(new double[] {2, 3, 4}, f.toDoubleArray());
        Tensor h = Tensor.of(new float[] {1, 2, 3}).to(DType.BF16);
        h.mul_(Tensor.of(new float[] {0.5f, 0.5f, 0.5f}));
        assertEquals(DType.BF16, h.dtype());
        assertArrayEquals(new double[] {0.5, 1, 1.5}, h.toDoubleArray());
    }

    @Test
    void requiresGradOnlyForFloats() {
        assertThrows(IllegalArgumentException.class, () -> Tensor.of(new long[] {1}).requiresGrad(true));
        assertTrue(Tensor.of(new double[] {1}).requiresGrad(true).requiresGrad());
    }
}
