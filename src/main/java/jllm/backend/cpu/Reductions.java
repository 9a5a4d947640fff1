package jllm.backend.cpu;

import jllm.backend.ReduceOp;
import jllm.tensor.DType;
import jllm.tensor.Shape;
import jllm.tensor.Tensor;

import java.util.Arrays;

/**
 * Reductions. The reduced dims are moved last (a copy only when the layout needs one) so each
 * output element is one contiguous row; reducing leading dims of a contiguous tensor (bias
 * gradients) instead adds whole rows, which vectorises.
 */
final class Reductions {
    private Reductions() {}

    static Tensor reduce(Tensor a, ReduceOp op, int[] dims, boolean keepdim, double correction) {
        int[] shape = a.shape();
        int rank = shape.length;
        boolean[] red = new boolean[rank];
        for (int d : dims) red[d] = true;
        int[] outShape = outShape(shape, red, keepdim);
        int outer = 1, r = 1;
        for (int i = 0; i < rank; i++) {
            if (red[i]) r *= shape[i];
            else outer *= shape[i];
        }
        boolean floatPath = a.dtype() == DType.F32 && op != ReduceOp.ANY && op != ReduceOp.ALL;
        DType outType = switch (op) {
            case ANY, ALL -> DType.BOOL;
            default -> a.dtype();
        };
        Tensor out = CpuBackend.alloc(outType, outShape);
        if (r == 0 || outer == 0) {
            if (Shape.numel(outShape) > 0) {
                CpuBackend.INSTANCE.fill(out, op.ofNothing());
            }
            return out;
        }
        if (floatPath && (op == ReduceOp.SUM || op == ReduceOp.MEAN) && a.isContiguous() && isPrefix(red)) {
            sumLeading(CpuBackend.f(a), a.storageOffset(), r, outer, CpuBackend.f(out), op == ReduceOp.MEAN ? 1.0 / r : 1.0);
            return out;
        }
        // permute: kept dims first, reduced dims last
        int[] perm = new int[rank];
        int k = 0;
        for (int i = 0; i < rank; i++) if (!red[i]) perm[k++] = i;
        for (int i = 0; i < rank; i++) if (red[i]) perm[k++] = i;
        Tensor p = a.detach().permute(perm);
        if (floatPath) {
            Tensor c = CpuBackend.cf(p);
            float[] x = CpuBackend.f(c), y = CpuBackend.f(out);
            int xo = c.storageOffset();
            final int rr = r;
            Parallel.RangeBody body = (s, e) -> {
                for (int row = s; row < e; row++) y[row] = reduceRow(op, x, xo + row * rr, rr, correction);
            };
            if ((long) outer * r >= Strided.PARALLEL_GRAIN) Parallel.forRange(outer, Math.max(1, Strided.PARALLEL_GRAIN / r), body);
            else body.run(0, outer);
            return out;
        }
        Tensor c = CpuBackend.cc(p);
        CpuStorage s = CpuBackend.st(c), o = CpuBackend.st(out);
        int xo = c.storageOffset();
        boolean integral = !a.dtype().isFloatingPoint();
        for (int row = 0; row < outer; row++) {
            int base = xo + row * r;
            switch (op) {
                case ANY, ALL -> {
                    boolean any = false, all = true;
                    for (int i = 0; i < r; i++) {
                        boolean v = s.getDouble(base + i) != 0;
                        any |= v;
                        all &= v;
                    }
                    o.setLong(row, (op == ReduceOp.ANY ? any : all) ? 1 : 0);
                }
                default -> {
                    if (integral && (op == ReduceOp.SUM || op == ReduceOp.PROD || op == ReduceOp.MAX || op == ReduceOp.MIN)) {
                        long acc = op == ReduceOp.PROD ? 1 : op == ReduceOp.MAX ? Long.MIN_VALUE : op == ReduceOp.MIN ? Long.MAX_VALUE : 0;
                        for (int i = 0; i < r; i++) {
                            long v = s.getLong(base + i);
                            acc = switch (op) {
                                case SUM -> acc + v;
                                case PROD -> acc * v;
                                case MAX -> Math.max(acc, v);
                                default -> Math.min(acc, v);
                            };
                        }
                        o.setLong(row, acc);
                    } else {
                        double[] tmp = new double[r];
                        for (int i = 0; i < r; i++) tmp[i] = s.getDouble(base + i);
                        o.setDouble(row, reduceRowDouble(op, tmp, correction));
                    }
                }
            }
        }
        return out;
    }

