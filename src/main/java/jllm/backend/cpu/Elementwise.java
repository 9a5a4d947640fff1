package jllm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import jllm.backend.BinaryOp;
import jllm.backend.UnaryOp;

/**
 * Row kernels for element-wise ops on strided float rows. The op is switched on once per row;
 * unit-stride rows take vectorised loops, broadcast rows (stride 0) hoist the scalar.
 */
final class Elementwise {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    private static final float SQRT1_2 = (float) (1 / Math.sqrt(2));
    private static final float K_BETA = (float) Math.sqrt(2 / Math.PI);
    private static final float K_KAPPA = 0.044715f;

    private Elementwise() {}

    static void unary(UnaryOp op, float p0, float p1, float[] x, int xo, int xs, float[] y, int yo, int ys, int n) {
        if (xs == 1 && ys == 1) {
            switch (op) {
                case GELU -> { ActivationKernels.geluForward(x, xo, y, yo, n); return; }
                case GELU_TANH -> { ActivationKernels.geluTanhForward(x, xo, y, yo, n); return; }
                case SILU -> { ActivationKernels.siluForward(x, xo, y, yo, n); return; }
                case SIGMOID -> { ActivationKernels.sigmoidForward(x, xo, y, yo, n); return; }
                case TANH -> { ActivationKernels.tanhForward(x, xo, y, yo, n); return; }
                case RELU -> { ActivationKernels.reluForward(x, xo, y, yo, n); return; }
                case ERF -> { ActivationKernels.erf(x, xo, y, yo, n); return; }
                case EXP -> { vunary(VectorOperators.EXP, x, xo, y, yo, n); return; }
                case LOG -> { vunary(VectorOperators.LOG, x, xo, y, yo, n); return; }
                case ADD_SCALAR -> {
                    int i = 0;
                    for (; i <= n - L; i += L) FloatVector.fromArray(S, x, xo + i).add(p0).intoArray(y, yo + i);
                    for (; i < n; i++) y[yo + i] = x[xo + i] + p0;
                    return;
                }
                case MUL_SCALAR -> {
                    int i = 0;
                    for (; i <= n - L; i += L) FloatVector.fromArray(S, x, xo + i).mul(p0).intoArray(y, yo + i);
                    for (; i < n; i++) y[yo + i] = x[xo + i] * p0;
                    return;
                }
                default -> { }
            }
        }
        for (int i = 0; i < n; i++) {
            float v = x[xo + i * xs];
            y[yo + i * ys] = unaryFloat(op, v, p0, p1);
        }
    }

