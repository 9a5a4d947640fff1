package jllm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * exp, log and tanh on vectors, written with lane-wise IEEE operations only, so that every JIT
 * tier computes the same bits. {@code lanewise(EXP)}, {@code lanewise(LOG)} and
 * {@code lanewise(TANH)} do not: C2 replaces them with SVML's routines while the interpreter and
 * C1 call {@code Math} per lane, so a kernel's result would depend on when it was compiled. The
 * algorithms are Cephes' expf, logf and tanhf (about 1 ulp on the normal range); each has a
 * scalar twin that gives the same bits, for tails and strided tensors.
 */
final class VecMath {
    private VecMath() {}

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f, LN2_LO = -2.12194440e-4f;
    /**
     * The input is clamped to [-104, 89]: from 88.73 up the product below overflows to +inf by
     * itself, and at -104 it rounds to 0 by itself (so exp(-inf) is exactly 0, which masked
     * softmax positions need); NaN passes through min/max and the arithmetic. No blends needed.
     */
    private static final float EXP_HI = 89f, EXP_LO = -104f;
    /** Round to nearest integer for |v| < 2^22: adding and subtracting 1.5 * 2^23. */
    private static final float ROUND = 12582912f;
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);

    /** e^x per lane; +inf from 88.73 up, 0 for -inf and below about -103.9, NaN for NaN. */
    static FloatVector exp(FloatVector x) {
        FloatVector c = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = c.mul(LOG2E).add(ROUND);  // n + 1.5 * 2^23: n sits in the low mantissa bits
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(bc(-LN2_HI), c);
        r = n.fma(bc(-LN2_LO), r);
        FloatVector r2 = r.mul(r);
        FloatVector p = r.fma(1.9875691500E-4f, 1.3981999507E-3f);
        p = h(p, r, 8.3334519073E-3f);
        p = h(p, r, 4.1665795894E-2f);
        p = h(p, r, 1.6666665459E-1f);
        p = h(p, r, 5.0000001201E-1f);
        p = p.fma(r2, r).add(1f);
        // 2^n in two factors, each a normal float, so n from -150 to 128 scales without overflow
        IntVector ni = t.reinterpretAsInts().sub(ROUND_BITS);
        IntVector n1 = ni.lanewise(VectorOperators.ASHR, 1), n2 = ni.sub(n1);
        FloatVector s1 = n1.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        FloatVector s2 = n2.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(s1).mul(s2);
    }

    /** p * r + c, one rounding. */
    private static FloatVector h(FloatVector p, FloatVector r, float c) {
        return p.fma(r, bc(c));
    }

    /** A constant vector; the species must be the static final one, or C2 cannot intrinsify (the DESIGN's 20x). */
    private static FloatVector bc(float c) {
        return FloatVector.broadcast(S, c);
    }

    private static final jdk.incubator.vector.VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;

    /** {@link #exp(FloatVector)} for one value, operation for operation, so both give the same bits. */
    static float exp(float x) {
        float c = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float t = c * LOG2E + ROUND;
        float n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, c);
        r = Math.fma(n, -LN2_LO, r);
        float r2 = r * r;
        float p = Math.fma(r, 1.9875691500E-4f, 1.3981999507E-3f);
        p = Math.fma(p, r, 8.3334519073E-3f);
        p = Math.fma(p, r, 4.1665795894E-2f);
        p = Math.fma(p, r, 1.6666665459E-1f);
        p = Math.fma(p, r, 5.0000001201E-1f);
        p = Math.fma(p, r2, r) + 1f;
        int ni = Float.floatToRawIntBits(t) - ROUND_BITS, n1 = ni >> 1, n2 = ni - n1;
        return p * Float.intBitsToFloat((n1 + 127) << 23) * Float.intBitsToFloat((n2 + 127) << 23);
    }

    private static final float SQRTHF = 0.707106781186547524f, MIN_NORMAL = 1.17549435e-38f, TWO23 = 8388608f;

    /**
     * ln(x) per lane, Cephes' logf: x = m * 2^e with m in [sqrt(1/2), sqrt(2)), then a degree-9
     * polynomial in m - 1. Subnormals are scaled by 2^23 first; 0 gives -inf, negatives NaN,
     * +inf and NaN themselves.
     */
    static FloatVector log(FloatVector x) {
        VectorMask<Float> sub = x.compare(VectorOperators.LT, MIN_NORMAL);
        FloatVector xs = x.blend(x.mul(TWO23), sub);
        IntVector bits = xs.reinterpretAsInts();
        FloatVector e = bits.lanewise(VectorOperators.LSHR, 23).and(0xff).sub(126).convert(VectorOperators.I2F, 0).reinterpretAsFloats();
        e = e.blend(e.sub(23f), sub);
        FloatVector m = bits.and(0x807fffff).or(0x3f000000).reinterpretAsFloats(); // in [0.5, 1)
        VectorMask<Float> small = m.compare(VectorOperators.LT, SQRTHF);
        e = e.blend(e.sub(1f), small);
        FloatVector f = m.blend(m.add(m), small).sub(1f);
        FloatVector z = f.mul(f);
        FloatVector p = f.fma(7.0376836292E-2f, -1.1514610310E-1f);
        p = h(p, f, 1.1676998740E-1f);
        p = h(p, f, -1.2420140846E-1f);
        p = h(p, f, 1.4249322787E-1f);
        p = h(p, f, -1.6668057665E-1f);
        p = h(p, f, 2.0000714765E-1f);
        p = h(p, f, -2.4999993993E-1f);
        p = h(p, f, 3.3333331174E-1f);
        FloatVector y = p.mul(f).mul(z);
        y = e.fma(bc(LN2_LO), y);
        y = z.fma(bc(-0.5f), y);
        FloatVector r = e.fma(bc(LN2_HI), f.add(y));
        r = r.blend(bc(Float.NEGATIVE_INFINITY), x.compare(VectorOperators.EQ, 0f));
        r = r.blend(bc(Float.NaN), x.compare(VectorOperators.LT, 0f));
        return r.blend(x, x.test(VectorOperators.IS_NAN).or(x.compare(VectorOperators.EQ, Float.POSITIVE_INFINITY)));
    }

    /** {@link #log(FloatVector)} for one value, operation for operation. */
    static float log(float x) {
        if (Float.isNaN(x) || x == Float.POSITIVE_INFINITY) return x;
        if (x == 0) return Float.NEGATIVE_INFINITY;
        if (x < 0) return Float.NaN;
        boolean sub = x < MIN_NORMAL;
        float xs = sub ? x * TWO23 : x;
        int bits = Float.floatToRawIntBits(xs);
        float e = (float) (((bits >>> 23) & 0xff) - 126);
        if (sub) e = e - 23f;
        float m = Float.intBitsToFloat((bits & 0x807fffff) | 0x3f000000);
        boolean small = m < SQRTHF;
        if (small) e = e - 1f;
        float f = (small ? m + m : m) - 1f;
        float z = f * f;
        float p = Math.fma(f, 7.0376836292E-2f, -1.1514610310E-1f);
        p = Math.fma(p, f, 1.1676998740E-1f);
        p = Math.fma(p, f, -1.2420140846E-1f);
        p = Math.fma(p, f, 1.4249322787E-1f);
        p = Math.fma(p, f, -1.6668057665E-1f);
        p = Math.fma(p, f, 2.0000714765E-1f);
        p = Math.fma(p, f, -2.4999993993E-1f);
        p = Math.fma(p, f, 3.3333331174E-1f);
        float y = p * f * z;
        y = Math.fma(e, LN2_LO, y);
        y = Math.fma(z, -0.5f, y);
        return Math.fma(e, LN2_HI, f + y);
    }

    /** {@link #tanh(FloatVector)} for one value. */
    static float tanh(float x) {
        if (Float.isNaN(x)) return x;
        float a = Math.abs(x);
        if (a < 0.625f) {
            float z = x * x;
            float p = Math.fma(z, -5.70498872745E-3f, 2.06390887954E-2f);
            p = Math.fma(p, z, -5.37397155531E-2f);
            p = Math.fma(p, z, 1.33314422036E-1f);
            p = Math.fma(p, z, -3.33332819422E-1f);
            return Math.fma(p * z, x, x);
        }
        float big = 1f - 2f / (exp(a + a) + 1f);
        return x < 0 ? -big : big;
    }

    /** tanh per lane: Cephes' odd polynomial below 0.625, 1 - 2/(e^{2|x|} + 1) above (with x's sign). */
    static FloatVector tanh(FloatVector x) {
        FloatVector a = x.abs();
        FloatVector z = x.mul(x);
        FloatVector p = z.fma(-5.70498872745E-3f, 2.06390887954E-2f);
        p = h(p, z, -5.37397155531E-2f);
        p = h(p, z, 1.33314422036E-1f);
        p = h(p, z, -3.33332819422E-1f);
        FloatVector small = p.mul(z).fma(x, x);
        FloatVector big = FloatVector.broadcast(S, 1f).sub(FloatVector.broadcast(S, 2f).div(exp(a.add(a)).add(1f)));
        big = big.blend(big.neg(), x.compare(VectorOperators.LT, 0f));
        VectorMask<Float> isSmall = a.compare(VectorOperators.LT, 0.625f);
        return big.blend(small, isSmall).blend(x, x.test(VectorOperators.IS_NAN));
    }
}