    private static boolean isPrefix(boolean[] red) {
        boolean seenKept = false;
        for (boolean b : red) {
            if (!b) seenKept = true;
            else if (seenKept) return false;
        }
        return true;
    }

    private static int[] outShape(int[] shape, boolean[] red, boolean keepdim) {
        int n = 0;
        for (int i = 0; i < shape.length; i++) if (!red[i] || keepdim) n++;
        int[] o = new int[n];
        for (int i = 0, j = 0; i < shape.length; i++) {
            if (!red[i]) o[j++] = shape[i];
            else if (keepdim) o[j++] = 1;
        }
        return o;
    }

    /** out[j] = scale * sum_i x[i*cols + j]: rows are added with vector adds, split over columns. */
    private static void sumLeading(float[] x, int xo, int rows, int cols, float[] out, double scale) {
        Parallel.RangeBody body = (s, e) -> {
            double[] acc = new double[e - s];
            for (int i = 0; i < rows; i++) {
                int base = xo + i * cols;
                for (int j = s; j < e; j++) acc[j - s] += x[base + j];
            }
            for (int j = s; j < e; j++) out[j] = (float) (acc[j - s] * scale);
        };
        if ((long) rows * cols >= Strided.PARALLEL_GRAIN && cols >= 64) Parallel.forRange(cols, 64, body);
        else body.run(0, cols);
    }

