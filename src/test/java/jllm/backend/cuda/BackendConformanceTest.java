package jllm.backend.cuda;

import jllm.backend.Backend;
import jllm.backend.Backends;
import jllm.backend.BinaryOp;
import jllm.backend.ReduceOp;
import jllm.backend.UnaryOp;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Float16;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The backend conformance suite: every case runs an op on a device and checks it against a plain
 * double-precision reference written here (so the cpu run is a real check of the CPU backend, not a
 * comparison with itself), and, on any device other than cpu, against the CPU backend's result with the
 * same tolerance. Parameterised by device: cpu always; cuda:0 only where {@link Backends#isAvailable}
 * says so, else reported as skipped.
 */
class BackendConformanceTest {
    /** cpu; cuda:0 where a GPU is; cudaemu:0, the CUDA backend with its kernels compiled for the host by g++ (HostKernelEmulator). */
    static Stream<String> devices() { return Stream.of("cpu", "cuda:0", HostKernelEmulator.TYPE + ":0"); }

    private static Device use(String spec) {
        Device d = Device.parse(spec);
        if (d.type().equals(HostKernelEmulator.TYPE)) {
            Assumptions.assumeTrue(HostKernelEmulator.install(), () -> "the host emulation of the CUDA kernels could not be built: " + HostKernelEmulator.reason());
        }
        Assumptions.assumeTrue(Backends.isAvailable(d), () -> spec + " is not available on this machine"
                + (d.type().equals("cuda") ? ": " + new CudaBackendProvider().unavailableReason(d.index()) : ""));
        return d;
    }

    // ------------------------------------------------------------------ helpers

    private static float[] randn(long seed, int n) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    private static double[] d(float[] a) {
        double[] o = new double[a.length];
        for (int i = 0; i < a.length; i++) o[i] = a[i];
        return o;
    }

    /** Values of any tensor as doubles, row-major. */
    static double[] values(Tensor t) {
        Tensor c = t.cpu();
        Object a = c.backend().toHost(c);
        return switch (a) {
            case float[] x -> d(x);
            case double[] x -> x.clone();
            case long[] x -> Arrays.stream(x).asDoubleStream().toArray();
            case int[] x -> Arrays.stream(x).asDoubleStream().toArray();
            case byte[] x -> { double[] o = new double[x.length]; for (int i = 0; i < x.length; i++) o[i] = x[i]; yield o; }
            case short[] x -> {
                double[] o = new double[x.length];
                for (int i = 0; i < x.length; i++) o[i] = c.dtype() == DType.BF16 ? Float16.bf16ToFloat(x[i]) : Float.float16ToFloat(x[i]);
                yield o;
            }
            default -> throw new IllegalStateException();
        };
    }

    static void close(String what, double[] expected, double[] actual, double atol, double rtol) {
        assertEquals(expected.length, actual.length, what + ": element count");
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i], a = actual[i];
            if (Double.isNaN(e) && Double.isNaN(a)) continue;
            if (Double.isInfinite(e) && e == a) continue;
            if (!(Math.abs(e - a) <= atol + rtol * Math.abs(e))) {
                fail(what + ": element " + i + " expected " + e + " got " + a + " (atol " + atol + ", rtol " + rtol + ")");
            }
        }
    }

    /** Runs op on the device and checks it against ref; on a non-cpu device also against the CPU backend. */
    private static void conform(String what, Device dev, double[] ref, double atol, double rtol, Function<Device, Tensor> op) {
        Tensor got = op.apply(dev);
        assertEquals(dev, got.device(), what + ": result device");
        close(what + " on " + dev, ref, values(got), atol, rtol);
        if (!dev.isCpu()) close(what + " on " + dev + " vs cpu", values(op.apply(Device.CPU)), values(got), atol, rtol);
    }

    private static Tensor t(float[] a, Device dev, int... shape) { return Tensor.of(a, shape).to(dev); }

    private static Backend be(Device d) { return Backends.get(d); }

    // ------------------------------------------------------------------ memory and copies

    @ParameterizedTest
    @MethodSource("devices")
    void roundTripsStridedCopiesAndCasts(String spec) {
        Device dev = use(spec);
        float[] x = randn(1, 3 * 4 * 5);
        double[] perm = new double[x.length]; // x [3,4,5] transposed (0, 2) -> [5,4,3]
        for (int i = 0; i < 5; i++) for (int j = 0; j < 4; j++) for (int k = 0; k < 3; k++) perm[(i * 4 + j) * 3 + k] = x[(k * 4 + j) * 5 + i];
        conform("transpose().contiguous()", dev, perm, 0, 0, dv -> t(x, dv, 3, 4, 5).transpose(0, 2).contiguous());
        double[] trunc = new double[x.length], bf = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            trunc[i] = (long) (x[i] * 10f);
            bf[i] = Float16.bf16ToFloat(Float16.floatToBf16(x[i]));
        }
        conform("to(int64) truncates", dev, trunc, 0, 0, dv -> be(dv).unary(UnaryOp.MUL_SCALAR, t(x, dv, 60), 10, 0, null).to(DType.I64));
        conform("to(bfloat16) rounds to nearest even", dev, bf, 0, 0, dv -> t(x, dv, 60).to(DType.BF16).to(DType.F32));
        conform("zeros", dev, new double[7], 0, 0, dv -> Tensor.zeros(new int[] {7}, DType.F32, dv));
        double[] filled = new double[12];
        Arrays.fill(filled, 2.5);
        for (int i = 0; i < 4; i++) filled[i * 3 + 1] = -1; // column 1 of [4,3]
        conform("fill of a column view", dev, filled, 0, 0, dv -> {
            Tensor z = Tensor.full(new int[] {4, 3}, 2.5, DType.F32, dv);
            be(dv).fill(z.narrow(1, 1, 1), -1);
            return z;
        });
        long[] big = {1L << 60, -(1L << 53) - 1, 7};
        Tensor bd = Tensor.of(big, 3).to(dev);
        assertArrayEquals(big, (long[]) bd.backend().toHost(bd), "int64 values survive the device exactly");
    }

    // ------------------------------------------------------------------ element-wise

    static double erf(double x) {
        double sum = 0, term = x;
        for (int n = 0; n < 200; n++) {
            sum += term / (2 * n + 1);
            term *= -x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    static double unaryRef(UnaryOp op, double v, double p0, double p1) {
        return switch (op) {
            case NEG -> -v;
            case EXP -> Math.exp(v);
            case LOG -> Math.log(v);
            case SQRT -> Math.sqrt(v);
            case RSQRT -> 1 / Math.sqrt(v);
            case ABS -> Math.abs(v);
            case TANH -> Math.tanh(v);
            case SIGMOID -> 1 / (1 + Math.exp(-v));
            case RELU -> Math.max(v, 0);
            case GELU -> 0.5 * v * (1 + erf(v / Math.sqrt(2)));
            case GELU_TANH -> 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
            case SILU -> v / (1 + Math.exp(-v));
            case SIN -> Math.sin(v);
            case COS -> Math.cos(v);
            case POW -> Math.pow(v, p0);
            case CLAMP -> Math.min(Math.max(v, p0), p1);
            case ADD_SCALAR -> v + p0;
            case MUL_SCALAR -> v * p0;
            case RDIV_SCALAR -> p0 / v;
            case RPOW_SCALAR -> Math.pow(p0, v);
            case LOGICAL_NOT -> v == 0 ? 1 : 0;
            case SIGN -> Math.signum(v);
            case RECIPROCAL -> 1 / v;
            case SQUARE -> v * v;
            case ERF -> erf(v);
            case FLOOR -> Math.floor(v);
            case CEIL -> Math.ceil(v);
            case ROUND -> Math.rint(v);
        };
    }

    @ParameterizedTest
    @MethodSource("devices")
    void unaryOpsOnAStridedView(String spec) {
        Device dev = use(spec);
        float[] raw = randn(2, 6 * 7);
        for (int i = 0; i < raw.length; i++) raw[i] = Math.max(-3.2f, Math.min(3.2f, raw[i] * 1.3f));
        for (UnaryOp op : UnaryOp.values()) {
            boolean positive = op == UnaryOp.LOG || op == UnaryOp.SQRT || op == UnaryOp.RSQRT || op == UnaryOp.POW;
            float[] x = raw.clone();
            if (positive) for (int i = 0; i < x.length; i++) x[i] = Math.abs(x[i]) + 0.1f;
            double p0 = switch (op) { case POW -> 2.5; case CLAMP -> -0.5; case RPOW_SCALAR -> 2; case RDIV_SCALAR -> 3; default -> 0.75; };
            double p1 = op == UnaryOp.CLAMP ? 0.7 : 0;
            double[] ref = new double[x.length];
            for (int i = 0; i < 6; i++) for (int j = 0; j < 7; j++) ref[j * 6 + i] = unaryRef(op, x[i * 7 + j], p0, p1); // on x.T
            DType outType = op == UnaryOp.LOGICAL_NOT ? DType.BOOL : DType.F32;
            double tol = op == UnaryOp.RECIPROCAL || op == UnaryOp.RDIV_SCALAR ? 1e-4 : 2e-5;
            conform("unary " + op, dev, ref, tol, 1e-5, dv -> {
                Tensor y = be(dv).unary(op, t(x, dv, 6, 7).transpose(0, 1), p0, p1, null);
                assertEquals(outType, y.dtype());
                return y;
            });
        }
        long[] li = {-3, 0, 5, 1L << 40};
        Tensor l = Tensor.of(li, 4).to(dev);
        assertArrayEquals(new long[] {3, 0, -5, -(1L << 40)}, (long[]) be(dev).unary(UnaryOp.NEG, l, 0, 0, null).cpu().toHostArray(),
                "integer negation stays integral");
    }

    static double binaryRef(BinaryOp op, double a, double b) {
        double s = 1 / (1 + Math.exp(-b)), k = Math.sqrt(2 / Math.PI), u = k * (b + 0.044715 * b * b * b), th = Math.tanh(u);
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case POW -> Math.pow(a, b);
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
            case GELU_BACKWARD -> a * (0.5 * (1 + erf(b / Math.sqrt(2))) + b * Math.exp(-b * b / 2) / Math.sqrt(2 * Math.PI));
            case GELU_TANH_BACKWARD -> a * (0.5 * (1 + th) + 0.5 * b * (1 - th * th) * k * (1 + 3 * 0.044715 * b * b));
            case SILU_BACKWARD -> a * s * (1 + b * (1 - s));
            case RELU_BACKWARD -> b > 0 ? a : 0;
            case TANH_BACKWARD_FROM_Y -> a * (1 - b * b);
            case SIGMOID_BACKWARD_FROM_Y -> a * b * (1 - b);
        };
    }

    @ParameterizedTest
    @MethodSource("devices")
    void binaryOpsBroadcast(String spec) {
        Device dev = use(spec);
        float[] a = randn(3, 4 * 5), b = randn(4, 3 * 5);
        for (int i = 0; i < 5; i++) b[i] = a[i]; // some equal pairs for EQ/LE/GE
        for (BinaryOp op : BinaryOp.values()) {
            float[] aa = a.clone();
            if (op == BinaryOp.POW) for (int i = 0; i < aa.length; i++) aa[i] = Math.abs(aa[i]) + 0.5f;
            double[] ref = new double[4 * 3 * 5]; // a [4,1,5] (+) b [3,5]
            for (int i = 0; i < 4; i++) for (int j = 0; j < 3; j++) for (int k = 0; k < 5; k++) {
                ref[(i * 3 + j) * 5 + k] = binaryRef(op, aa[i * 5 + k], b[j * 5 + k]);
            }
            DType out = op.isComparison() ? DType.BOOL : DType.F32;
            conform("binary " + op, dev, ref, 3e-5, 1e-5, dv -> be(dv).binary(op, t(aa, dv, 4, 1, 5), t(b, dv, 3, 5), out, null));
        }
        long[] x = {1L << 55, 3}, y = {1, -4, 9};
        Tensor r = be(dev).binary(BinaryOp.ADD, Tensor.of(x, 2, 1).to(dev), Tensor.of(y, 3).to(dev), DType.I64, null);
        assertArrayEquals(new long[] {(1L << 55) + 1, (1L << 55) - 4, (1L << 55) + 9, 4, -1, 12}, (long[]) r.cpu().toHostArray(),
                "int64 addition with broadcasting is exact beyond 2^53");
    }

    @ParameterizedTest
    @MethodSource("devices")
    void whereBroadcasts(String spec) {
        Device dev = use(spec);
        float[] a = randn(5, 2 * 3), b = randn(6, 3);
        boolean[] c = {true, false, true};
        double[] ref = new double[6];
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) ref[i * 3 + j] = c[j] ? a[i * 3 + j] : b[j];
        conform("where", dev, ref, 0, 0, dv -> be(dv).where(Tensor.of(c, 3).to(dv), t(a, dv, 2, 3), t(b, dv, 3)));
    }

    // ------------------------------------------------------------------ reductions

    @ParameterizedTest
    @MethodSource("devices")
    void reductionsOverDimsOfAPermutedView(String spec) {
        Device dev = use(spec);
        int A = 4, B = 5, C = 6;
        float[] x = randn(7, A * B * C);
        for (int i = 0; i < x.length; i++) x[i] = x[i] * 0.5f + 1f; // PROD stays moderate
        // the view v = x.permute(2, 0, 1): v[c][a][b] = x[a][b][c]
        for (ReduceOp op : List.of(ReduceOp.SUM, ReduceOp.MEAN, ReduceOp.MAX, ReduceOp.MIN, ReduceOp.PROD, ReduceOp.VAR, ReduceOp.SUMSQ)) {
            // reduce v over dims {1, 2} (a and b) keeping c, and over {0} keeping [a, b]
            double[] ref1 = new double[C];
            for (int c = 0; c < C; c++) {
                double[] vals = new double[A * B];
                for (int a = 0; a < A; a++) for (int b = 0; b < B; b++) vals[a * B + b] = x[(a * B + b) * C + c];
                ref1[c] = reduceRef(op, vals, 1);
            }
            double tol = op == ReduceOp.PROD ? 1e-4 : 1e-5;
            conform("reduce " + op + " dims {1,2}", dev, ref1, tol, 1e-4, dv -> be(dv).reduce(op, t(x, dv, A, B, C).permute(2, 0, 1), new int[] {1, 2}, false, 1));
            double[] ref0 = new double[A * B];
            for (int a = 0; a < A; a++) for (int b = 0; b < B; b++) {
                double[] vals = new double[C];
                for (int c = 0; c < C; c++) vals[c] = x[(a * B + b) * C + c];
                ref0[a * B + b] = reduceRef(op, vals, 1);
            }
            conform("reduce " + op + " dim {0} keepdim", dev, ref0, tol, 1e-4, dv -> {
                Tensor r = be(dv).reduce(op, t(x, dv, A, B, C).permute(2, 0, 1), new int[] {0}, true, 1);
                assertArrayEquals(new int[] {1, A, B}, r.shape());
                return r;
            });
        }
        boolean[] m = {false, false, true, false, false, false};
        conform("any", dev, new double[] {1, 0}, 0, 0, dv -> be(dv).reduce(ReduceOp.ANY, Tensor.of(m, 2, 3).to(dv), new int[] {1}, false, 0));
        conform("all", dev, new double[] {0, 0, 1}, 0, 0,
                dv -> be(dv).reduce(ReduceOp.ALL, Tensor.of(new boolean[] {true, false, true, false, true, true}, 2, 3).to(dv), new int[] {0}, false, 0));
        float[] ties = {1, 5, 5, 2, -1, -1, 0, 7, 3, 3, 3, 3};
        conform("argmax first of ties", dev, new double[] {1, 3, 0}, 0, 0, dv -> be(dv).argReduce(true, t(ties, dv, 3, 4), 1, false));
        conform("argmin first of ties", dev, new double[] {0, 0, 0}, 0, 0, dv -> be(dv).argReduce(false, t(ties, dv, 3, 4), 1, false));
        conform("argmin over dim 0 keepdim", dev, new double[] {1, 1, 1, 0}, 0, 0, dv -> be(dv).argReduce(false, t(ties, dv, 3, 4), 0, true));
        conform("sum of an empty dim", dev, new double[3], 0, 0, dv -> be(dv).reduce(ReduceOp.SUM, Tensor.zeros(new int[] {3, 0}, DType.F32, dv), new int[] {1}, false, 0));
        long[] li = {1L << 54, 1, 2};
        assertEquals((1L << 54) + 3, ((long[]) be(dev).reduce(ReduceOp.SUM, Tensor.of(li, 3).to(dev), new int[] {0}, false, 0).cpu().toHostArray())[0]);
    }

    static double reduceRef(ReduceOp op, double[] v, double correction) {
        double s = 0, ss = 0, p = 1, mx = Double.NEGATIVE_INFINITY, mn = Double.POSITIVE_INFINITY;
        for (double x : v) { s += x; ss += x * x; p *= x; mx = Math.max(mx, x); mn = Math.min(mn, x); }
        double mean = s / v.length, var = 0;
        for (double x : v) var += (x - mean) * (x - mean);
        return switch (op) {
            case SUM -> s;
            case MEAN -> mean;
            case MAX -> mx;
            case MIN -> mn;
            case PROD -> p;
            case VAR -> var / (v.length - correction);
            case SUMSQ -> ss;
            default -> throw new IllegalArgumentException();
        };
    }

    // ------------------------------------------------------------------ matmul

    static double[] matmulRef(float[] a, float[] b, int batch, int M, int K, int N, boolean bT, boolean aBroadcast) {
        double[] c = new double[batch * M * N];
        for (int z = 0; z < batch; z++) for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                double av = a[(aBroadcast ? 0 : z * M * K) + i * K + k];
                double bv = bT ? b[z * N * K + j * K + k] : b[z * K * N + k * N + j];
                s += av * bv;
            }
            c[(z * M + i) * N + j] = s;
        }
        return c;
    }

    @ParameterizedTest
    @MethodSource("devices")
    void matmulLayouts(String spec) {
        Device dev = use(spec);
        int M = 7, K = 33, N = 9;
        float[] a = randn(8, 6 * M * K), b = randn(9, 6 * K * N), bt = randn(10, 6 * N * K);
        conform("matmul batched [2,3]", dev, matmulRef(a, b, 6, M, K, N, false, false), 1e-4, 1e-4,
                dv -> be(dv).matmul(t(a, dv, 2, 3, M, K), t(b, dv, 2, 3, K, N)));
        conform("matmul with a transposed right operand", dev, matmulRef(a, bt, 6, M, K, N, true, false), 1e-4, 1e-4,
                dv -> be(dv).matmul(t(a, dv, 6, M, K), t(bt, dv, 6, N, K).transpose(1, 2)));
        conform("matmul with a transposed left operand and a broadcast batch", dev, matmulRef(a, b, 6, M, K, N, false, true), 1e-4, 1e-4,
                dv -> be(dv).matmul(t(Arrays.copyOf(transpose(a, M, K), M * K), dv, K, M).transpose(0, 1).unsqueeze(0).expand(6, M, K),
                        t(b, dv, 6, K, N)));
        conform("matmul 2-D", dev, matmulRef(a, b, 1, M, K, N, false, false), 1e-4, 1e-4,
                dv -> be(dv).matmul(t(Arrays.copyOf(a, M * K), dv, M, K), t(Arrays.copyOf(b, K * N), dv, K, N)));
        conform("matmul K = 0", dev, new double[M * N], 0, 0,
                dv -> be(dv).matmul(Tensor.zeros(new int[] {M, 0}, DType.F32, dv), Tensor.zeros(new int[] {0, N}, DType.F32, dv)));
    }

    private static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
        return t;
    }

    // ------------------------------------------------------------------ fused

    @ParameterizedTest
    @MethodSource("devices")
    void softmaxForwardAndBackward(String spec) {
        Device dev = use(spec);
        int R = 6, C = 300;
        float[] x = randn(11, R * C), g = randn(12, R * C);
        for (boolean log : new boolean[] {false, true}) {
            double[] y = new double[R * C], dx = new double[R * C];
            for (int r = 0; r < R; r++) {
                double m = Double.NEGATIVE_INFINITY, s = 0, dot = 0, gs = 0;
                for (int c = 0; c < C; c++) m = Math.max(m, x[r * C + c]);
                for (int c = 0; c < C; c++) s += Math.exp(x[r * C + c] - m);
                for (int c = 0; c < C; c++) {
                    double p = Math.exp(x[r * C + c] - m) / s;
                    y[r * C + c] = log ? x[r * C + c] - m - Math.log(s) : p;
                    dot += g[r * C + c] * p;
                    gs += g[r * C + c];
                }
                for (int c = 0; c < C; c++) {
                    double p = Math.exp(x[r * C + c] - m) / s;
                    dx[r * C + c] = log ? g[r * C + c] - p * gs : p * (g[r * C + c] - dot);
                }
            }
            conform((log ? "log_" : "") + "softmax", dev, y, 1e-6, 1e-5, dv -> be(dv).softmax(t(x, dv, R, C), log));
            conform((log ? "log_" : "") + "softmax backward", dev, dx, 1e-6, 1e-4, dv -> {
                Tensor yy = be(dv).softmax(t(x, dv, R, C), log);
                return be(dv).softmaxBackward(yy, t(g, dv, R, C), log);
            });
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void layerNormAndRmsNormForwardAndBackward(String spec) {
        Device dev = use(spec);
        int R = 7, C = 50;
        double eps = 1e-5;
        float[] x = randn(13, R * C), w = randn(14, C), bias = randn(15, C), g = randn(16, R * C);
        for (int i = 0; i < x.length; i++) x[i] = x[i] * 2 + 0.5f;
        double[] y = new double[R * C], dx = new double[R * C], dw = new double[C], db = new double[C];
        double[] ry = new double[R * C], rdx = new double[R * C], rdw = new double[C];
        for (int r = 0; r < R; r++) {
            double mean = 0, var = 0, ms = 0;
            for (int c = 0; c < C; c++) { mean += x[r * C + c]; ms += (double) x[r * C + c] * x[r * C + c]; }
            mean /= C;
            ms /= C;
            for (int c = 0; c < C; c++) var += (x[r * C + c] - mean) * (x[r * C + c] - mean);
            double rstd = 1 / Math.sqrt(var / C + eps), rr = 1 / Math.sqrt(ms + eps);
            double sg = 0, sgx = 0, rsgx = 0;
            for (int c = 0; c < C; c++) {
                double xh = (x[r * C + c] - mean) * rstd, rxh = x[r * C + c] * rr, gw = g[r * C + c] * w[c];
                y[r * C + c] = xh * w[c] + bias[c];
                ry[r * C + c] = rxh * w[c];
                sg += gw;
                sgx += gw * xh;
                rsgx += gw * rxh;
                dw[c] += g[r * C + c] * xh;
                db[c] += g[r * C + c];
                rdw[c] += g[r * C + c] * rxh;
            }
            for (int c = 0; c < C; c++) {
                double xh = (x[r * C + c] - mean) * rstd, rxh = x[r * C + c] * rr, gw = g[r * C + c] * w[c];
                dx[r * C + c] = rstd * (gw - sg / C - xh * sgx / C);
                rdx[r * C + c] = rr * (gw - rxh * rsgx / C);
            }
        }
        conform("layer_norm", dev, y, 1e-5, 1e-4, dv -> be(dv).layerNorm(t(x, dv, R, C), t(w, dv, C), t(bias, dv, C), eps)[0]);
        Function<Device, Tensor[]> lnb = dv -> {
            Tensor[] f = be(dv).layerNorm(t(x, dv, R, C), t(w, dv, C), t(bias, dv, C), eps);
            return be(dv).layerNormBackward(t(g, dv, R, C), t(x, dv, R, C), f[1], f[2], t(w, dv, C), true);
        };
        conform("layer_norm backward dx", dev, dx, 1e-4, 1e-4, dv -> lnb.apply(dv)[0]);
        conform("layer_norm backward dweight", dev, dw, 1e-4, 1e-4, dv -> lnb.apply(dv)[1]);
        conform("layer_norm backward dbias", dev, db, 1e-4, 1e-4, dv -> lnb.apply(dv)[2]);
        conform("rms_norm", dev, ry, 1e-5, 1e-4, dv -> be(dv).rmsNorm(t(x, dv, R, C), t(w, dv, C), eps)[0]);
        Function<Device, Tensor[]> rnb = dv -> {
            Tensor[] f = be(dv).rmsNorm(t(x, dv, R, C), t(w, dv, C), eps);
            return be(dv).rmsNormBackward(t(g, dv, R, C), t(x, dv, R, C), f[1], t(w, dv, C));
        };
        conform("rms_norm backward dx", dev, rdx, 1e-4, 1e-4, dv -> rnb.apply(dv)[0]);
        conform("rms_norm backward dweight", dev, rdw, 1e-4, 1e-4, dv -> rnb.apply(dv)[1]);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void crossEntropyWithIgnoreIndexAndSmoothing(String spec) {
        Device dev = use(spec);
        int N = 6, V = 11;
        double eps = 0.1;
        float[] x = randn(17, N * V), g = randn(18, N);
        long[] tg = {3, -100, 0, 10, 5, 3};
        double[] loss = new double[N], dx = new double[N * V];
        for (int r = 0; r < N; r++) {
            if (tg[r] == -100) continue;
            double m = Double.NEGATIVE_INFINITY, s = 0, sum = 0;
            for (int c = 0; c < V; c++) m = Math.max(m, x[r * V + c]);
            for (int c = 0; c < V; c++) { s += Math.exp(x[r * V + c] - m); sum += x[r * V + c]; }
            double lse = m + Math.log(s);
            loss[r] = (1 - eps) * (lse - x[r * V + (int) tg[r]]) + eps * (lse - sum / V);
            for (int c = 0; c < V; c++) dx[r * V + c] = g[r] * (Math.exp(x[r * V + c] - lse) - eps / V - (c == tg[r] ? 1 - eps : 0));
        }
        conform("cross_entropy", dev, loss, 1e-5, 1e-5, dv -> be(dv).crossEntropy(t(x, dv, N, V), Tensor.of(tg, N).to(dv), -100, eps)[0]);
        conform("cross_entropy backward", dev, dx, 1e-6, 1e-4, dv -> {
            Tensor[] f = be(dv).crossEntropy(t(x, dv, N, V), Tensor.of(tg, N).to(dv), -100, eps);
            return be(dv).crossEntropyBackward(t(x, dv, N, V), Tensor.of(tg, N).to(dv), f[1], t(g, dv, N), -100, eps);
        });
        RuntimeException bad = assertThrows(RuntimeException.class,
                () -> be(dev).crossEntropy(t(x, dev, N, V), Tensor.of(new long[] {0, 1, 2, 11, 0, 0}, N).to(dev), -100, 0).clone());
        assertTrue(bad.getMessage().contains("11"), bad.getMessage());
    }

    /** Reference attention in double: {out [B,H,Tq,Dv], lse, dq, dk, dv}, q/k/v/dout row-major. */
    static double[][] attentionRef(float[] q, float[] k, float[] v, float[] dout, float[] mask, int B, int H, int Hkv, int Tq, int Tk, int D,
                                   boolean causal, double scale) {
        int G = H / Hkv;
        double[] out = new double[B * H * Tq * D], lse = new double[B * H * Tq], dq = new double[B * H * Tq * D];
        double[] dk = new double[B * Hkv * Tk * D], dv = new double[B * Hkv * Tk * D];
        for (int b = 0; b < B; b++) for (int h = 0; h < H; h++) for (int i = 0; i < Tq; i++) {
            int hk = h / G, qo = ((b * H + h) * Tq + i) * D;
            double[] s = new double[Tk], p = new double[Tk];
            double m = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < Tk; j++) {
                if (causal && j > i) { s[j] = Double.NEGATIVE_INFINITY; continue; }
                int ko = ((b * Hkv + hk) * Tk + j) * D;
                double acc = 0;
                for (int d = 0; d < D; d++) acc += (double) q[qo + d] * k[ko + d];
                s[j] = acc * scale + (mask == null ? 0 : mask[i * Tk + j]);
                m = Math.max(m, s[j]);
            }
            double sum = 0;
            for (int j = 0; j < Tk; j++) sum += s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - m);
            lse[(b * H + h) * Tq + i] = m + Math.log(sum);
            for (int j = 0; j < Tk; j++) p[j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - m) / sum;
            double di = 0;
            for (int d = 0; d < D; d++) {
                double o = 0;
                for (int j = 0; j < Tk; j++) o += p[j] * v[((b * Hkv + hk) * Tk + j) * D + d];
                out[qo + d] = o;
                di += o * dout[qo + d];
            }
            for (int j = 0; j < Tk; j++) {
                if (p[j] == 0) continue;
                int ko = ((b * Hkv + hk) * Tk + j) * D;
                double dp = 0;
                for (int d = 0; d < D; d++) dp += (double) dout[qo + d] * v[ko + d];
                double ds = p[j] * (dp - di);
                for (int d = 0; d < D; d++) {
                    dq[qo + d] += scale * ds * k[ko + d];
                    dk[ko + d] += scale * ds * q[qo + d];
                    dv[ko + d] += p[j] * dout[qo + d];
                }
            }
        }
        return new double[][] {out, lse, dq, dk, dv};
    }

    @ParameterizedTest
    @MethodSource("devices")
    void attentionForwardAndBackward(String spec) {
        Device dev = use(spec);
        int B = 2, H = 4, Hkv = 2, T = 6, D = 8;
        double scale = 1 / Math.sqrt(D);
        float[] q = randn(19, B * H * T * D), k = randn(20, B * Hkv * T * D), v = randn(21, B * Hkv * T * D), g = randn(22, B * H * T * D);
        float[] mask = new float[T * T];
        for (int i = 0; i < T; i++) mask[i * T + (i + 2) % T] = Float.NEGATIVE_INFINITY;
        for (boolean causal : new boolean[] {true, false}) {
            float[] mk = causal ? null : mask;
            double[][] ref = attentionRef(q, k, v, g, mk, B, H, Hkv, T, T, D, causal, scale);
            String name = causal ? "causal GQA attention" : "masked GQA attention";
            Function<Device, Tensor[]> fwd = dv -> be(dv).attention(t(q, dv, B, H, T, D), t(k, dv, B, Hkv, T, D), t(v, dv, B, Hkv, T, D),
                    mk == null ? null : t(mk, dv, 1, 1, T, T), causal, scale);
            Function<Device, Tensor[]> bwd = dv -> {
                Tensor[] f = fwd.apply(dv);
                return be(dv).attentionBackward(t(g, dv, B, H, T, D), t(q, dv, B, H, T, D), t(k, dv, B, Hkv, T, D), t(v, dv, B, Hkv, T, D),
                        mk == null ? null : t(mk, dv, 1, 1, T, T), causal, scale, f[0], f[1]);
            };
            conform(name + " out", dev, ref[0], 1e-5, 1e-4, dv -> fwd.apply(dv)[0]);
            conform(name + " lse", dev, ref[1], 1e-5, 1e-4, dv -> fwd.apply(dv)[1]);
            conform(name + " dq", dev, ref[2], 1e-4, 1e-3, dv -> bwd.apply(dv)[0]);
            conform(name + " dk", dev, ref[3], 1e-4, 1e-3, dv -> bwd.apply(dv)[1]);
            conform(name + " dv", dev, ref[4], 1e-4, 1e-3, dv -> bwd.apply(dv)[2]);
        }
        // a strided (head-transposed) q, as a [B,T,H,D] projection seen through transpose(1, 2)
        float[] qt = new float[q.length];
        for (int b = 0; b < B; b++) for (int h = 0; h < H; h++) for (int i = 0; i < T; i++) for (int d = 0; d < D; d++) {
            qt[((b * T + i) * H + h) * D + d] = q[((b * H + h) * T + i) * D + d];
        }
        double[][] ref = attentionRef(q, k, v, g, null, B, H, Hkv, T, T, D, true, scale);
        conform("attention on a transposed q view", dev, ref[0], 1e-5, 1e-4, dv -> be(dv).attention(t(qt, dv, B, T, H, D).transpose(1, 2),
                t(k, dv, B, Hkv, T, D), t(v, dv, B, Hkv, T, D), null, true, scale)[0]);
    }

    // ------------------------------------------------------------------ indexing

    @ParameterizedTest
    @MethodSource("devices")
    void embeddingAndIndexOps(String spec) {
        Device dev = use(spec);
        int V = 10, C = 4;
        float[] w = randn(23, V * C), src = randn(24, 5 * C);
        long[] idx = {3, 0, -1, 3, 7};
        double[] sel = new double[5 * C], add = new double[V * C];
        for (int i = 0; i < 5; i++) {
            int row = (int) (idx[i] < 0 ? idx[i] + V : idx[i]);
            for (int c = 0; c < C; c++) {
                sel[i * C + c] = w[row * C + c];
                add[row * C + c] += src[i * C + c];
            }
        }
        conform("index_select (embedding)", dev, sel, 0, 0, dv -> be(dv).indexSelect(t(w, dv, V, C), 0, Tensor.of(idx, 5).to(dv)));
        conform("index_add (embedding backward)", dev, add, 1e-6, 1e-6, dv -> be(dv).indexAdd(new int[] {V, C}, 0, Tensor.of(idx, 5).to(dv), t(src, dv, 5, C)));
        long[] gi = {1, 0, 3, 3, 2, 1};
        double[] gat = new double[6], sca = new double[2 * C];
        for (int r = 0; r < 2; r++) for (int j = 0; j < 3; j++) {
            gat[r * 3 + j] = w[r * C + (int) gi[r * 3 + j]];
            sca[r * C + (int) gi[r * 3 + j]] += src[r * C + j];
        }
        conform("gather dim 1", dev, gat, 0, 0, dv -> be(dv).gather(t(w, dv, V, C), 1, Tensor.of(gi, 2, 3).to(dv)));
        conform("scatter_add dim 1", dev, sca, 1e-6, 1e-6, dv -> be(dv).scatterAdd(new int[] {2, C}, 1, Tensor.of(gi, 2, 3).to(dv), t(src, dv, 5, C)));
        assertThrows(IndexOutOfBoundsException.class, () -> be(dev).indexSelect(t(w, dev, V, C), 0, Tensor.of(new long[] {2, 10}, 2).to(dev)).clone());
        double[] cat = new double[3 * C + V * C];
        for (int i = 0; i < 3 * C; i++) cat[i] = src[i];
        for (int i = 0; i < V * C; i++) cat[3 * C + i] = w[i];
        conform("cat", dev, cat, 0, 0, dv -> be(dv).cat(List.of(t(Arrays.copyOf(src, 3 * C), dv, 3, C), t(w, dv, V, C)), 0));
    }

    // ------------------------------------------------------------------ optimizers, host fallbacks, unimplemented

    @ParameterizedTest
    @MethodSource("devices")
    void optimizerSteps(String spec) {
        Device dev = use(spec);
        int n = 1000;
        float[] p0 = randn(25, n), g0 = randn(26, n);
        double lr = 1e-2, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
        double[] p = d(p0), m = new double[n], v = new double[n];
        for (int step = 1; step <= 3; step++) {
            for (int i = 0; i < n; i++) {
                p[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g0[i];
                v[i] = b2 * v[i] + (1 - b2) * g0[i] * g0[i];
                p[i] -= lr / (1 - Math.pow(b1, step)) * m[i] / (Math.sqrt(v[i]) / Math.sqrt(1 - Math.pow(b2, step)) + eps);
            }
        }
        conform("adamw 3 steps", dev, p, 1e-5, 1e-5, dv -> {
            Tensor pt = t(p0, dv, n), mt = Tensor.zeros(new int[] {n}, DType.F32, dv), vt = Tensor.zeros(new int[] {n}, DType.F32, dv);
            for (int step = 1; step <= 3; step++) be(dv).adamwStep(pt, t(g0, dv, n), mt, vt, lr, b1, b2, eps, wd, step);
            return pt;
        });
        double mom = 0.9;
        double[] sp = d(p0), buf = new double[n];
        for (int step = 0; step < 2; step++) {
            for (int i = 0; i < n; i++) {
                double gg = g0[i] + wd * sp[i];
                buf[i] = step == 0 ? gg : mom * buf[i] + gg;
                sp[i] -= lr * (gg + mom * buf[i]);
            }
        }
        conform("sgd nesterov 2 steps", dev, sp, 1e-6, 1e-5, dv -> {
            Tensor pt = t(p0, dv, n);
            Tensor b = be(dv).sgdStep(pt, t(g0, dv, n), null, lr, mom, 0, wd, true);
            be(dv).sgdStep(pt, t(g0, dv, n), b, lr, mom, 0, wd, true);
            return pt;
        });
    }

    @ParameterizedTest
    @MethodSource("devices")
    void topkCumsumAndUnimplementedOps(String spec) {
        Device dev = use(spec);
        float[] x = {3, 1, 4, 1, 5, 9, 2, 6};
        conform("Tensor.topk values (backend indices, then gather)", dev, new double[] {9, 6, 5}, 0, 0, dv -> t(x, dv, 8).topk(3)[0]);
        conform("topk indices", dev, new double[] {5, 7, 4}, 0, 0, dv -> be(dv).topk(t(x, dv, 8), 3, true)[1]);
        conform("cumsum", dev, new double[] {3, 4, 8, 9, 5, 14, 16, 22}, 0, 0, dv -> be(dv).cumsum(t(x, dv, 2, 4), 1).reshape(8));
        Tensor img = Tensor.zeros(new int[] {1, 1, 4, 4}, DType.F32, dev);
        if (!dev.isCpu()) {
            UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, () -> be(dev).im2col(img, 2, 2, 1, 1, 0, 0, 1, 1));
            assertEquals("im2col is not implemented on cuda", e.getMessage());
            Tensor host = Tensor.of(x, 8);
            IllegalArgumentException mixed = assertThrows(IllegalArgumentException.class,
                    () -> be(dev).binary(BinaryOp.ADD, host, t(x, dev, 8), DType.F32, null));
            assertTrue(mixed.getMessage().contains("expected all tensors on the same device"), mixed.getMessage());
        } else {
            assertArrayEquals(new int[] {1, 4, 9}, be(dev).im2col(img, 2, 2, 1, 1, 0, 0, 1, 1).shape());
        }
    }
}
