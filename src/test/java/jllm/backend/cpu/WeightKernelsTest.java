package jllm.backend.cpu;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Random;
import jllm.tensor.DType;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The block codecs against their definition, and every weight-type matmul path against the widened weight. */
class WeightKernelsTest {

    private static float[] gaussian(Random r, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian() * scale);
        return a;
    }

    @Test
    void q8BlockIsScaleThenRoundedInts() {
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) x[j] = (j - 16) * 0.25f; // amax 4 -> d = 4/127
        x[5] = 0.5f * 4f / 127f * 3; // 1.5 steps: halfway, rounds away from zero to 2
        x[6] = -x[5];
        byte[] b = new byte[34];
        BlockQuant.quantize(DType.Q8_0, x, 0, b, 0, 32);
        float d = Float.float16ToFloat(Float.floatToFloat16(4f / 127));
        assertEquals(d, BlockQuant.scale(b, 0));
        assertEquals(-127, b[2]); // -4
        assertEquals(2, b[2 + 5]);
        assertEquals(-2, b[2 + 6]);
        assertEquals(0, b[2 + 16]);
        for (int j = 0; j < 32; j++) assertEquals(d * b[2 + j], BlockQuant.get(DType.Q8_0, b, j));
    }

    @Test
    void q4BlockMapsTheSignedExtremeToMinusEight() {
        float[] x = new float[32];
        for (int j = 0; j < 32; j++) x[j] = j * 0.1f - 1f; // largest magnitude: x[31] = 2.1 -> d = -2.1/8
        byte[] b = new byte[18];
        BlockQuant.quantize(DType.Q4_0, x, 0, b, 0, 32);
        float d = BlockQuant.scale(b, 0);
        assertEquals(Float.float16ToFloat(Float.floatToFloat16(2.1f / -8)), d);
        assertEquals(0, (b[2 + 15] & 0xff) >>> 4, "element 31 is q = 0, i.e. -8 * d = 2.1");
        float[] back = new float[32];
        BlockQuant.dequantize(DType.Q4_0, b, 0, back, 0, 32);
        for (int j = 0; j < 32; j++) {
            assertEquals(x[j], back[j], Math.abs(d) * 0.5 + 1e-3, "element " + j);
            assertEquals(back[j], BlockQuant.get(DType.Q4_0, b, j));
        }
    }

    @Test
    void zeroBlocksStayZero() {
        for (DType t : new DType[] {DType.Q8_0, DType.Q4_0}) {
            byte[] b = new byte[(int) t.bytes(64)];
            BlockQuant.quantize(t, new float[64], 0, b, 0, 64);
            for (int j = 0; j < 64; j++) assertEquals(0f, BlockQuant.get(t, b, j), 0f, t + " element " + j); // -0.0 as in ggml (d = 0/-8)
        }
    }

    /** x @ W^T and g @ W with W in each type equal the same products with W widened to F32. */
    @Test
    void matmulsEqualTheWidenedWeight() {
        Random r = new Random(7);
        int[][] shapes = {{1, 64, 40}, {3, 96, 33}, {4, 32, 1}, {5, 64, 70}, {40, 160, 48}, {9, 2048, 130}, {16, 64, 13}};
        for (DType t : new DType[] {DType.BF16, DType.F16, DType.Q8_0, DType.Q4_0}) {
            for (int[] s : shapes) {
                int M = s[0], K = s[1], N = s[2];
                Tensor w = Tensor.of(gaussian(r, N * K, 0.3), N, K).to(t);
                Tensor wide = w.to(DType.F32);
                Tensor x = Tensor.of(gaussian(r, M * K, 1), M, K);
                assertClose(x.matmul(wide.t()), x.matmul(w.t()), t + " x@W^T " + M + "x" + K + "x" + N);
                Tensor g = Tensor.of(gaussian(r, M * N, 1), M, N);
                assertClose(g.matmul(wide), g.matmul(w), t + " g@W " + M + "x" + N + "x" + K);
            }
        }
    }

    /**
     * F32 x @ W^T for every row count that takes a few-rows kernel (dot products, row tiles, a lane
     * per row) and the GEMM beyond, against a double-precision sum; ragged weight-row tiles included.
     */
    @Test
    void fewRowProductsEqualTheSumInDouble() {
        Random r = new Random(11);
        int K = 200;
        for (int M = 1; M <= WeightKernels.TILE_MAX_ROWS + 2; M++) {
            for (int N : new int[] {1, 7, 8, 13, 64}) {
                float[] w = new float[N * K], x = new float[M * K];
                for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
                float[] out = Tensor.of(x, M, K).matmul(Tensor.of(w, N, K).t()).toFloatArray();
                for (int m = 0; m < M; m++) {
                    for (int n = 0; n < N; n++) {
                        double e = 0;
                        for (int k = 0; k < K; k++) e += (double) x[m * K + k] * w[n * K + k];
                        assertEquals(e, out[m * N + n], 1e-4 * Math.sqrt(K), "M " + M + " N " + N + " at [" + m + ", " + n + "]");
                    }
                }
            }
        }
    }

    /** Every half and bfloat16 bit pattern widens to the JDK's value (NaN payloads, infinities, subnormals, -0). */
    @Test
    void halfWideningIsExactForEveryBitPattern() {
        short[] all = new short[65536 + 5];
        for (int i = 0; i < all.length; i++) all[i] = (short) i;
        float[] got = new float[all.length];
        WeightKernels.widen(DType.F16, all, 0, got, 0, all.length);
        for (int i = 0; i < all.length; i++) {
            assertEquals(Float.floatToRawIntBits(Float.float16ToFloat(all[i])), Float.floatToRawIntBits(got[i]), "f16 0x" + Integer.toHexString(i));
        }
        WeightKernels.widen(DType.BF16, all, 0, got, 0, all.length);
        for (int i = 0; i < all.length; i++) {
            assertEquals(Float.floatToRawIntBits(jllm.tensor.Float16.bf16ToFloat(all[i])), Float.floatToRawIntBits(got[i]), "bf16 0x" + Integer.toHexString(i));
        }
    }

    @Test
    void blockWideningEqualsTheScalarDefinition() {
        Random r = new Random(9);
        for (DType t : new DType[] {DType.Q8_0, DType.Q4_0}) {
            float[] x = gaussian(r, 320, 2);
            byte[] b = new byte[(int) t.bytes(320)];
            BlockQuant.quantize(t, x, 0, b, 0, 320);
            float[] vec = new float[256], ref = new float[256];
            WeightKernels.widen(t, b, 64, vec, 0, 256);
            BlockQuant.dequantize(t, b, 64, ref, 0, 256);
            assertArrayEquals(ref, vec, t.toString());
        }
    }

    @Test
    void bf16RowsWithATail() {
        Random r = new Random(3);
        Tensor w = Tensor.of(gaussian(r, 5 * 19, 1), 5, 19).to(DType.BF16);
        Tensor x = Tensor.of(gaussian(r, 2 * 19, 1), 2, 19);
        assertClose(x.matmul(w.to(DType.F32).t()), x.matmul(w.t()), "bf16 K=19");
    }

    @Test
    void embeddingRowsOfQuantizedWeights() {
        Random r = new Random(5);
        Tensor w = Tensor.of(gaussian(r, 10 * 64, 1), 10, 64).to(DType.Q8_0);
        Tensor idx = Tensor.of(new long[] {3, 0, 9, 3}, 2, 2);
        Tensor e = w.embedding(idx);
        assertEquals(DType.F32, e.dtype());
        assertArrayEquals(new int[] {2, 2, 64}, e.shape());
        Tensor wide = w.to(DType.F32);
        for (int i = 0; i < 4; i++) {
            long row = ((long[]) idx.reshape(-1).toHostArray())[i];
            assertArrayEquals((float[]) wide.select(0, (int) row).toHostArray(), (float[]) e.reshape(4, 64).select(0, i).contiguous().toHostArray());
        }
    }

    @Test
    void blockTypesRefuseWhatTheyCannotHold() {
        var e1 = assertThrows(IllegalArgumentException.class, () -> Tensor.zeros(4, 33).to(DType.Q8_0));
        assertTrue(e1.getMessage().contains("multiple of 32") && e1.getMessage().contains("[4, 33]"), e1.getMessage());
        Tensor q = Tensor.zeros(2, 32).to(DType.Q4_0);
        var e2 = assertThrows(UnsupportedOperationException.class, () -> q.fill_(1));
        assertTrue(e2.getMessage().contains("whole blocks"), e2.getMessage());
        var e3 = assertThrows(IllegalArgumentException.class, () -> Tensor.ofBlocks(DType.Q8_0, new byte[33], 1, 32));
        assertTrue(e3.getMessage().contains("needs 34 bytes"), e3.getMessage());
        assertThrows(IllegalArgumentException.class, () -> q.requiresGrad(true));
    }

    @Test
    void quantizedCopiesRoundTripBlocks() {
        Random r = new Random(11);
        Tensor w = Tensor.of(gaussian(r, 4 * 64, 1), 4, 64).to(DType.Q4_0);
        byte[] bytes = (byte[]) w.toHostArray();
        assertEquals(4 * 2 * 18, bytes.length);
        Tensor again = Tensor.ofBlocks(DType.Q4_0, bytes, 4, 64);
        assertArrayEquals((float[]) w.to(DType.F32).toHostArray(), (float[]) again.to(DType.F32).toHostArray());
        // a row slice is whole blocks: it copies and reads back the same values
        Tensor row = w.narrow(0, 2, 1).contiguous();
        assertArrayEquals((float[]) w.to(DType.F32).narrow(0, 2, 1).contiguous().toHostArray(), (float[]) row.to(DType.F32).toHostArray());
    }

    private static void assertClose(Tensor expected, Tensor actual, String what) {
        float[] e = (float[]) expected.contiguous().toHostArray(), a = (float[]) actual.contiguous().toHostArray();
        assertEquals(e.length, a.length, what);
        double scale = 0;
        for (float v : e) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], 1e-5 * Math.max(1, scale), what + " element " + i);
    }
}
