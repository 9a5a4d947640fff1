package jllm.backend.cpu;

import jllm.backend.Backend;
import jllm.backend.BinaryOp;
import jllm.backend.ReduceOp;
import jllm.backend.Storage;
import jllm.backend.UnaryOp;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Float16;
import jllm.tensor.Generator;
import jllm.tensor.Shape;
import jllm.tensor.Tensor;

import java.util.Arrays;
import java.util.List;

/** The CPU backend: heap arrays, Vector API kernels, one shared worker pool. */
public final class CpuBackend implements Backend {
    public static final CpuBackend INSTANCE = new CpuBackend();

    private CpuBackend() {}

    @Override public Device device() { return Device.CPU; }

    static CpuStorage st(Tensor t) { return (CpuStorage) t.storage(); }

    static float[] f(Tensor t) { return st(t).f32(); }

    static Tensor alloc(DType dtype, int[] shape) { return Tensor.fromStorage(CpuStorage.allocate(dtype, Shape.numel(shape)), shape); }

    /** A contiguous F32 tensor with t's values (t itself when it already is one). */
    /** A contiguous tensor that starts and ends on block boundaries of its (block) dtype. */
    private static boolean wholeBlocks(Tensor t) {
        int q = t.dtype().blockSize();
        return t.isContiguous() && t.storageOffset() % q == 0 && t.numel() % q == 0;
    }

    /**
     * Writes a block-quantized dst: it must be contiguous whole blocks of the source's shape. The
     * same block type copies bytes; anything else is quantized from its F32 values.
     */
    private static void copyToBlocks(Tensor src, Tensor dst) {
        DType dd = dst.dtype();
        if (!wholeBlocks(dst) || !Arrays.equals(src.shape(), dst.shape())) throw CpuStorage.blockWrite(dd);
        byte[] out = st(dst).u8();
        long bb = dd.bytes(dst.storageOffset());
        if (src.dtype() == dd && wholeBlocks(src)) {
            System.arraycopy(st(src).u8(), Math.toIntExact(dd.bytes(src.storageOffset())), out, Math.toIntExact(bb),
                    Math.toIntExact(dd.bytes(dst.numel())));
            return;
        }
        Tensor x = cf(src);
        BlockQuant.quantize(dd, f(x), x.storageOffset(), out, dst.storageOffset(), dst.numel());
    }

    static Tensor cf(Tensor t) {
        if (t.dtype() == DType.F32 && t.isContiguous()) return t;
        Tensor out = alloc(DType.F32, t.shape());
        INSTANCE.copy(t, out);
        return out;
    }

    /** A contiguous tensor of t's dtype. */
    static Tensor cc(Tensor t) {
        if (t.isContiguous()) return t;
        Tensor out = alloc(t.dtype(), t.shape());
        INSTANCE.copy(t, out);
        return out;
    }

    // ------------------------------------------------------------------ memory

    @Override
    public Storage allocate(DType dtype, int n) { return CpuStorage.allocate(dtype, n); }

    @Override
    public Storage fromHost(DType dtype, Object hostArray) {
        Object copy = switch (hostArray) {
            case float[] a -> a.clone();
            case double[] a -> a.clone();
            case short[] a -> a.clone();
            case long[] a -> a.clone();
            case int[] a -> a.clone();
            case byte[] a -> a.clone();
            default -> throw new IllegalArgumentException("unsupported host array " + hostArray.getClass());
        };
        return CpuStorage.wrap(dtype, copy);
    }