    private static void vunary(VectorOperators.Unary vop, float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector v = FloatVector.fromArray(S, x, xo + i);
            // jllm's own lane-wise kernels: the same bits in every JIT tier (see VecMath)
            (vop == VectorOperators.EXP ? VecMath.exp(v) : VecMath.log(v)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] = vop == VectorOperators.EXP ? VecMath.exp(x[xo + i]) : VecMath.log(x[xo + i]);
        }
    }

    static float unaryFloat(UnaryOp op, float v, float p0, float p1) {
        return switch (op) {
            case NEG -> -v;
            case EXP -> VecMath.exp(v); // the vector path's exp, so a strided tensor gets the same bits as a contiguous one
            case LOG -> VecMath.log(v); // the vector path's log, as for exp
            case SQRT -> (float) Math.sqrt(v);
            case RSQRT -> (float) (1 / Math.sqrt(v));
            case ABS -> Math.abs(v);
            case TANH -> VecMath.tanh(v);
            case SIGMOID -> (float) (1 / (1 + Math.exp(-v)));
            case RELU -> v > 0 ? v : (Float.isNaN(v) ? v : 0f);
            case GELU -> 0.5f * v * (1 + ActivationKernels.erf(v * SQRT1_2));
            case GELU_TANH -> 0.5f * v * (1 + (float) Math.tanh(K_BETA * (v + K_KAPPA * v * v * v)));
            case SILU -> (float) (v / (1 + Math.exp(-v)));
            case SIN -> (float) Math.sin(v);
            case COS -> (float) Math.cos(v);
            case POW -> p0 == 2 ? v * v : p0 == 0.5f ? (float) Math.sqrt(v) : (float) Math.pow(v, p0);
            case CLAMP -> {
                float r = v;
                if (!Float.isNaN(p0) && r < p0) r = p0;
                if (!Float.isNaN(p1) && r > p1) r = p1;
                yield r;
            }
            case ADD_SCALAR -> v + p0;
            case MUL_SCALAR -> v * p0;
            case RDIV_SCALAR -> p0 / v;
            case RPOW_SCALAR -> (float) Math.pow(p0, v);
            case LOGICAL_NOT -> v == 0 ? 1 : 0;
            case SIGN -> Math.signum(v);
            case RECIPROCAL -> 1 / v;
            case SQUARE -> v * v;
            case ERF -> ActivationKernels.erf(v);
            case FLOOR -> (float) Math.floor(v);
            case CEIL -> (float) Math.ceil(v);
            case ROUND -> (float) Math.rint(v);
        };
    }

    static double unaryDouble(UnaryOp op, double v, double p0, double p1) {
        return switch (op) {
            case NEG -> -v;
            case EXP -> Math.exp(v);
            case LOG -> Math.log(v);
            case SQRT -> Math.sqrt(v);
            case RSQRT -> 1 / Math.sqrt(v);
            case ABS -> Math.abs(v);
            case TANH -> Math.tanh(v);
            case SIGMOID -> 1 / (1 + Math.exp(-v));
            case RELU -> v > 0 ? v : (Double.isNaN(v) ? v : 0);
            case SILU -> v / (1 + Math.exp(-v));
            case SIN -> Math.sin(v);
            case COS -> Math.cos(v);
            case POW -> Math.pow(v, p0);
            case CLAMP -> {
                double r = v;
                if (!Double.isNaN(p0) && r < p0) r = p0;
                if (!Double.isNaN(p1) && r > p1) r = p1;
                yield r;
            }
            case ADD_SCALAR -> v + p0;
            case MUL_SCALAR -> v * p0;
            case RDIV_SCALAR -> p0 / v;
            case RPOW_SCALAR -> Math.pow(p0, v);
            case LOGICAL_NOT -> v == 0 ? 1 : 0;
            case SIGN -> Math.signum(v);
            case RECIPROCAL -> 1 / v;
            case SQUARE -> v * v;
            case FLOOR -> Math.floor(v);
            case CEIL -> Math.ceil(v);
            case ROUND -> Math.rint(v);
            default -> unaryFloat(op, (float) v, (float) p0, (float) p1);
        };
    }

    static long unaryLong(UnaryOp op, long v, double p0, double p1) {
        return switch (op) {
            case NEG -> -v;
            case ABS -> Math.abs(v);
            case RELU -> Math.max(v, 0);
            case SIGN -> Long.signum(v);
            case SQUARE -> v * v;
            case ADD_SCALAR -> v + (long) p0;
            case MUL_SCALAR -> v * (long) p0;
            case CLAMP -> {
                long r = v;
                if (!Double.isNaN(p0) && r < p0) r = (long) Math.ceil(p0);
                if (!Double.isNaN(p1) && r > p1) r = (long) Math.floor(p1);
                yield r;
            }
            default -> (long) unaryDouble(op, v, p0, p1);
        };
    }

    static void binary(BinaryOp op, float[] a, int ao, int as, float[] b, int bo, int bs, float[] y, int yo, int ys, int n) {
        if (as == 1 && bs == 1 && ys == 1) {
            switch (op) {
                case ADD -> { int i = 0; for (; i <= n - L; i += L) FloatVector.fromArray(S, a, ao + i).add(FloatVector.fromArray(S, b, bo + i)).intoArray(y, yo + i); for (; i < n; i++) y[yo + i] = a[ao + i] + b[bo + i]; return; }
                case SUB -> { int i = 0; for (; i <= n - L; i += L) FloatVector.fromArray(S, a, ao + i).sub(FloatVector.fromArray(S, b, bo + i)).intoArray(y, yo + i); for (; i < n; i++) y[yo + i] = a[ao + i] - b[bo + i]; return; }
                case MUL -> { int i = 0; for (; i <= n - L; i += L) FloatVector.fromArray(S, a, ao + i).mul(FloatVector.fromArray(S, b, bo + i)).intoArray(y, yo + i); for (; i < n; i++) y[yo + i] = a[ao + i] * b[bo + i]; return; }
                case DIV -> { int i = 0; for (; i <= n - L; i += L) FloatVector.fromArray(S, a, ao + i).div(FloatVector.fromArray(S, b, bo + i)).intoArray(y, yo + i); for (; i < n; i++) y[yo + i] = a[ao + i] / b[bo + i]; return; }
                case GELU_BACKWARD -> { ActivationKernels.geluBackward(b, bo, a, ao, y, yo, n); return; }
                case GELU_TANH_BACKWARD -> { ActivationKernels.geluTanhBackward(b, bo, a, ao, y, yo, n); return; }
                case SILU_BACKWARD -> { ActivationKernels.siluBackward(b, bo, a, ao, y, yo, n); return; }
                case RELU_BACKWARD -> { ActivationKernels.reluBackward(b, bo, a, ao, y, yo, n); return; }
                case TANH_BACKWARD_FROM_Y -> { ActivationKernels.tanhBackward(b, bo, a, ao, y, yo, n); return; }
                case SIGMOID_BACKWARD_FROM_Y -> { ActivationKernels.sigmoidBackward(b, bo, a, ao, y, yo, n); return; }
                default -> { }
            }
        }
        if (as == 1 && bs == 0 && ys == 1) {
            float s = b[bo];
            switch (op) {
                case ADD -> { for (int i = 0; i < n; i++) y[yo + i] = a[ao + i] + s; return; }
                case SUB -> { for (int i = 0; i < n; i++) y[yo + i] = a[ao + i] - s; return; }
                case MUL -> { for (int i = 0; i < n; i++) y[yo + i] = a[ao + i] * s; return; }
                case DIV -> { for (int i = 0; i < n; i++) y[yo + i] = a[ao + i] / s; return; }
                default -> { }
            }
        }
        for (int i = 0; i < n; i++) y[yo + i * ys] = binaryFloat(op, a[ao + i * as], b[bo + i * bs]);
    }

    static float binaryFloat(BinaryOp op, float a, float b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> b == 2 ? a * a : (float) Math.pow(a, b);
            case MAX -> Float.isNaN(a) || Float.isNaN(b) ? Float.NaN : Math.max(a, b);
            case MIN -> Float.isNaN(a) || Float.isNaN(b) ? Float.NaN : Math.min(a, b);
            case GELU_BACKWARD -> {
                float cdf = 0.5f * (1 + ActivationKernels.erf(b * SQRT1_2));
                float pdf = (float) (Math.exp(-0.5 * b * b) / Math.sqrt(2 * Math.PI));
                yield a * (cdf + b * pdf);
            }
            case GELU_TANH_BACKWARD -> {
                float x2 = b * b, inner = K_BETA * (b + K_KAPPA * x2 * b);
                float t = (float) Math.tanh(inner);
                float left = 0.5f * b, right = 1 + t;
                float leftD = 0.5f * right;
                float tanhD = 1 - t * t;
                float innerD = K_BETA * (1 + 3 * K_KAPPA * x2);
                yield a * (leftD + left * tanhD * innerD);
            }
            case SILU_BACKWARD -> {
                float s = (float) (1 / (1 + Math.exp(-b)));
                yield a * s * (1 + b * (1 - s));
            }
            case RELU_BACKWARD -> b > 0 ? a : 0f;
            case TANH_BACKWARD_FROM_Y -> a * (1 - b * b);
            case SIGMOID_BACKWARD_FROM_Y -> a * b * (1 - b);
            default -> compareFloat(op, a, b) ? 1f : 0f;
        };
    }

    static boolean compareFloat(BinaryOp op, float a, float b) {
        return switch (op) {
            case EQ -> a == b;
            case NE -> a != b;
            case LT -> a < b;
            case LE -> a <= b;
            case GT -> a > b;
            case GE -> a >= b;
            case LOGICAL_AND -> a != 0 && b != 0;
            case LOGICAL_OR -> a != 0 || b != 0;
            default -> throw new IllegalArgumentException(op + " is not a comparison");
        };
    }

    static void compare(BinaryOp op, float[] a, int ao, int as, float[] b, int bo, int bs, byte[] y, int yo, int ys, int n) {
        for (int i = 0; i < n; i++) y[yo + i * ys] = (byte) (compareFloat(op, a[ao + i * as], b[bo + i * bs]) ? 1 : 0);
    }

    static double binaryDouble(BinaryOp op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> Math.pow(a, b);
            case MAX -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.max(a, b);
            case MIN -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.min(a, b);
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
            case LOGICAL_AND -> a != 0 && b != 0 ? 1 : 0;
            case LOGICAL_OR -> a != 0 || b != 0 ? 1 : 0;
            default -> binaryFloat(op, (float) a, (float) b);
        };
    }

    static long binaryLong(BinaryOp op, long a, long b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case MAX -> Math.max(a, b);
            case MIN -> Math.min(a, b);
            case EQ -> a == b ? 1 : 0;
            case NE -> a != b ? 1 : 0;
            case LT -> a < b ? 1 : 0;
            case LE -> a <= b ? 1 : 0;
            case GT -> a > b ? 1 : 0;
            case GE -> a >= b ? 1 : 0;
            case LOGICAL_AND -> a != 0 && b != 0 ? 1 : 0;
            case LOGICAL_OR -> a != 0 || b != 0 ? 1 : 0;
            default -> (long) binaryDouble(op, a, b);
        };
    }

    /** y[yo..yo+n) += x[xo..xo+n) */
    static void addInto(float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (; i <= n - L; i += L) {
            FloatVector.fromArray(S, y, yo + i).add(FloatVector.fromArray(S, x, xo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) y[yo + i] += x[xo + i];
    }
}
