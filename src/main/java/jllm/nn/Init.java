package jllm.nn;

import jllm.autograd.Grad;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.util.Locale;
import java.util.Arrays;

/**
 * Weight initialisation, PyTorch's {@code torch.nn.init}, with the same formulas and defaults.
 * Every method fills the tensor in place under {@code Grad.off()} (so it works on parameters) and
 * returns it; each has a variant taking the {@link Generator} to draw from (otherwise the
 * default one). A zero-element tensor is left alone, as PyTorch does.
 */
public final class Init {
    private Init() {}

    private static Generator dg() { return Generator.defaultGenerator(); }

    private static final ThreadLocal<Boolean> SKIP = ThreadLocal.withInitial(() -> false);

    /**
     * Builds modules whose weights are about to be loaded, without their random initialisation
     * (transformers' {@code no_init_weights}, PyTorch's {@code skip_init}): layers that initialise
     * in their constructor leave their parameters zero, and the default generator is not drawn
     * from. A 76M-parameter Llama loads in a third less time.
     */
    public static <T> T skipInit(java.util.function.Supplier<T> build) {
        boolean was = SKIP.get();
        SKIP.set(true);
        try {
            return build.get();
        } finally {
            SKIP.set(was);
        }
    }

    /** True inside {@link #skipInit}: constructors leave parameters as allocated. */
    public static boolean skipping() { return SKIP.get(); }

    /** What {@link #weightsIn} builds: a model load, which may throw (an IOException for a file). */
    @FunctionalInterface
    public interface Build<T, E extends Exception> {
        T get() throws E;
    }

    /** The dtype of {@link #weightsIn}; null outside it (F32). */
    private static final ThreadLocal<DType> WEIGHTS = new ThreadLocal<>();

    /**
     * Builds (and loads) a model whose layer weights are kept in dtype (BF16, F16, Q8_0, Q4_0), as
     * transformers' {@code torch_dtype} does at from_pretrained: the Linear and Embedding layers
     * built without random init ({@link #skipInit}) inside it allocate their weight matrices in dtype
     * (a matrix whose rows are not whole blocks of a quantized type stays F32), so the checkpoint's
     * values are converted as they are copied in and no F32 copy of the model is ever allocated.
     * Norms, biases and buffers stay F32 ({@link Quantize} converts a model already built).
     */
    public static <T, E extends Exception> T weightsIn(DType dtype, Build<T, E> build) throws E {
        DType was = WEIGHTS.get();
        WEIGHTS.set(dtype);
        try {
            return build.get();
        } finally {
            WEIGHTS.set(was);
        }
    }

    /** The dtype of the enclosing {@link #weightsIn}, or null outside one. */
    public static DType weightsDtype() { return WEIGHTS.get(); }

    /**
     * A zero [rows, cols] weight matrix for a layer's constructor: F32, or the dtype of {@link #weightsIn}
     * when the layer skips its init.
     */
    public static Tensor weightMatrix(int rows, int cols) {
        DType t = matrixType(SKIP.get() ? WEIGHTS.get() : null, cols);
        return Tensor.zeros(new int[] {rows, cols}, t, jllm.tensor.Device.CPU);
    }

    /**
     * The type a weight matrix with rows of cols elements is kept in when want is asked for: want, or
     * F32 when want is null or is a block type its rows are not whole blocks of.
     */
    public static DType matrixType(DType want, long cols) {
        return want == null || want.isQuantized() && cols % want.blockSize() != 0 ? DType.F32 : want;
    }

    // ------------------------------------------------------------------ gains and fans

    /** calculate_gain(nonlinearity) with the default parameter. */
    public static double calculateGain(String nonlinearity) { return calculateGain(nonlinearity, null); }

    /** The recommended gain for a nonlinearity; param is leaky_relu's negative slope (null means 0.01). */
    public static double calculateGain(String nonlinearity, Double param) {
        switch (nonlinearity) {
            case "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid":
                return 1;
            case "tanh":
                return 5.0 / 3;
            case "relu":
                return Math.sqrt(2.0);
            case "leaky_relu": {
                double slope = param == null ? 0.01 : param;
                return Math.sqrt(2.0 / (1 + slope * slope));
            }
            case "selu":
                return 3.0 / 4;
            default:
                throw new IllegalArgumentException("Unsupported nonlinearity " + nonlinearity);
        }
    }

