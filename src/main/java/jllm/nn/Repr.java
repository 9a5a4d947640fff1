package jllm.nn;

import java.math.BigDecimal;

/** Python's spelling of values inside module reprs (floats, bools, tuples). */
final class Repr {
    private Repr() {}

    static String bool(boolean b) { return b ? "True" : "False"; }

    /** A Python tuple of ints: {@code (5,)}, {@code (5, 5)}. */
    static String tuple(int... v) {
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < v.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append(v[i]);
        }
        if (v.length == 1) sb.append(',');
        return sb.append(')').toString();
    }

    /** Python's repr of a float: shortest round-trip digits, scientific below 1e-4 and from 1e16. */
    static String pyFloat(double x) {
        if (Double.isNaN(x)) return "nan";
        if (Double.isInfinite(x)) return x > 0 ? "inf" : "-inf";
        if (x == 0) return (1 / x < 0) ? "-0.0" : "0.0";
        // Double.toString gives the shortest round-trip digits (JDK 19+); re-layout them as Python does
        BigDecimal bd = new BigDecimal(Double.toString(Math.abs(x))).stripTrailingZeros();
        String digits = bd.unscaledValue().toString();
        int exp = digits.length() - 1 - bd.scale(); // decimal exponent of the first digit
        String sign = x < 0 ? "-" : "";
        if (exp < -4 || exp >= 16) {
            String mant = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
            return sign + mant + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
        }
        String s;
        if (exp < 0) {
            s = "0." + "0".repeat(-exp - 1) + digits;
        } else if (digits.length() <= exp + 1) {
            s = digits + "0".repeat(exp + 1 - digits.length()) + ".0";
        } else {
            s = digits.substring(0, exp + 1) + "." + digits.substring(exp + 1);
        }
        return sign + s;
    }
}
