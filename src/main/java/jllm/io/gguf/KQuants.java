package jllm.io.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * ggml's Q4_K and Q6_K super-blocks (256 elements), dequantized exactly as ggml-quants.c's
 * {@code dequantize_row_q4_K} / {@code dequantize_row_q6_K} do. jllm has no kernels for them, so a
 * GGUF tensor of these types is widened to float32 when it is loaded (and rounded to Q8_0 blocks when
 * the model keeps its other matrices in Q8_0/Q4_0, see GgufModel#weightType(String)).
 */
final class KQuants {
    private KQuants() {}

    private static final int QK_K = 256;

    private static int u8(MemorySegment s, long i) { return s.get(ValueLayout.JAVA_BYTE, i) & 0xff; }

    private static float f16(MemorySegment s, long i) { return Float.float16ToFloat(s.get(GgufFile.LE_I16, i)); }

    /** n elements of Q4_K blocks: per block f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of nibbles. */
    static float[] q4K(MemorySegment x, int n) {
        float[] y = new float[n];
        int o = 0;
        for (long b = 0; b < n / QK_K; b++) {
            long base = b * GgmlType.Q4_K.typeSize;
            float d = f16(x, base), min = f16(x, base + 2);
            long scales = base + 4, q = base + 16;
            for (int j = 0, is = 0; j < QK_K; j += 64, is += 2, q += 32) {
                float d1 = d * scale(x, scales, is), m1 = min * min(x, scales, is);
                float d2 = d * scale(x, scales, is + 1), m2 = min * min(x, scales, is + 1);
                for (int l = 0; l < 32; l++) y[o++] = d1 * (u8(x, q + l) & 0xF) - m1;
                for (int l = 0; l < 32; l++) y[o++] = d2 * (u8(x, q + l) >> 4) - m2;
            }
        }
        return y;
    }

    /** get_scale_min_k4's scale j. */
    private static int scale(MemorySegment x, long q, int j) {
        return j < 4 ? u8(x, q + j) & 63 : (u8(x, q + j + 4) & 0xF) | ((u8(x, q + j - 4) >> 6) << 4);
    }

    /** get_scale_min_k4's min j. */
    private static int min(MemorySegment x, long q, int j) {
        return j < 4 ? u8(x, q + j + 4) & 63 : (u8(x, q + j + 4) >> 4) | ((u8(x, q + j) >> 6) << 4);
    }

    /** n elements of Q6_K blocks: per block 128 bytes of low nibbles, 64 of high 2-bit pairs, 16 int8 scales, f16 d. */
    static float[] q6K(MemorySegment x, int n) {
        float[] y = new float[n];
        for (long b = 0; b < n / QK_K; b++) {
            long base = b * GgmlType.Q6_K.typeSize;
            float d = f16(x, base + 208);
            long ql = base, qh = base + 128, sc = base + 192;
            int o = (int) (b * QK_K);
            for (int half = 0; half < 2; half++, o += 128, ql += 64, qh += 32, sc += 8) {
                for (int l = 0; l < 32; l++) {
                    int is = l / 16;
                    int h = u8(x, qh + l);
                    int q1 = ((u8(x, ql + l) & 0xF) | (((h >> 0) & 3) << 4)) - 32;
                    int q2 = ((u8(x, ql + l + 32) & 0xF) | (((h >> 2) & 3) << 4)) - 32;
                    int q3 = ((u8(x, ql + l) >> 4) | (((h >> 4) & 3) << 4)) - 32;
                    int q4 = ((u8(x, ql + l + 32) >> 4) | (((h >> 6) & 3) << 4)) - 32;
                    y[o + l] = d * x.get(ValueLayout.JAVA_BYTE, sc + is) * q1;
                    y[o + l + 32] = d * x.get(ValueLayout.JAVA_BYTE, sc + is + 2) * q2;
                    y[o + l + 64] = d * x.get(ValueLayout.JAVA_BYTE, sc + is + 4) * q3;
                    y[o + l + 96] = d * x.get(ValueLayout.JAVA_BYTE, sc + is + 6) * q4;
                }
            }
        }
        return y;
    }
}