    /** {fan_in, fan_out}: size(1) and size(0) times the receptive field (the product of dims 2..). */
    public static long[] calculateFanInAndFanOut(Tensor t) {
        if (t.dim() < 2) {
            throw new IllegalArgumentException("Fan in and fan out can not be computed for tensor with fewer than 2 dimensions (shape "
                    + Arrays.toString(t.shape()) + ")");
        }
        long receptive = 1;
        for (int d = 2; d < t.dim(); d++) receptive *= t.size(d);
        return new long[] {t.size(1) * receptive, t.size(0) * receptive};
    }

    private static long correctFan(Tensor t, String mode) {
        String m = mode.toLowerCase(Locale.ROOT);
        long[] f = calculateFanInAndFanOut(t);
        return switch (m) {
            case "fan_in" -> f[0];
            case "fan_out" -> f[1];
            default -> throw new IllegalArgumentException("Mode " + mode + " not supported, please use one of [fan_in, fan_out]");
        };
    }

    // ------------------------------------------------------------------ basic fills

    public static Tensor uniform_(Tensor t) { return uniform_(t, 0, 1, dg()); }

    public static Tensor uniform_(Tensor t, double a, double b) { return uniform_(t, a, b, dg()); }

    public static Tensor uniform_(Tensor t, double a, double b, Generator gen) {
        if (t.numel() == 0) return t;
        try (var g = Grad.off()) {
            return t.uniform_(a, b, gen);
        }
    }

    public static Tensor normal_(Tensor t) { return normal_(t, 0, 1, dg()); }

    public static Tensor normal_(Tensor t, double mean, double std) { return normal_(t, mean, std, dg()); }

    public static Tensor normal_(Tensor t, double mean, double std, Generator gen) {
        if (t.numel() == 0) return t;
        try (var g = Grad.off()) {
            return t.normal_(mean, std, gen);
        }
    }

    public static Tensor constant_(Tensor t, double value) {
        try (var g = Grad.off()) {
            return t.fill_(value);
        }
    }

    public static Tensor zeros_(Tensor t) { return constant_(t, 0); }

    public static Tensor ones_(Tensor t) { return constant_(t, 1); }

    // ------------------------------------------------------------------ kaiming / xavier

    /** kaiming_uniform_ with a=0, mode fan_in, leaky_relu. */
    public static Tensor kaimingUniform_(Tensor t) { return kaimingUniform_(t, 0, "fan_in", "leaky_relu", dg()); }

    public static Tensor kaimingUniform_(Tensor t, double a) { return kaimingUniform_(t, a, "fan_in", "leaky_relu", dg()); }

    public static Tensor kaimingUniform_(Tensor t, double a, String mode, String nonlinearity) {
        return kaimingUniform_(t, a, mode, nonlinearity, dg());
    }

    /** U(-bound, bound) with bound = gain * sqrt(3 / fan). */
    public static Tensor kaimingUniform_(Tensor t, double a, String mode, String nonlinearity, Generator gen) {
        if (t.numel() == 0) return t;
        long fan = correctFan(t, mode);
        double gain = calculateGain(nonlinearity, a);
        double std = gain / Math.sqrt(fan);
        double bound = Math.sqrt(3.0) * std;
        return uniform_(t, -bound, bound, gen);
    }

    public static Tensor kaimingNormal_(Tensor t) { return kaimingNormal_(t, 0, "fan_in", "leaky_relu", dg()); }

    public static Tensor kaimingNormal_(Tensor t, double a, String mode, String nonlinearity) {
        return kaimingNormal_(t, a, mode, nonlinearity, dg());
    }

    /** N(0, std^2) with std = gain / sqrt(fan). */
    public static Tensor kaimingNormal_(Tensor t, double a, String mode, String nonlinearity, Generator gen) {
        if (t.numel() == 0) return t;
        long fan = correctFan(t, mode);
        double std = calculateGain(nonlinearity, a) / Math.sqrt(fan);
        return normal_(t, 0, std, gen);
    }

    public static Tensor xavierUniform_(Tensor t) { return xavierUniform_(t, 1.0, dg()); }

    public static Tensor xavierUniform_(Tensor t, double gain) { return xavierUniform_(t, gain, dg()); }

    /** U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)). */
    public static Tensor xavierUniform_(Tensor t, double gain, Generator gen) {
        long[] f = calculateFanInAndFanOut(t);
        double std = gain * Math.sqrt(2.0 / (f[0] + f[1]));
        double a = Math.sqrt(3.0) * std;
        return uniform_(t, -a, a, gen);
    }

