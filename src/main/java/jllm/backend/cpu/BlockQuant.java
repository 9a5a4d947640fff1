package jllm.backend.cpu;

import jllm.tensor.DType;

/**
 * llama.cpp's Q8_0 and Q4_0 blocks (see {@link DType}): quantization exactly as ggml's reference
 * functions ({@code quantize_row_q8_0_ref}, {@code quantize_row_q4_0_ref}, the ones llama.cpp uses to
 * write model files), so a weight quantized here has the same bytes as one quantized there; and
 * scalar dequantization, the definition the vector kernels of {@link WeightKernels} are tested against.
 * Element and block indices count from the start of the byte array.
 */
public final class BlockQuant {
    private BlockQuant() {}

    public static final int QK = 32;

    /** The block's scale: an IEEE half at the block's first two bytes, little-endian. */
    static float scale(byte[] b, int blockByte) {
        return Float.float16ToFloat((short) ((b[blockByte] & 0xff) | (b[blockByte + 1] << 8)));
    }

    private static void putScale(byte[] b, int blockByte, float d) {
        short h = Float.floatToFloat16(d);
        b[blockByte] = (byte) h;
        b[blockByte + 1] = (byte) (h >> 8);
    }

    /** Element i of a Q8_0 or Q4_0 array. */
    public static float get(DType t, byte[] b, long i) {
        int block = (int) (i / QK), j = (int) (i % QK);
        int o = block * t.blockBytes();
        float d = scale(b, o);
        if (t == DType.Q8_0) return d * b[o + 2 + j];
        int q = b[o + 2 + (j & 15)] & 0xff;
        return d * (((j < 16) ? q & 15 : q >>> 4) - 8);
    }

    /** Dequantizes n elements (whole blocks) starting at element srcElem into dst[dstOff..]. */
    public static void dequantize(DType t, byte[] b, long srcElem, float[] dst, int dstOff, int n) {
        int blocks = n / QK;
        int o = (int) (srcElem / QK) * t.blockBytes();
        for (int k = 0; k < blocks; k++, o += t.blockBytes(), dstOff += QK) {
            float d = scale(b, o);
            if (t == DType.Q8_0) {
                for (int j = 0; j < QK; j++) dst[dstOff + j] = d * b[o + 2 + j];
            } else {
                for (int j = 0; j < 16; j++) {
                    int q = b[o + 2 + j] & 0xff;
                    dst[dstOff + j] = d * ((q & 15) - 8);
                    dst[dstOff + 16 + j] = d * ((q >>> 4) - 8);
                }
            }
        }
    }

    /** Quantizes n elements (whole blocks) of src[srcOff..] into the blocks starting at element dstElem. */
    public static void quantize(DType t, float[] src, int srcOff, byte[] b, long dstElem, int n) {
        int blocks = n / QK;
        int o = (int) (dstElem / QK) * t.blockBytes();
        for (int k = 0; k < blocks; k++, o += t.blockBytes(), srcOff += QK) {
            if (t == DType.Q8_0) q8(src, srcOff, b, o);
            else q4(src, srcOff, b, o);
        }
    }

    private static void q8(float[] x, int s, byte[] b, int o) {
        float amax = 0;
        for (int j = 0; j < QK; j++) {
            float av = Math.abs(x[s + j]);
            amax = amax > av ? amax : av; // ggml's MAX macro, NaN handling included
        }
        float d = amax / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        putScale(b, o, d);
        for (int j = 0; j < QK; j++) b[o + 2 + j] = (byte) roundf(x[s + j] * id);
    }

    private static void q4(float[] x, int s, byte[] b, int o) {
        // the signed value of largest magnitude maps to -8, so the full range [-8, 7] is used
        float amax = 0, max = 0;
        for (int j = 0; j < QK; j++) {
            float v = x[s + j];
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        putScale(b, o, d);
        for (int j = 0; j < 16; j++) {
            float x0 = x[s + j] * id, x1 = x[s + 16 + j] * id;
            int q0 = Math.min(15, (byte) (int) (x0 + 8.5f)), q1 = Math.min(15, (byte) (int) (x1 + 8.5f));
            b[o + 2 + j] = (byte) (q0 | (q1 << 4));
        }
    }

    /** C's roundf: halfway cases away from zero (Math.round rounds them up). */
    private static int roundf(float v) {
        double r = Math.floor(Math.abs((double) v) + 0.5);
        return (int) (v < 0 ? -r : r);
    }
}