    @Override
    public Object toHost(Tensor t) {
        CpuStorage s = st(t);
        if (t.isContiguous() && t.storageOffset() == 0 && t.numel() == s.size()) {
            Object a = s.array();
            return switch (a) {
                case float[] x -> x.clone();
                case double[] x -> x.clone();
                case short[] x -> x.clone();
                case long[] x -> x.clone();
                case int[] x -> x.clone();
                case byte[] x -> x.clone();
                default -> throw new IllegalStateException();
            };
        }
        Tensor out = alloc(t.dtype(), t.shape());
        copy(t, out);
        return st(out).array();
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        int[] shape = dst.shape();
        int[] ss = Shape.broadcastStrides(src.shape(), src.stride(), shape);
        CpuStorage s = st(src), d = st(dst);
        DType sd = s.dtype(), dd = d.dtype();
        if (dd.isQuantized()) {
            copyToBlocks(src, dst);
            return;
        }
        if (sd.isQuantized() && dd == DType.F32 && wholeBlocks(src) && dst.isContiguous() && Arrays.equals(src.shape(), shape)) {
            WeightKernels.widen(sd, s.u8(), src.storageOffset(), f(dst), dst.storageOffset(), dst.numel());
            return;
        }
        Object sa = s.array(), da = d.array();
        if (sd == dd) {
            Strided.forEach(shape, dst.stride(), dst.storageOffset(), ss, src.storageOffset(), null, 0, (n, o0, s0, o1, s1, o2, s2) -> {
                if (s0 == 1 && s1 == 1) {
                    System.arraycopy(sa, o1, da, o0, n);
                } else if (sd == DType.F32) {
                    float[] x = (float[]) sa, y = (float[]) da;
                    for (int i = 0; i < n; i++) y[o0 + i * s0] = x[o1 + i * s1];
                } else {
                    for (int i = 0; i < n; i++) copyElem(s, o1 + i * s1, d, o0 + i * s0);
                }
            });
            return;
        }
        Strided.forEach(shape, dst.stride(), dst.storageOffset(), ss, src.storageOffset(), null, 0, (n, o0, s0, o1, s1, o2, s2) -> {
            if (dd == DType.F32) {
                float[] y = (float[]) da;
                switch (sd) {
                    case F16 -> { short[] x = (short[]) sa; for (int i = 0; i < n; i++) y[o0 + i * s0] = Float16.f16ToFloat(x[o1 + i * s1]); }
                    case BF16 -> { short[] x = (short[]) sa; for (int i = 0; i < n; i++) y[o0 + i * s0] = Float16.bf16ToFloat(x[o1 + i * s1]); }
                    default -> { for (int i = 0; i < n; i++) y[o0 + i * s0] = (float) s.getDouble(o1 + i * s1); }
                }
            } else if (sd == DType.F32 && dd == DType.F16) {
                float[] x = (float[]) sa; short[] y = (short[]) da;
                for (int i = 0; i < n; i++) y[o0 + i * s0] = Float16.floatToF16(x[o1 + i * s1]);
            } else if (sd == DType.F32 && dd == DType.BF16) {
                float[] x = (float[]) sa; short[] y = (short[]) da;
                for (int i = 0; i < n; i++) y[o0 + i * s0] = Float16.floatToBf16(x[o1 + i * s1]);
            } else if (!sd.isFloatingPoint() && !dd.isFloatingPoint()) {
                for (int i = 0; i < n; i++) d.setLong(o0 + i * s0, s.getLong(o1 + i * s1));
            } else {
                for (int i = 0; i < n; i++) d.setDouble(o0 + i * s0, s.getDouble(o1 + i * s1));
            }
        });
    }

    private static void copyElem(CpuStorage s, int si, CpuStorage d, int di) {
        switch (s.dtype()) {
            case F64 -> d.f64()[di] = s.f64()[si];
            case F16, BF16 -> d.i16()[di] = s.i16()[si];
            case I64 -> d.i64()[di] = s.i64()[si];
            case I32 -> d.i32()[di] = s.i32()[si];
            case U8, BOOL -> d.u8()[di] = s.u8()[si];
            case F32 -> d.f32()[di] = s.f32()[si];
        }
    }

    @Override
    public void fill(Tensor dst, double value) {
        CpuStorage d = st(dst);
        Strided.forEach(dst.shape(), dst.stride(), dst.storageOffset(), null, 0, null, 0, (n, o0, s0, o1, s1, o2, s2) -> {
            if (d.dtype() == DType.F32) {
                float[] y = d.f32();
                float v = (float) value;
                if (s0 == 1) Arrays.fill(y, o0, o0 + n, v);
                else for (int i = 0; i < n; i++) y[o0 + i * s0] = v;
            } else {
                for (int i = 0; i < n; i++) d.setDouble(o0 + i * s0, value);
            }
        });
    }

    // ------------------------------------------------------------------ element-wise