    public static Tensor xavierNormal_(Tensor t) { return xavierNormal_(t, 1.0, dg()); }

    public static Tensor xavierNormal_(Tensor t, double gain) { return xavierNormal_(t, gain, dg()); }

    /** N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)). */
    public static Tensor xavierNormal_(Tensor t, double gain, Generator gen) {
        long[] f = calculateFanInAndFanOut(t);
        double std = gain * Math.sqrt(2.0 / (f[0] + f[1]));
        return normal_(t, 0, std, gen);
    }

    // ------------------------------------------------------------------ truncated normal

    /** trunc_normal_ with mean 0, std 1, a=-2, b=2. */
    public static Tensor truncNormal_(Tensor t) { return truncNormal_(t, 0, 1, -2, 2, dg()); }

    public static Tensor truncNormal_(Tensor t, double mean, double std, double a, double b) {
        return truncNormal_(t, mean, std, a, b, dg());
    }

    /**
     * N(mean, std^2) truncated to [a, b], by PyTorch's inverse-CDF method: u ~ U(2l-1, 2u-1) with
     * l, u the normal CDF at the bounds, then mean + std*sqrt(2)*erfinv(u), clamped to [a, b].
     */
    public static Tensor truncNormal_(Tensor t, double mean, double std, double a, double b, Generator gen) {
        if (!(a < b)) throw new IllegalArgumentException("trunc_normal_: need a < b, got a=" + a + ", b=" + b);
        if (t.numel() == 0) return t;
        double l = normCdf((a - mean) / std), u = normCdf((b - mean) / std);
        try (var g = Grad.off()) {
            t.uniform_(2 * l - 1, 2 * u - 1, gen);
            double[] v = t.toDoubleArray();
            double s = std * Math.sqrt(2.0);
            for (int i = 0; i < v.length; i++) {
                double x = erfinv(v[i]) * s + mean;
                v[i] = Math.min(Math.max(x, a), b);
            }
            t.copy_(Tensor.of(v, t.shape()));
        }
        return t;
    }

    private static double normCdf(double x) { return (1 + erf(x / Math.sqrt(2))) / 2; }

    /** The error function to about 1e-13 (Taylor series near 0, continued fraction in the tails). */
    static double erf(double x) {
        if (Double.isNaN(x)) return x;
        double ax = Math.abs(x);
        double r;
        if (ax < 3) {
            double x2 = ax * ax, term = ax, sum = ax;
            for (int n = 1; n < 200; n++) {
                term *= -x2 / n;
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
            }
            r = 2 / Math.sqrt(Math.PI) * sum;
        } else if (ax > 7) {
            r = 1;
        } else {
            double f = ax;
            for (int n = 60; n >= 1; n--) f = ax + (n / 2.0) / f;
            r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
        }
        return x < 0 ? -r : r;
    }

    /** The inverse error function: Giles' approximation refined by Newton steps on {@link #erf}. */
    static double erfinv(double y) {
        if (Double.isNaN(y) || y < -1 || y > 1) return Double.NaN;
        if (y == 1) return Double.POSITIVE_INFINITY;
        if (y == -1) return Double.NEGATIVE_INFINITY;
        double w = -Math.log((1 - y) * (1 + y)), p;
        if (w < 5) {
            w -= 2.5;
            p = 2.81022636e-08;
            p = 3.43273939e-07 + p * w;
            p = -3.5233877e-06 + p * w;
            p = -4.39150654e-06 + p * w;
            p = 0.00021858087 + p * w;
            p = -0.00125372503 + p * w;
            p = -0.00417768164 + p * w;
            p = 0.246640727 + p * w;
            p = 1.50140941 + p * w;
        } else {
            w = Math.sqrt(w) - 3;
            p = -0.000200214257;
            p = 0.000100950558 + p * w;
            p = 0.00134934322 + p * w;
            p = -0.00367342844 + p * w;
            p = 0.00573950773 + p * w;
            p = -0.0076224613 + p * w;
            p = 0.00943887047 + p * w;
            p = 1.00167406 + p * w;
            p = 2.83297682 + p * w;
        }
        double x = p * y;
        for (int i = 0; i < 2; i++) {
            double d = 2 / Math.sqrt(Math.PI) * Math.exp(-x * x);
            if (d == 0) break;
            x -= (erf(x) - y) / d;
        }
        return x;
    }
}