    static float reduceRow(ReduceOp op, float[] x, int o, int n, double correction) {
        switch (op) {
            case SUM, MEAN -> {
                double s = 0;
                for (int i = 0; i < n; i++) s += x[o + i];
                return (float) (op == ReduceOp.MEAN ? s / n : s);
            }
            case SUMSQ -> {
                double s = 0;
                for (int i = 0; i < n; i++) s += (double) x[o + i] * x[o + i];
                return (float) s;
            }
            case PROD -> {
                double s = 1;
                for (int i = 0; i < n; i++) s *= x[o + i];
                return (float) s;
            }
            case MAX -> {
                float m = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < n; i++) {
                    float v = x[o + i];
                    if (Float.isNaN(v)) return v;
                    if (v > m) m = v;
                }
                return m;
            }
            case MIN -> {
                float m = Float.POSITIVE_INFINITY;
                for (int i = 0; i < n; i++) {
                    float v = x[o + i];
                    if (Float.isNaN(v)) return v;
                    if (v < m) m = v;
                }
                return m;
            }
            case VAR -> {
                double mean = 0;
                for (int i = 0; i < n; i++) mean += x[o + i];
                mean /= n;
                double ss = 0;
                for (int i = 0; i < n; i++) {
                    double d = x[o + i] - mean;
                    ss += d * d;
                }
                return (float) (ss / Math.max(n - correction, 0));
            }
            default -> throw new IllegalArgumentException(op.toString());
        }
    }

    private static double reduceRowDouble(ReduceOp op, double[] x, double correction) {
        int n = x.length;
        double s = op == ReduceOp.PROD ? 1 : op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY : op == ReduceOp.MIN ? Double.POSITIVE_INFINITY : 0;
        for (double v : x) {
            switch (op) {
                case SUM, MEAN, VAR -> s += v;
                case SUMSQ -> s += v * v;
                case PROD -> s *= v;
                case MAX -> s = Double.isNaN(v) || Double.isNaN(s) ? Double.NaN : Math.max(s, v);
                case MIN -> s = Double.isNaN(v) || Double.isNaN(s) ? Double.NaN : Math.min(s, v);
                default -> { }
            }
        }
        if (op == ReduceOp.MEAN) return s / n;
        if (op == ReduceOp.VAR) {
            double mean = s / n, ss = 0;
            for (double v : x) ss += (v - mean) * (v - mean);
            return ss / Math.max(n - correction, 0);
        }
        return s;
    }

    static Tensor argReduce(Tensor a, boolean max, int dim, boolean keepdim) {
        int[] shape = a.shape();
        if (shape.length == 0) return Tensor.zeros(new int[0], DType.I64, a.device());
        if (shape[dim] == 0) throw new IllegalArgumentException((max ? "argmax" : "argmin") + "(): Expected reduction dim " + dim + " to have non-zero size.");
        Tensor moved = a.detach().transpose(dim, -1);
        Tensor c = CpuBackend.cf(moved);
        int n = shape[dim];
        int rows = c.numel() / n;
        long[] idx = new long[rows];
        float[] x = CpuBackend.f(c);
        int xo = c.storageOffset();
        for (int r = 0; r < rows; r++) {
            int base = xo + r * n, best = 0;
            float bv = x[base];
            for (int i = 1; i < n && !Float.isNaN(bv); i++) {
                float v = x[base + i];
                if (Float.isNaN(v) || (max ? v > bv : v < bv)) {
                    bv = v;
                    best = i;
                }
            }
            idx[r] = best;
        }
        int[] ms = moved.shape();
        ms[ms.length - 1] = 1;
        Tensor res = Tensor.of(idx, ms).transpose(dim, -1).contiguous();
        return keepdim ? res : res.squeeze(dim);
    }

    /** Sort key whose long order is the float order (NaN largest), index in the low bits for stability. */
    private static long key(float v, int i, boolean descending) {
        int bits = Float.floatToIntBits(v);
        int ordered = bits >= 0 ? bits : bits ^ 0x7fffffff;
        long k = descending ? -(long) ordered - 1 : ordered;
        return (k << 32) | (i & 0xffffffffL);
    }

    static Tensor[] topk(Tensor a, int k, boolean largest) {
        int[] shape = a.shape();
        int n = shape.length == 0 ? 1 : shape[shape.length - 1];
        Tensor c = CpuBackend.cf(a);
        int rows = n == 0 ? 0 : c.numel() / n;
        int[] os = shape.length == 0 ? new int[0] : shape.clone();
        if (os.length > 0) os[os.length - 1] = k;
        long[] idx = new long[rows * k];
        float[] x = CpuBackend.f(c);
        int xo = c.storageOffset();
        Parallel.forRange(rows, 1, (s, e) -> {
            long[] keys = new long[n];
            for (int r = s; r < e; r++) {
                int base = xo + r * n;
                for (int i = 0; i < n; i++) keys[i] = key(x[base + i], i, largest);
                if (k < n / 8) {
                    selectSmallest(keys, k);
                    Arrays.sort(keys, 0, k);
                } else {
                    Arrays.sort(keys);
                }
                for (int j = 0; j < k; j++) idx[r * k + j] = (int) keys[j];
            }
        });
        Tensor it = Tensor.of(idx, os);
        return new Tensor[] {null, it};
    }

    /** Moves the k smallest keys to the front (quickselect). */
    private static void selectSmallest(long[] a, int k) {
        int lo = 0, hi = a.length - 1;
        while (lo < hi) {
            long pivot = a[(lo + hi) >>> 1];
            int i = lo, j = hi;
            while (i <= j) {
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) {
                    long t = a[i]; a[i] = a[j]; a[j] = t;
                    i++;
                    j--;
                }
            }
            if (k - 1 <= j) hi = j;
            else if (k - 1 >= i) lo = i;
            else break;
        }
    }

    static Tensor cumsum(Tensor a, int dim) {
        Tensor moved = a.detach().transpose(dim, -1);
        boolean fp = a.dtype().isFloatingPoint();
        Tensor c = fp ? CpuBackend.cf(moved) : CpuBackend.cc(CpuBackend.convert(moved, DType.I64));
        int n = a.shape()[dim];
        int rows = n == 0 ? 0 : c.numel() / n;
        Tensor out = CpuBackend.alloc(c.dtype(), c.shape());
        if (fp) {
            float[] x = CpuBackend.f(c), y = CpuBackend.f(out);
            for (int r = 0; r < rows; r++) {
                double acc = 0;
                for (int i = 0; i < n; i++) {
                    acc += x[c.storageOffset() + r * n + i];
                    y[r * n + i] = (float) acc;
                }
            }
        } else {
            long[] x = CpuBackend.st(c).i64(), y = CpuBackend.st(out).i64();
            for (int r = 0; r < rows; r++) {
                long acc = 0;
                for (int i = 0; i < n; i++) {
                    acc += x[c.storageOffset() + r * n + i];
                    y[r * n + i] = acc;
                }
            }
        }
        return out.transpose(dim, -1).contiguous();
    }
}