    @Override
    public Tensor unary(UnaryOp op, Tensor a, double p0, double p1, Tensor out) {
        DType dt = op == UnaryOp.LOGICAL_NOT ? DType.BOOL : a.dtype();
        if (out == null) out = alloc(dt, a.shape());
        if (a.dtype() == DType.F32 && dt == DType.F32) {
            float[] x = f(a), y = f(out);
            Strided.forEach(a.shape(), out.stride(), out.storageOffset(), a.stride(), a.storageOffset(), null, 0,
                    (n, o0, s0, o1, s1, o2, s2) -> Elementwise.unary(op, (float) p0, (float) p1, x, o1, s1, y, o0, s0, n));
            return out;
        }
        CpuStorage s = st(a), d = st(out);
        boolean integral = !a.dtype().isFloatingPoint();
        Strided.forEach(a.shape(), out.stride(), out.storageOffset(), a.stride(), a.storageOffset(), null, 0, (n, o0, s0, o1, s1, o2, s2) -> {
            for (int i = 0; i < n; i++) {
                if (integral && op != UnaryOp.LOGICAL_NOT) {
                    d.setLong(o0 + i * s0, Elementwise.unaryLong(op, s.getLong(o1 + i * s1), p0, p1));
                } else {
                    d.setDouble(o0 + i * s0, Elementwise.unaryDouble(op, s.getDouble(o1 + i * s1), p0, p1));
                }
            }
        });
        return out;
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b, DType outType, Tensor out) {
        int[] shape = out != null ? out.shape() : Shape.broadcast(a.shape(), b.shape());
        if (out == null) out = alloc(outType, shape);
        int[] sa = Shape.broadcastStrides(a.shape(), a.stride(), shape);
        int[] sb = Shape.broadcastStrides(b.shape(), b.stride(), shape);
        if (a.dtype() == DType.F32 && b.dtype() == DType.F32 && (out.dtype() == DType.F32 || out.dtype() == DType.BOOL)) {
            float[] x = f(a), y = f(b);
            Object o = st(out).array();
            boolean toBool = out.dtype() == DType.BOOL;
            Strided.forEach(shape, out.stride(), out.storageOffset(), sa, a.storageOffset(), sb, b.storageOffset(),
                    (n, o0, s0, o1, s1, o2, s2) -> {
                        if (toBool) Elementwise.compare(op, x, o1, s1, y, o2, s2, (byte[]) o, o0, s0, n);
                        else Elementwise.binary(op, x, o1, s1, y, o2, s2, (float[]) o, o0, s0, n);
                    });
            return out;
        }
        CpuStorage p = st(a), q = st(b), d = st(out);
        DType compute = DType.promote(a.dtype(), b.dtype());
        boolean integral = !compute.isFloatingPoint() && op != BinaryOp.DIV && op != BinaryOp.POW;
        Strided.forEach(shape, out.stride(), out.storageOffset(), sa, a.storageOffset(), sb, b.storageOffset(),
                (n, o0, s0, o1, s1, o2, s2) -> {
                    for (int i = 0; i < n; i++) {
                        int io = o0 + i * s0, ia = o1 + i * s1, ib = o2 + i * s2;
                        if (integral) d.setLong(io, Elementwise.binaryLong(op, p.getLong(ia), q.getLong(ib)));
                        else d.setDouble(io, Elementwise.binaryDouble(op, p.getDouble(ia), q.getDouble(ib)));
                    }
                });
        return out;
    }

    @Override
    public Tensor where(Tensor cond, Tensor a, Tensor b) {
        int[] shape = Shape.broadcast(cond.shape(), Shape.broadcast(a.shape(), b.shape()));
        DType dt = DType.promote(a.dtype(), b.dtype());
        if (a.dim() == 0 && b.dim() != 0) dt = b.dtype().isFloatingPoint() || !a.dtype().isFloatingPoint() ? b.dtype() : a.dtype();
        if (b.dim() == 0 && a.dim() != 0) dt = a.dtype().isFloatingPoint() || !b.dtype().isFloatingPoint() ? a.dtype() : b.dtype();
        Tensor out = alloc(dt, shape);
        // out = b, then a where cond
        copy(b, out);
        Tensor av = a.dtype() == dt ? a : convert(a, dt);
        CpuStorage c = st(cond), x = st(av), o = st(out);
        int[] sc = Shape.broadcastStrides(cond.shape(), cond.stride(), shape);
        int[] sa = Shape.broadcastStrides(av.shape(), av.stride(), shape);
        byte[] m = c.u8();
        Strided.forEach(shape, out.stride(), 0, sc, cond.storageOffset(), sa, av.storageOffset(), (n, o0, s0, o1, s1, o2, s2) -> {
            if (dtIsF32(o)) {
                float[] y = o.f32(), xs = x.f32();
                for (int i = 0; i < n; i++) if (m[o1 + i * s1] != 0) y[o0 + i * s0] = xs[o2 + i * s2];
            } else {
                for (int i = 0; i < n; i++) if (m[o1 + i * s1] != 0) copyElem(x, o2 + i * s2, o, o0 + i * s0);
            }
        });
        return out;
    }

