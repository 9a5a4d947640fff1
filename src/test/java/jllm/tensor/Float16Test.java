package jllm.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.function.IntToDoubleFunction;
import org.junit.jupiter.api.Test;

class Float16Test {

    // ---- an independent reference: nearest representable value, ties to the even pattern ----

    /** Value of a non-negative bf16 pattern; 0x7F80 (inf) stands at max + 1 ulp = 2^128 for rounding. */
    private static double bf16Value(int p) {
        return p == 0x7F80 ? 0x1p128 : (double) Float.intBitsToFloat(p << 16);
    }

    /** Value of a non-negative f16 pattern; 0x7C00 (inf) stands at max + 1 ulp = 2^16 for rounding. */
    private static double f16Value(int p) {
        int exp = p >>> 10, man = p & 0x3FF;
        if (exp == 0) return man * 0x1p-24;
        return (1024 + man) * Math.scalb(1.0, exp - 25);
    }

    private static int refRound(float x, int infPattern, IntToDoubleFunction value) {
        int sign = Float.floatToRawIntBits(x) < 0 ? 0x8000 : 0;
        double a = Math.abs((double) x);
        if (a >= value.applyAsDouble(infPattern)) return sign | infPattern;
        int lo = 0, hi = infPattern; // value(lo) <= a < value(hi)
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (value.applyAsDouble(mid) <= a) lo = mid; else hi = mid;
        }
        double dLo = a - value.applyAsDouble(lo), dHi = value.applyAsDouble(hi) - a;
        int p = dLo < dHi ? lo : dHi < dLo ? hi : ((lo & 1) == 0 ? lo : hi);
        return sign | p;
    }

    private static int refBf16(float x) { return refRound(x, 0x7F80, Float16Test::bf16Value); }
    private static int refF16(float x) { return refRound(x, 0x7C00, Float16Test::f16Value); }

    private static void checkBoth(float x) {
        assertEquals(refBf16(x), Float16.floatToBf16(x) & 0xFFFF,
                () -> "bf16 of " + x + " (0x" + Integer.toHexString(Float.floatToRawIntBits(x)) + ")");
        assertEquals(refF16(x), Float16.floatToF16(x) & 0xFFFF,
                () -> "f16 of " + x + " (0x" + Integer.toHexString(Float.floatToRawIntBits(x)) + ")");
    }

    @Test
    void referenceSelfCheck() {
        assertEquals(65504.0, f16Value(0x7BFF));
        assertEquals(0x1p-24, f16Value(1));
        assertEquals(0x1p-14, f16Value(0x400));
        assertEquals(1.0, f16Value(0x3C00));
        for (int p = 0; p < 0x7C00; p++) assertEquals(f16Value(p), Float.float16ToFloat((short) p));
    }

    // ---- exhaustive 16-bit round trips ----

    @Test
    void everyBf16PatternRoundTrips() {
        for (int p = 0; p < 0x10000; p++) {
            short s = (short) p;
            float f = Float16.bf16ToFloat(s);
            assertEquals(p << 16, Float.floatToRawIntBits(f), "widening is a shift");
            if (Float.isNaN(f)) {
                assertEquals(Float16.BF16_NAN, Float16.floatToBf16(f), "NaN canonicalised");
            } else {
                assertEquals(s, Float16.floatToBf16(f), "bf16 0x" + Integer.toHexString(p));
            }
        }
    }

    @Test
    void everyF16PatternRoundTrips() {
        for (int p = 0; p < 0x10000; p++) {
            short s = (short) p;
            float f = Float16.f16ToFloat(s);
            boolean nan = (p & 0x7C00) == 0x7C00 && (p & 0x3FF) != 0;
            assertEquals(nan, Float.isNaN(f));
            if (nan) {
                assertEquals((short) ((p & 0x8000) | 0x7E00), Float16.floatToF16(f), "NaN canonicalised, sign kept");
            } else {
                assertEquals(s, Float16.floatToF16(f), "f16 0x" + Integer.toHexString(p));
                if (!Float.isInfinite(f)) {
                    double expect = ((p & 0x8000) != 0 ? -1 : 1) * f16Value(p & 0x7FFF);
                    assertEquals(expect, f, 0.0);
                }
            }
        }
    }

    // ---- rounding against the reference, at every midpoint and its neighbours ----

    @Test
    void bf16MidpointsTieToEvenAndNeighboursRoundToNearest() {
        for (int p = 0; p < 0x7F80; p++) {
            double mid = (bf16Value(p) + bf16Value(p + 1)) / 2;
            float m = (float) mid;
            if (p + 1 < 0x7F80) assertEquals(mid, m, 0.0, "midpoint exact in float");
            for (float x : new float[] {m, Math.nextDown(m), Math.nextUp(m), (float) bf16Value(p)}) {
                if (Float.isInfinite(x)) continue;
                checkBoth(x);
                checkBoth(-x);
            }
        }
    }

    @Test
    void f16MidpointsTieToEvenAndNeighboursRoundToNearest() {
        for (int p = 0; p < 0x7C00; p++) {
            double mid = (f16Value(p) + f16Value(p + 1)) / 2;
            float m = (float) mid;
            assertEquals(mid, m, 0.0, "midpoint exact in float");
            for (float x : new float[] {m, Math.nextDown(m), Math.nextUp(m), (float) f16Value(p)}) {
                checkBoth(x);
                checkBoth(-x);
            }
        }
    }

    @Test
    void randomFloatsMatchReference() {
        SplittableRandom r = new SplittableRandom(42);
        for (int i = 0; i < 300_000; i++) {
            float x = Float.intBitsToFloat(r.nextInt());
            if (!Float.isNaN(x)) checkBoth(x);
            checkBoth((float) r.nextGaussian() * 1000f);
        }
    }

    // ---- named cases (values PyTorch gives for the same inputs) ----

    @Test
    void bf16KnownValues() {
        assertEquals((short) 0x3F80, Float16.floatToBf16(1.0f));
        assertEquals((short) 0x3F80, Float16.floatToBf16(1.00390625f), "1+2^-8 ties down to even 1.0");
        assertEquals((short) 0x3F82, Float16.floatToBf16(1.01171875f), "1+3*2^-8 ties up to even");
        assertEquals((short) 0x3F81, Float16.floatToBf16(Math.nextUp(1.00390625f)), "above midpoint rounds up");
        assertEquals((short) 0x8000, Float16.floatToBf16(-0.0f), "negative zero keeps its sign");
        assertEquals((short) 0x0000, Float16.floatToBf16(0.0f));
        assertEquals((short) 0x7F80, Float16.floatToBf16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xFF80, Float16.floatToBf16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x7FC0, Float16.floatToBf16(Float.NaN));
        assertEquals((short) 0x7FC0, Float16.floatToBf16(Float.intBitsToFloat(0xFFC00001)), "sign and payload dropped");
        assertEquals((short) 0x7FC0, Float16.floatToBf16(Float.intBitsToFloat(0x7F800001)), "signalling NaN too");
        float bf16Max = Float16.bf16ToFloat((short) 0x7F7F);
        assertEquals(3.3895314e38f, bf16Max);
        assertEquals((short) 0x7F7F, Float16.floatToBf16(bf16Max));
        assertEquals((short) 0x7F80, Float16.floatToBf16(Float.MAX_VALUE), "float max overflows to inf");
        assertEquals((short) 0xFF80, Float16.floatToBf16(-Float.MAX_VALUE));
        assertEquals(0x1p-133f, Float16.bf16ToFloat((short) 0x0001), "smallest bf16 subnormal");
        assertEquals((short) 0x0001, Float16.floatToBf16(0x1p-133f));
        assertEquals((short) 0x0000, Float16.floatToBf16(0x1p-134f), "half the smallest subnormal ties to 0");
        assertEquals((short) 0x0002, Float16.floatToBf16(0x3p-134f), "1.5 subnormal ulps ties to 2");
        assertEquals((short) 0x0080, Float16.floatToBf16(Float.MIN_NORMAL));
        assertEquals((short) 0x0000, Float16.floatToBf16(Float.MIN_VALUE));
    }

    @Test
    void f16KnownValues() {
        assertEquals((short) 0x3C00, Float16.floatToF16(1.0f));
        assertEquals((short) 0x3C00, Float16.floatToF16(1.00048828125f), "1+2^-11 ties down to even");
        assertEquals((short) 0x3C02, Float16.floatToF16(1.00146484375f), "1+3*2^-11 ties up to even");
        assertEquals((short) 0x8000, Float16.floatToF16(-0.0f));
        assertEquals((short) 0x7BFF, Float16.floatToF16(65504f), "max");
        assertEquals(65504f, Float16.f16ToFloat((short) 0x7BFF));
        assertEquals((short) 0x7BFF, Float16.floatToF16(Math.nextDown(65520f)), "just under max + half ulp");
        assertEquals((short) 0x7C00, Float16.floatToF16(65520f), "max + half ulp ties to inf");
        assertEquals((short) 0xFC00, Float16.floatToF16(-1e10f));
        assertEquals((short) 0x7C00, Float16.floatToF16(Float.POSITIVE_INFINITY));
        assertEquals((short) 0xFC00, Float16.floatToF16(Float.NEGATIVE_INFINITY));
        assertEquals((short) 0x0001, Float16.floatToF16(0x1p-24f), "smallest subnormal");
        assertEquals(0x1p-24f, Float16.f16ToFloat((short) 0x0001));
        assertEquals((short) 0x0000, Float16.floatToF16(0x1p-25f), "half of it ties to zero");
        assertEquals((short) 0x0001, Float16.floatToF16(Math.nextUp(0x1p-25f)));
        assertEquals((short) 0x0002, Float16.floatToF16(0x3p-25f), "1.5 ulps ties to 2");
        assertEquals((short) 0x03FF, Float16.floatToF16(0x3FFp-24f), "largest subnormal");
        assertEquals((short) 0x0400, Float16.floatToF16(0x1p-14f), "smallest normal");
        assertEquals((short) 0x0400, Float16.floatToF16(0x7FFp-25f), "subnormal rounding up into normal");
        assertEquals((short) 0x7E00, Float16.floatToF16(Float.NaN));
        assertEquals((short) 0xFE00, Float16.floatToF16(Float.intBitsToFloat(0xFFC00000)), "NaN keeps sign");
        assertEquals((short) 0x7E00, Float16.floatToF16(Float.intBitsToFloat(0x7F800001)), "payload dropped");
        assertTrue(Float.isNaN(Float16.f16ToFloat((short) 0x7C01)));
        assertEquals(Float.NEGATIVE_INFINITY, Float16.f16ToFloat((short) 0xFC00));
    }

    // ---- bulk paths agree with the scalar ones ----

    @Test
    void bulkArraysMatchScalar() {
        SplittableRandom r = new SplittableRandom(7);
        float[] src = new float[1000];
        for (int i = 0; i < src.length; i++) src[i] = (float) r.nextGaussian() * 10;
        src[3] = Float.NaN;
        src[4] = -0.0f;
        short[] b = new short[1010];
        short[] h = new short[1010];
        Float16.floatToBf16(src, 2, b, 5, 990);
        Float16.floatToF16(src, 2, h, 5, 990);
        for (int i = 0; i < 990; i++) {
            assertEquals(Float16.floatToBf16(src[2 + i]), b[5 + i]);
            assertEquals(Float16.floatToF16(src[2 + i]), h[5 + i]);
        }
        float[] back = new float[995];
        Float16.bf16ToFloat(b, 5, back, 1, 990);
        for (int i = 0; i < 990; i++) assertEquals(Float16.bf16ToFloat(b[5 + i]), back[1 + i]);
        Float16.f16ToFloat(h, 5, back, 1, 990);
        for (int i = 0; i < 990; i++) assertEquals(Float16.f16ToFloat(h[5 + i]), back[1 + i]);
        assertThrows(IndexOutOfBoundsException.class, () -> Float16.floatToBf16(src, 0, b, 500, 600));
        assertThrows(IndexOutOfBoundsException.class, () -> Float16.bf16ToFloat(b, -1, back, 0, 1));
    }

    @Test
    void bulkSegmentsAreLittleEndianAndUnaligned() {
        float[] src = {1.0f, -2.5f, 65504f, Float.NaN, 1e-7f};
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(3 + 2 * src.length);
            Float16.floatToBf16(src, 0, seg, 3, src.length);
            for (int i = 0; i < src.length; i++) {
                int bits = Float16.floatToBf16(src[i]) & 0xFFFF;
                assertEquals((byte) bits, seg.get(ValueLayout.JAVA_BYTE, 3 + 2 * i), "low byte first");
                assertEquals((byte) (bits >>> 8), seg.get(ValueLayout.JAVA_BYTE, 4 + 2 * i));
            }
            float[] back = new float[src.length + 1];
            Float16.bf16ToFloat(seg, 3, back, 1, src.length);
            for (int i = 0; i < src.length; i++) {
                assertEquals(Float16.bf16ToFloat(Float16.floatToBf16(src[i])), back[1 + i]);
            }

            Float16.floatToF16(src, 0, seg, 1, src.length);
            for (int i = 0; i < src.length; i++) {
                int bits = Float16.floatToF16(src[i]) & 0xFFFF;
                assertEquals((byte) bits, seg.get(ValueLayout.JAVA_BYTE, 1 + 2 * i));
                assertEquals((byte) (bits >>> 8), seg.get(ValueLayout.JAVA_BYTE, 2 + 2 * i));
            }
            Float16.f16ToFloat(seg, 1, back, 0, src.length);
            for (int i = 0; i < src.length; i++) {
                assertEquals(Float16.f16ToFloat(Float16.floatToF16(src[i])), back[i]);
            }
            assertThrows(IndexOutOfBoundsException.class, () -> Float16.f16ToFloat(seg, 4, back, 0, src.length));
            float[] before = back.clone();
            assertThrows(IndexOutOfBoundsException.class, () -> Float16.floatToF16(src, 0, seg, 5, src.length));
            assertArrayEquals(before, back);
        }
    }
}
