package jllm.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Conversions between {@code float} and the two 16-bit storage formats, bit-compatible with
 * PyTorch so that checkpoints converted here and there hold the same bytes.
 *
 * <ul>
 *   <li><b>bfloat16</b> (1 sign, 8 exponent, 7 mantissa bits) follows {@code c10::BFloat16}:
 *       float to bf16 rounds to nearest, ties to even ({@code round_to_nearest_even}); every NaN
 *       becomes the canonical quiet NaN {@code 0x7FC0} (sign dropped, as PyTorch does); values
 *       that round past the largest finite bf16 become infinity. bf16 to float is exact.</li>
 *   <li><b>float16</b> (IEEE 754 binary16) rounds to nearest, ties to even, with gradual
 *       underflow to subnormals and overflow to infinity ({@link Float#floatToFloat16}). NaN
 *       becomes {@code sign | 0x7E00}, as PyTorch's software {@code fp16_ieee_from_fp32_value}
 *       does (the JDK would keep payload bits instead). float16 to float is exact.</li>
 * </ul>
 *
 * Consequently every non-NaN 16-bit pattern survives 16 -> 32 -> 16 bit-exactly; a NaN stays
 * a NaN but loses its payload. Memory-segment variants read and write little-endian, the byte
 * order of safetensors files; segment offsets are in bytes and need no alignment.
 */
public final class Float16 {

    /** Little-endian, unaligned 16-bit layout: the layout of F16/BF16 data in safetensors files. */
    public static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The canonical bfloat16 NaN PyTorch produces for any NaN input. */
    public static final short BF16_NAN = (short) 0x7FC0;

    private Float16() {}

    // ---- scalar ----

    /** Widens a bfloat16 bit pattern to float (exact). */
    public static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** Narrows a float to bfloat16 with round-to-nearest-even, as {@code c10::BFloat16}. */
    public static short floatToBf16(float f) {
        if (f != f) {
            return BF16_NAN;
        }
        int u = Float.floatToRawIntBits(f);
        // Adding 0x7FFF plus the lowest kept bit carries into the kept part exactly when the
        // dropped half is above the midpoint, or at the midpoint with an odd kept part.
        int bias = ((u >>> 16) & 1) + 0x7FFF;
        return (short) ((u + bias) >>> 16);
    }

    /** Widens an IEEE binary16 bit pattern to float (exact, subnormals included). */
    public static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** Narrows a float to IEEE binary16 with round-to-nearest-even, NaN as PyTorch does. */
    public static short floatToF16(float f) {
        if (f != f) {
            return (short) (((Float.floatToRawIntBits(f) >>> 16) & 0x8000) | 0x7E00);
        }
        return Float.floatToFloat16(f);
    }

    // ---- bulk, arrays ----

    public static void bf16ToFloat(short[] src, int srcOff, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = Float.intBitsToFloat((src[srcOff + i] & 0xFFFF) << 16);
        }
    }

    public static void floatToBf16(float[] src, int srcOff, short[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = floatToBf16(src[srcOff + i]);
        }
    }

    public static void f16ToFloat(short[] src, int srcOff, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = Float.float16ToFloat(src[srcOff + i]);
        }
    }

    public static void floatToF16(float[] src, int srcOff, short[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = floatToF16(src[srcOff + i]);
        }
    }

    // ---- bulk, little-endian memory segments (offsets in bytes) ----

    /** Reads {@code count} little-endian bf16 values starting at byte {@code srcByteOffset}. */
    public static void bf16ToFloat(MemorySegment src, long srcByteOffset, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcByteOffset, 2L * count, src.byteSize());
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = Float.intBitsToFloat((src.get(LE_SHORT, srcByteOffset + 2L * i) & 0xFFFF) << 16);
        }
    }

    /** Writes {@code count} floats as little-endian bf16 starting at byte {@code dstByteOffset}. */
    public static void floatToBf16(float[] src, int srcOff, MemorySegment dst, long dstByteOffset, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstByteOffset, 2L * count, dst.byteSize());
        for (int i = 0; i < count; i++) {
            dst.set(LE_SHORT, dstByteOffset + 2L * i, floatToBf16(src[srcOff + i]));
        }
    }

    /** Reads {@code count} little-endian binary16 values starting at byte {@code srcByteOffset}. */
    public static void f16ToFloat(MemorySegment src, long srcByteOffset, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcByteOffset, 2L * count, src.byteSize());
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = Float.float16ToFloat(src.get(LE_SHORT, srcByteOffset + 2L * i));
        }
    }

    /** Writes {@code count} floats as little-endian binary16 starting at byte {@code dstByteOffset}. */
    public static void floatToF16(float[] src, int srcOff, MemorySegment dst, long dstByteOffset, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstByteOffset, 2L * count, dst.byteSize());
        for (int i = 0; i < count; i++) {
            dst.set(LE_SHORT, dstByteOffset + 2L * i, floatToF16(src[srcOff + i]));
        }
    }
}