    private static boolean dtIsF32(CpuStorage s) { return s.dtype() == DType.F32; }

    static Tensor convert(Tensor t, DType dt) {
        Tensor out = alloc(dt, t.shape());
        INSTANCE.copy(t, out);
        return out;
    }

    // ------------------------------------------------------------------ reductions

    @Override
    public Tensor reduce(ReduceOp op, Tensor a, int[] dims, boolean keepdim, double correction) {
        return Reductions.reduce(a, op, dims, keepdim, correction);
    }

    @Override
    public Tensor argReduce(boolean max, Tensor a, int dim, boolean keepdim) {
        return Reductions.argReduce(a, max, dim, keepdim);
    }

    @Override
    public Tensor[] topk(Tensor a, int k, boolean largest) { return Reductions.topk(a, k, largest); }

    @Override
    public Tensor cumsum(Tensor a, int dim) { return Reductions.cumsum(a, dim); }

    // ------------------------------------------------------------------ matmul

    @Override
    public Tensor matmul(Tensor a, Tensor b) { return MatMul.matmul(a, b); }

    // ------------------------------------------------------------------ fused

    @Override
    public Tensor softmax(Tensor x, boolean log) { return Fused.softmax(x, log); }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor dy, boolean log) { return Fused.softmaxBackward(y, dy, log); }

    @Override
    public Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) { return Fused.layerNorm(x, weight, bias, eps); }

    @Override
    public Tensor[] layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor weight, boolean hasBias) {
        return Fused.layerNormBackward(dy, x, mean, rstd, weight, hasBias);
    }

    @Override
    public Tensor[] rmsNorm(Tensor x, Tensor weight, double eps) { return Fused.rmsNorm(x, weight, eps); }

    @Override
    public Tensor[] rmsNormBackward(Tensor dy, Tensor x, Tensor rstd, Tensor weight) { return Fused.rmsNormBackward(dy, x, rstd, weight); }

    @Override
    public Tensor[] crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing) {
        return Fused.crossEntropy(logits, targets, ignoreIndex, labelSmoothing);
    }

    @Override
    public Tensor crossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor gradPerRow, long ignoreIndex,
                                       double labelSmoothing) {
        return Fused.crossEntropyBackward(logits, targets, lse, gradPerRow, ignoreIndex, labelSmoothing);
    }

    @Override
    public Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale) {
        return Fused.attention(q, k, v, mask, causal, scale);
    }

    @Override
    public Tensor[] attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale,
                                      Tensor out, Tensor lse) {
        return Fused.attentionBackward(dout, q, k, v, mask, causal, scale, out, lse);
    }

    // ------------------------------------------------------------------ indexing

    private static long[] indices(Tensor index, int bound, String op, int dim) {
        long[] idx = (long[]) convertHost(index, DType.I64);
        for (int i = 0; i < idx.length; i++) {
            long v = idx[i];
            if (v < -bound || v >= bound) {
                throw new IndexOutOfBoundsException(op + "(): index " + v + " is out of bounds for dimension " + dim + " with size " + bound);
            }
            if (v < 0) idx[i] = v + bound;
        }
        return idx;
    }

    private static Object convertHost(Tensor t, DType dt) {
        return INSTANCE.toHost(t.dtype() == dt ? t : convert(t, dt));
    }

    /** index_select of whole blocks: each selected slice must be a whole number of blocks. */
    private static Tensor selectBlocks(Tensor s, long[] idx, int outer, int n, int inner, Tensor out) {
        DType t = s.dtype();
        if (inner % t.blockSize() != 0 || s.storageOffset() % t.blockSize() != 0) {
            throw new IllegalArgumentException("index_select on a " + t.torchName() + " tensor of shape " + Arrays.toString(s.shape())
                    + " must select slices of whole " + t.blockSize() + "-element blocks");
        }
        byte[] sa = st(s).u8(), oa = st(out).u8();
        int len = Math.toIntExact(t.bytes(inner));
        for (int r = 0; r < outer * idx.length; r++) {
            int o = r / idx.length, k = r % idx.length;
            long from = s.storageOffset() + ((long) o * n + idx[k]) * inner;
            System.arraycopy(sa, Math.toIntExact(t.bytes(from)), oa, r * len, len);
        }
        return out;
    }

    @Override
    public Tensor indexSelect(Tensor src, int dim, Tensor index) {
        Tensor s = cc(src);
        int[] shape = s.shape();
        long[] idx = indices(index, shape.length == 0 ? 1 : shape[dim], "index_select", dim);
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        int n = shape.length == 0 ? 1 : shape[dim];
        int[] os = shape.clone();
        if (os.length > 0) os[dim] = idx.length;
        Tensor out = alloc(s.dtype(), os);
        if (s.dtype().isQuantized()) return selectBlocks(s, idx, outer, n, inner, out);
        Object sa = st(s).array(), oa = st(out).array();
        int soff = s.storageOffset();
        int rows = outer * idx.length;
        final int in = inner;
        Parallel.RangeBody body = (start, end) -> {
            for (int r = start; r < end; r++) {
                int o = r / idx.length, k = r % idx.length;
                System.arraycopy(sa, soff + (o * n + (int) idx[k]) * in, oa, r * in, in);
            }
        };
        if ((long) rows * inner >= Strided.PARALLEL_GRAIN) Parallel.forRange(rows, 1, body);
        else body.run(0, rows);
        return out;
    }

    @Override
    public Tensor indexAdd(int[] shape, int dim, Tensor index, Tensor src) {
        Tensor out = alloc(DType.F32, shape);
        indexAddInto(out, dim, index, src);
        return out;
    }

    @Override
    public void indexAddInto(Tensor out, int dim, Tensor index, Tensor src) {
        if (out.dtype() != DType.F32 || !out.isContiguous()) {
            throw new IllegalArgumentException("index_add into a tensor needs a contiguous float32 target, got " + out.dtype().torchName()
                    + (out.isContiguous() ? "" : " (not contiguous)"));
        }
        int[] shape = out.shape();
        Tensor s = cf(src);
        long[] idx = indices(index, shape.length == 0 ? 1 : shape[dim], "index_add", dim);
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        int n = shape.length == 0 ? 1 : shape[dim];
        float[] sa = f(s), oa = f(out);
        int soff = s.storageOffset(), ooff = out.storageOffset();
        final int in = inner, k = idx.length;
        // parallel over outer, or over the inner (feature) range when outer == 1, so no two threads add into one row
        if (outer > 1) {
            Parallel.forRange(outer, 1, (s0, e0) -> {
                for (int o = s0; o < e0; o++) {
                    for (int j = 0; j < k; j++) {
                        Elementwise.addInto(sa, soff + (o * k + j) * in, oa, ooff + (o * n + (int) idx[j]) * in, in);
                    }
                }
            });
        } else {
            Parallel.forRange(in, 256, (s0, e0) -> {
                for (int j = 0; j < k; j++) {
                    Elementwise.addInto(sa, soff + j * in + s0, oa, ooff + (int) idx[j] * in + s0, e0 - s0);
                }
            });
        }
    }

    @Override
    public Tensor gather(Tensor src, int dim, Tensor index) {
        int[] ishape = index.shape();
        int[] sshape = src.shape();
        for (int d = 0; d < ishape.length; d++) {
            if (d != dim && ishape[d] > sshape[d]) {
                throw new IllegalArgumentException("Size does not match at dimension " + d + " expected index " + Arrays.toString(ishape)
                        + " to be smaller than self " + Arrays.toString(sshape) + " apart from dimension " + dim);
            }
        }
        long[] idx = indices(index, sshape[dim], "gather", dim);
        Tensor out = alloc(src.dtype(), ishape);
        CpuStorage s = st(src), o = st(out);
        int[] sst = src.stride();
        int[] pos = new int[ishape.length];
        int n = idx.length;
        for (int i = 0; i < n; i++) {
            int off = src.storageOffset();
            for (int d = 0; d < pos.length; d++) off += (d == dim ? (int) idx[i] : pos[d]) * sst[d];
            copyElem(s, off, o, i);
            for (int d = pos.length - 1; d >= 0; d--) {
                if (++pos[d] < ishape[d]) break;
                pos[d] = 0;
            }
        }
        return out;
    }

    @Override
    public Tensor scatterAdd(int[] shape, int dim, Tensor index, Tensor src) {
        int[] ishape = index.shape();
        long[] idx = indices(index, shape[dim], "scatter_add", dim);
        Tensor s = cf(src);
        float[] sa = f(s);
        int[] sst = s.stride();
        Tensor out = alloc(DType.F32, shape);
        float[] oa = f(out);
        int[] ost = Shape.contiguousStrides(shape);
        int[] pos = new int[ishape.length];
        for (int i = 0; i < idx.length; i++) {
            int so = s.storageOffset(), oo = 0;
            for (int d = 0; d < pos.length; d++) {
                so += pos[d] * sst[d];
                oo += (d == dim ? (int) idx[i] : pos[d]) * ost[d];
            }
            oa[oo] += sa[so];
            for (int d = pos.length - 1; d >= 0; d--) {
                if (++pos[d] < ishape[d]) break;
                pos[d] = 0;
            }
        }
        return out;
    }

    @Override
    public Tensor cat(List<Tensor> parts, int dim) {
        int[] shape = parts.get(0).shape();
        int total = 0;
        for (Tensor p : parts) total += p.shape()[dim];
        shape[dim] = total;
        Tensor out = alloc(parts.get(0).dtype(), shape);
        int at = 0;
        for (Tensor p : parts) {
            int len = p.shape()[dim];
            if (len > 0) copy(p, out.narrow(dim, at, len));
            at += len;
        }
        return out;
    }

    // ------------------------------------------------------------------ convolution

    @Override
    public Tensor im2col(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
        Tensor c = cf(x);
        int[] s = c.shape();
        int n = s[0], ch = s[1], h = s[2], w = s[3];
        int oh = ConvKernels.outputSize(h, kh, sh, ph, dh, false), ow = ConvKernels.outputSize(w, kw, sw, pw, dw, false);
        if (oh <= 0 || ow <= 0) {
            throw new IllegalArgumentException("Calculated output size: (" + oh + "x" + ow + "). Output size is too small for input "
                    + Arrays.toString(s) + " with kernel (" + kh + "x" + kw + ")");
        }
        int rows = ch * kh * kw, l = oh * ow;
        Tensor out = alloc(DType.F32, new int[] {n, rows, l});
        float[] xa = f(c), oa = f(out);
        int xo = c.storageOffset();
        Parallel.forRange(n * ch, 1, (s0, e0) -> {
            for (int i = s0; i < e0; i++) {
                int img = i / ch, chan = i % ch;
                ConvKernels.im2col(xa, xo + img * ch * h * w, ch, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oa, img * rows * l, chan, chan + 1);
            }
        });
        return out;
    }

    @Override
    public Tensor col2im(Tensor cols, int ch, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
        Tensor c = cf(cols);
        int n = c.shape()[0];
        int rows = ch * kh * kw;
        int l = c.shape()[2];
        Tensor out = alloc(DType.F32, new int[] {n, ch, h, w});
        float[] ca = f(c), oa = f(out);
        int co = c.storageOffset();
        Parallel.forRange(n * ch, 1, (s0, e0) -> {
            for (int i = s0; i < e0; i++) {
                int img = i / ch, chan = i % ch;
                ConvKernels.col2im(ca, co + img * rows * l, ch, h, w, kh, kw, sh, sw, ph, pw, dh, dw, oa, img * ch * h * w, chan, chan + 1);
            }
        });
        return out;
    }

    @Override
    public Tensor[] maxPool2d(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, boolean ceilMode) {
        Tensor c = cf(x);
        int[] s = c.shape();
        int planes = s[0] * s[1], h = s[2], w = s[3];
        int oh = ConvKernels.outputSize(h, kh, sh, ph, dh, ceilMode), ow = ConvKernels.outputSize(w, kw, sw, pw, dw, ceilMode);
        if (oh <= 0 || ow <= 0) {
            throw new IllegalArgumentException("max_pool2d: output size is too small (" + oh + "x" + ow + ") for input " + Arrays.toString(s));
        }
        Tensor out = alloc(DType.F32, new int[] {s[0], s[1], oh, ow});
        Tensor idx = alloc(DType.I32, new int[] {s[0], s[1], oh, ow});
        float[] xa = f(c), oa = f(out);
        int[] ia = st(idx).i32();
        int xo = c.storageOffset();
        Parallel.forRange(planes, 1, (s0, e0) ->
                ConvKernels.maxPool2dForward(xa, xo, h, w, kh, kw, sh, sw, ph, pw, dh, dw, ceilMode, oa, 0, ia, 0, s0, e0));
        return new Tensor[] {out, idx};
    }

    @Override
    public Tensor maxPool2dBackward(Tensor dy, Tensor indices, int[] inputShape) {
        Tensor g = cf(dy);
        int[] s = g.shape();
        int planes = s[0] * s[1];
        Tensor dx = alloc(DType.F32, inputShape);
        float[] ga = f(g), da = f(dx);
        int[] ia = st(indices).i32();
        int go = g.storageOffset();
        Parallel.forRange(planes, 1, (s0, e0) ->
                ConvKernels.maxPool2dBackward(ga, go, ia, 0, inputShape[2], inputShape[3], s[2], s[3], da, 0, s0, e0));
        return dx;
    }

    // ------------------------------------------------------------------ random

    @Override
    public void uniform(Tensor dst, double lo, double hi, Generator gen) {
        // straight into a contiguous float32 destination: a dropout mask is drawn without two full-size temporaries
        if (dst.dtype() == DType.F32 && dst.isContiguous()) {
            gen.fillUniform(f(dst), dst.storageOffset(), dst.numel(), (float) lo, (float) hi);
            return;
        }
        float[] tmp = new float[dst.numel()];
        gen.fillUniform(tmp, 0, tmp.length, (float) lo, (float) hi);
        copy(Tensor.fromStorage(CpuStorage.wrap(DType.F32, tmp), dst.shape()), dst);
    }

    @Override
    public void normal(Tensor dst, double mean, double std, Generator gen) {
        if (dst.dtype() == DType.F32 && dst.isContiguous()) {
            gen.fillNormal(f(dst), dst.storageOffset(), dst.numel(), (float) mean, (float) std);
            return;
        }
        float[] tmp = new float[dst.numel()];
        gen.fillNormal(tmp, 0, tmp.length, (float) mean, (float) std);
        copy(Tensor.fromStorage(CpuStorage.wrap(DType.F32, tmp), dst.shape()), dst);
    }

    @Override
    public Tensor multinomial(Tensor probs, int n, boolean replacement, Generator gen) {
        Tensor p = cf(probs);
        int rows = p.shape()[0], cats = p.shape()[1];
        float[] pa = f(p);
        int po = p.storageOffset();
        long[] out = new long[rows * n];
        double[] cdf = new double[cats];
        double[] w = new double[cats];
        for (int r = 0; r < rows; r++) {
            double sum = 0;
            for (int c = 0; c < cats; c++) {
                double v = pa[po + r * cats + c];
                if (!(v >= 0) || Double.isInfinite(v)) {
                    throw new IllegalArgumentException("probability tensor contains either `inf`, `nan` or element < 0 (row " + r + ", column " + c + ": " + v + ")");
                }
                w[c] = v;
                sum += v;
            }
            if (sum <= 0) throw new IllegalArgumentException("invalid multinomial distribution (sum of probabilities <= 0) in row " + r);
            for (int k = 0; k < n; k++) {
                double acc = 0;
                for (int c = 0; c < cats; c++) {
                    acc += w[c];
                    cdf[c] = acc;
                }
                if (acc <= 0) throw new IllegalArgumentException("invalid multinomial distribution (sum of probabilities <= 0) in row " + r);
                double u = gen.nextDouble() * acc;
                int lo = 0, hi = cats - 1;
                while (lo < hi) {
                    int mid = (lo + hi) >>> 1;
                    if (cdf[mid] > u) hi = mid;
                    else lo = mid + 1;
                }
                while (w[lo] == 0 && lo < cats - 1) lo++;
                out[r * n + k] = lo;
                if (!replacement) w[lo] = 0;
            }
        }
        return Tensor.of(out, rows, n);
    }

    // ------------------------------------------------------------------ optimizers

    @Override
    public void adamwStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
                          double eps, double weightDecay, long step) {
        Fused.adamw(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, step);
    }

    @Override
    public Tensor sgdStep(Tensor param, Tensor grad, Tensor momentumBuf, double lr, double momentum, double dampening,
                          double weightDecay, boolean nesterov) {
        return Fused.sgd(param, grad, momentumBuf, lr, momentum, dampening, weightDecay, nesterov);
    }
}
