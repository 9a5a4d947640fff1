package jllm.backend.cuda;

import jllm.backend.Backend;
import jllm.backend.BinaryOp;
import jllm.backend.ReduceOp;
import jllm.backend.Storage;
import jllm.backend.UnaryOp;
import jllm.backend.cpu.CpuBackend;
import jllm.backend.cpu.CpuStorage;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Generator;
import jllm.tensor.Shape;
import jllm.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The CUDA backend of one device: F32 compute in jllm's own NVRTC-compiled kernels, GEMM in cuBLAS,
 * memory from a {@link CachingAllocator}. Integer, bool and half types are supported by copies, the
 * generic element-wise kernels and the reductions; the fused ops take F32.
 *
 * <p>Runs on the host and copies (synchronously, through a pageable staging buffer, not pinned
 * memory): {@code topk}, {@code cumsum}, {@code multinomial}, and the random fills {@code uniform} and
 * {@code normal} (drawn by the CPU generator, so a seeded run draws the same numbers as on the CPU).
 * Not implemented (they throw "&lt;op&gt; is not implemented on cuda"): {@code im2col}, {@code col2im},
 * {@code maxPool2d}, {@code maxPool2dBackward}, and any kernel on a block-quantized (Q8_0/Q4_0) tensor.
 *
 * <p><b>None of this has run on a GPU.</b> It compiles, its kernels compile with nvcc, and the
 * conformance suite that compares it with the CPU backend is ready to run where a GPU is present.
 */
public final class CudaBackend implements Backend {
    private static final int T = CudaDevice.THREADS;
    private final CudaDevice dev;

    CudaBackend(int index) { this(new CudaDevice(index)); }

    CudaBackend(CudaDevice dev) { this.dev = dev; }

    @Override public Device device() { return dev.device; }

    /** The device's name and compute capability, e.g. "NVIDIA H100 80GB HBM3 (sm_90)". */
    public String describe() { return dev.describe(); }

    public CachingAllocator.Stats memoryStats() { return dev.allocator.stats(); }

    /** Returns cached, unused device memory to the driver (torch.cuda.empty_cache). */
    public void emptyCache() { dev.allocator.emptyCache(); }

    /** Waits for every kernel queued on this device. */
    public void synchronize() { dev.synchronize(); }

    static UnsupportedOperationException notImplemented(String op) {
        return new UnsupportedOperationException(op + " is not implemented on cuda");
    }

    // ------------------------------------------------------------------ helpers

    private Tensor check(Tensor t) {
        if (t == null) return null;
        if (!(t.storage() instanceof CudaStorage s) || !s.device().equals(dev.device)) {
            throw new IllegalArgumentException("expected all tensors on the same device, found " + t.device() + " and " + dev.device);
        }
        if (t.dtype().isQuantized()) throw notImplemented("a kernel on a " + t.dtype().torchName() + " tensor");
        return t;
    }

    private Tensor alloc(DType dtype, int[] shape, boolean zero) {
        CudaStorage s = new CudaStorage(dev, dtype, Shape.numel(shape));
        if (zero && s.bytes() > 0) dev.memsetAsync(s.ptr(), s.bytes());
        return Tensor.fromStorage(s, shape);
    }

    private Tensor alloc(DType dtype, int[] shape) { return alloc(dtype, shape, false); }

    /** A contiguous F32 tensor with t's values (t itself when it already is one). */
    private Tensor cf(Tensor t) {
        check(t);
        if (t.dtype() == DType.F32 && t.isContiguous()) return t;
        Tensor out = alloc(DType.F32, t.shape());
        copy(t, out);
        return out;
    }

    /** A contiguous tensor of t's dtype. */
    private Tensor cc(Tensor t) {
        check(t);
        if (t.isContiguous()) return t;
        Tensor out = alloc(t.dtype(), t.shape());
        copy(t, out);
        return out;
    }

    private static int lastDim(Tensor t) { return t.dim() == 0 ? 1 : t.shape()[t.dim() - 1]; }

    private static int rowsOf(Tensor t) {
        int c = lastDim(t);
        return c == 0 ? 0 : t.numel() / c;
    }

    private static int[] rowShape(Tensor x) {
        int[] s = x.shape();
        return Arrays.copyOf(s, Math.max(s.length - 1, 0));
    }

    private static int rowGrid(int rows) { return Math.max(1, Math.min(rows, CudaDevice.MAX_GRID)); }

    /**
     * The kernels' Strides struct {ndim, shape[8], s0[8], s1[8], s2[8], s3[8]} for up to four operands'
     * element strides over one shape, with size-1 dims dropped and dims merged where every operand is
     * contiguous across them (order preserved, so a linear index still walks the shape row-major).
     */
    static int[] strides(int[] shape, int[]... ops) {
        List<int[]> dims = new ArrayList<>(); // {size, st0, st1, st2, st3}, innermost first
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] == 1) continue;
            int[] st = new int[4];
            for (int o = 0; o < ops.length; o++) st[o] = ops[o][d];
            if (!dims.isEmpty()) {
                int[] cur = dims.get(dims.size() - 1);
                boolean merge = true;
                for (int o = 0; o < ops.length; o++) merge &= (long) st[o] == (long) cur[1 + o] * cur[0];
                if (merge) {
                    cur[0] *= shape[d];
                    continue;
                }
            }
            dims.add(new int[] {shape[d], st[0], st[1], st[2], st[3]});
        }
        return pack(dims);
    }

    /** As {@link #strides} but every dim kept in place (kernels that address one dim by number). */
    static int[] stridesExact(int[] shape, int[]... ops) {
        List<int[]> dims = new ArrayList<>();
        for (int d = shape.length - 1; d >= 0; d--) {
            int[] e = new int[5];
            e[0] = shape[d];
            for (int o = 0; o < ops.length; o++) e[1 + o] = ops[o][d];
            dims.add(e);
        }
        return pack(dims);
    }

    private static int[] pack(List<int[]> innermostFirst) {
        int n = innermostFirst.size();
        if (n > 8) throw notImplemented("an element-wise kernel over more than 8 non-mergeable dims (" + n + ")");
        int[] s = new int[1 + 5 * 8];
        s[0] = n;
        for (int i = 0; i < n; i++) {
            int[] e = innermostFirst.get(n - 1 - i);
            s[1 + i] = e[0];
            for (int o = 0; o < 4; o++) s[1 + 8 * (o + 1) + i] = e[1 + o];
        }
        return s;
    }

    private void launch1d(Kernel k, long n, Object... args) {
        if (n == 0) return;
        dev.launch(k, CudaDevice.gridFor(n), 1, 1, T, 0, args);
    }

    private void launchRows(Kernel k, int rows, Object... args) {
        if (rows == 0) return;
        dev.launch(k, rowGrid(rows), 1, 1, T, 0, args);
    }

    private void raiseBadIndex(String op, int bound, int dim) {
        Long bad = dev.reportedIndex();
        if (bad != null) {
            throw new IndexOutOfBoundsException(op + "(): index " + bad + " is out of bounds for dimension " + dim + " with size " + bound);
        }
    }

    /** A device tensor with a CPU tensor's values. */
    private Tensor upload(Tensor cpu) {
        return Tensor.fromStorage(fromHost(cpu.dtype(), cpu.backend().toHost(cpu)), cpu.shape());
    }

    /** A CPU tensor with a device tensor's values. */
    private Tensor download(Tensor t) {
        return Tensor.fromStorage(CpuBackend.INSTANCE.fromHost(t.dtype(), toHost(t)), t.shape());
    }

    // ------------------------------------------------------------------ memory

    @Override
    public Storage allocate(DType dtype, int n) {
        CudaStorage s = new CudaStorage(dev, dtype, n);
        if (s.bytes() > 0) dev.memsetAsync(s.ptr(), s.bytes());
        return s;
    }

    @Override
    public Storage fromHost(DType dtype, Object hostArray) {
        CpuStorage host = CpuStorage.wrap(dtype, hostArray); // validates the array type and block sizes
        int n = host.size();
        MemorySegment heap = host.bytes();
        CudaStorage s = new CudaStorage(dev, dtype, n);
        long bytes = s.bytes();
        if (bytes != heap.byteSize()) throw new IllegalArgumentException(dtype + " x " + n + " is " + bytes + " bytes, the array " + heap.byteSize());
        if (bytes == 0) return s;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stage = a.allocate(bytes, 16);
            stage.copyFrom(heap);
            dev.copyHtoD(s.ptr(), stage, bytes);
        }
        return s;
    }

    @Override
    public Object toHost(Tensor t) {
        if (!(t.storage() instanceof CudaStorage)) throw new IllegalArgumentException("toHost of a " + t.device() + " tensor on " + dev.device);
        DType dt = t.dtype();
        Tensor c = t;
        if (dt.isQuantized()) {
            if (!t.isContiguous() || t.storageOffset() % dt.blockSize() != 0 || t.numel() % dt.blockSize() != 0) {
                throw notImplemented("reading a strided or partial-block " + dt.torchName() + " tensor");
            }
        } else if (!t.isContiguous()) {
            c = alloc(dt, t.shape());
            copy(t, c);
        }
        int n = c.numel();
        long bytes = dt.bytes(n);
        CpuStorage out = CpuStorage.allocate(dt, n);
        if (bytes == 0) return out.array();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment stage = a.allocate(bytes, 16);
            dev.copyDtoH(stage, CudaStorage.address(c), bytes);
            MemorySegment.copy(stage, 0, out.bytes(), 0, bytes);
        }
        return out.array();
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        if (!(src.storage() instanceof CudaStorage)) src = upload(src); // a host source (copy_ across devices)
        check(src);
        check(dst);
        int[] shape = dst.shape();
        int[] ss = Shape.broadcastStrides(src.shape(), src.stride(), shape);
        launch1d(Kernel.COPY_CAST, Shape.numel(shape), strides(shape, dst.stride(), ss), Shape.numel(shape), dst, dst.dtype().ordinal(), src,
                src.dtype().ordinal());
    }

    @Override
    public void fill(Tensor dst, double value) {
        check(dst);
        launch1d(Kernel.FILL_STRIDED, dst.numel(), strides(dst.shape(), dst.stride()), dst.numel(), dst, dst.dtype().ordinal(), value);
    }

    // ------------------------------------------------------------------ element-wise

    @Override
    public Tensor unary(UnaryOp op, Tensor a, double p0, double p1, Tensor out) {
        check(a);
        DType dt = op == UnaryOp.LOGICAL_NOT ? DType.BOOL : a.dtype();
        if (out == null) out = alloc(dt, a.shape());
        check(out);
        int n = a.numel();
        int[] s = strides(a.shape(), out.stride(), a.stride());
        if (a.dtype() == DType.F32 && out.dtype() == DType.F32) {
            launch1d(Kernel.UNARY_F32, n, s, n, op.ordinal(), out, a, (float) p0, (float) p1);
        } else {
            launch1d(Kernel.UNARY_GENERIC, n, s, n, op.ordinal(), out, out.dtype().ordinal(), a, a.dtype().ordinal(), p0, p1);
        }
        return out;
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b, DType outType, Tensor out) {
        check(a);
        check(b);
        int[] shape = out != null ? out.shape() : Shape.broadcast(a.shape(), b.shape());
        if (out == null) out = alloc(outType, shape);
        check(out);
        int n = Shape.numel(shape);
        int[] s = strides(shape, out.stride(), Shape.broadcastStrides(a.shape(), a.stride(), shape),
                Shape.broadcastStrides(b.shape(), b.stride(), shape));
        if (a.dtype() == DType.F32 && b.dtype() == DType.F32 && (out.dtype() == DType.F32 || out.dtype() == DType.BOOL)) {
            launch1d(Kernel.BINARY_F32, n, s, n, op.ordinal(), out, out.dtype() == DType.BOOL ? 1 : 0, a, b);
        } else {
            DType compute = DType.promote(a.dtype(), b.dtype());
            boolean integral = !compute.isFloatingPoint() && op != BinaryOp.DIV && op != BinaryOp.POW;
            launch1d(Kernel.BINARY_GENERIC, n, s, n, op.ordinal(), out, out.dtype().ordinal(), a, a.dtype().ordinal(), b, b.dtype().ordinal(),
                    integral ? 1 : 0);
        }
        return out;
    }

    private Tensor convert(Tensor t, DType dt) {
        Tensor out = alloc(dt, t.shape());
        copy(t, out);
        return out;
    }

    @Override
    public Tensor where(Tensor cond, Tensor a, Tensor b) {
        check(cond);
        check(a);
        check(b);
        int[] shape = Shape.broadcast(cond.shape(), Shape.broadcast(a.shape(), b.shape()));
        DType dt = DType.promote(a.dtype(), b.dtype());
        if (a.dim() == 0 && b.dim() != 0) dt = b.dtype().isFloatingPoint() || !a.dtype().isFloatingPoint() ? b.dtype() : a.dtype();
        if (b.dim() == 0 && a.dim() != 0) dt = a.dtype().isFloatingPoint() || !b.dtype().isFloatingPoint() ? a.dtype() : b.dtype();
        Tensor av = a.dtype() == dt ? a : convert(a, dt), bv = b.dtype() == dt ? b : convert(b, dt);
        Tensor c = cond.dtype() == DType.BOOL ? cond : convert(cond, DType.BOOL);
        Tensor out = alloc(dt, shape);
        int n = Shape.numel(shape);
        int[] s = strides(shape, out.stride(), Shape.broadcastStrides(av.shape(), av.stride(), shape),
                Shape.broadcastStrides(bv.shape(), bv.stride(), shape), Shape.broadcastStrides(c.shape(), c.stride(), shape));
        launch1d(Kernel.WHERE_SELECT, n, s, n, out, dt.ordinal(), av, bv, c);
        return out;
    }

    // ------------------------------------------------------------------ reductions

    @Override
    public Tensor reduce(ReduceOp op, Tensor a, int[] dims, boolean keepdim, double correction) {
        check(a);
        int[] shape = a.shape(), st = a.stride();
        int rank = shape.length;
        boolean[] red = new boolean[rank];
        for (int d : dims) red[d] = true;
        int nOut = 0;
        for (int i = 0; i < rank; i++) if (!red[i] || keepdim) nOut++;
        int[] outShape = new int[nOut];
        int outer = 1, r = 1, nk = 0, nr = 0;
        for (int i = 0, j = 0; i < rank; i++) {
            if (!red[i]) { outShape[j++] = shape[i]; outer *= shape[i]; nk++; }
            else { if (keepdim) outShape[j++] = 1; r *= shape[i]; nr++; }
        }
        DType outType = op == ReduceOp.ANY || op == ReduceOp.ALL ? DType.BOOL : a.dtype();
        Tensor out = alloc(outType, outShape);
        if (r == 0 || outer == 0) {
            if (Shape.numel(outShape) > 0) {
                fill(out, op.ofNothing());
            }
            return out;
        }
        int[] ks = new int[nk], kst = new int[nk], rs = new int[nr], rst = new int[nr];
        for (int i = 0, x = 0, y = 0; i < rank; i++) {
            if (red[i]) { rs[y] = shape[i]; rst[y++] = st[i]; }
            else { ks[x] = shape[i]; kst[x++] = st[i]; }
        }
        dev.launch(Kernel.REDUCE_DIMS, rowGrid(outer), 1, 1, T, 0, strides(ks, kst), strides(rs, rst), outer, r, op.ordinal(), out,
                outType.ordinal(), a, a.dtype().ordinal(), correction);
        return out;
    }

    @Override
    public Tensor argReduce(boolean max, Tensor a, int dim, boolean keepdim) {
        check(a);
        int[] shape = a.shape(), st = a.stride();
        if (shape.length == 0) return alloc(DType.I64, new int[0], true);
        if (shape[dim] == 0) throw new IllegalArgumentException((max ? "argmax" : "argmin") + "(): Expected reduction dim " + dim + " to have non-zero size.");
        int rank = shape.length;
        int[] os = new int[rank - 1], ost = new int[rank - 1];
        for (int i = 0, j = 0; i < rank; i++) if (i != dim) { os[j] = shape[i]; ost[j++] = st[i]; }
        int[] outShape = keepdim ? shape.clone() : os;
        if (keepdim) outShape[dim] = 1;
        Tensor out = alloc(DType.I64, outShape);
        int outer = Shape.numel(os);
        if (outer == 0) return out;
        dev.launch(Kernel.ARG_REDUCE, rowGrid(outer), 1, 1, T, 0, strides(os, ost), outer, shape[dim], st[dim], max ? 1 : 0, out, a,
                a.dtype().ordinal());
        return out;
    }

    @Override
    public Tensor[] topk(Tensor a, int k, boolean largest) {
        Tensor[] r = CpuBackend.INSTANCE.topk(download(check(a)), k, largest);
        return new Tensor[] {r[0] == null ? null : upload(r[0]), upload(r[1])}; // the CPU backend leaves values to Tensor.topk's gather
    }

    @Override
    public Tensor cumsum(Tensor a, int dim) { return upload(CpuBackend.INSTANCE.cumsum(download(check(a)), dim)); }

    // ------------------------------------------------------------------ matmul (cuBLAS)

    /** A [..., R, C] operand as cuBLAS sees it: row- or column-major with a leading dimension, and one batch stride. */
    private record Operand(Tensor t, boolean colMajor, int ld, long batchStride) {}

    private Operand operand(Tensor x) {
        int n = x.dim();
        int[] sh = x.shape(), st = x.stride();
        int rows = sh[n - 2], cols = sh[n - 1];
        int sr = rows == 1 ? Math.max(cols, 1) : st[n - 2], sc = cols == 1 ? 1 : st[n - 1];
        boolean rowMajor = sc == 1 && sr >= Math.max(cols, 1);
        boolean colMajor = !rowMajor && (rows == 1 ? 1 : sr) == 1 && sc >= Math.max(rows, 1);
        Long batch = batchStride(sh, st, n - 2);
        if ((rowMajor || colMajor) && batch != null) return new Operand(x, colMajor, rowMajor ? sr : sc, batch);
        Tensor c = alloc(DType.F32, sh);
        copy(x, c);
        return new Operand(c, false, Math.max(cols, 1), (long) rows * cols);
    }

    /** The single element stride between consecutive matrices of the flattened batch dims, or null when there is none. */
    static Long batchStride(int[] sh, int[] st, int nb) {
        long stride = -1, span = 0;
        for (int d = nb - 1; d >= 0; d--) {
            if (sh[d] == 1) continue;
            if (stride < 0) {
                stride = st[d];
                span = (long) st[d] * sh[d];
            } else {
                if (stride == 0 ? st[d] != 0 : st[d] != span) return null;
                span = (long) st[d] * sh[d];
            }
        }
        return Math.max(stride, 0);
    }

    @Override
    public Tensor matmul(Tensor a, Tensor b) {
        check(a);
        check(b);
        if (a.dtype() != DType.F32) a = convert(a, DType.F32);
        if (b.dtype() != DType.F32) b = convert(b, DType.F32);
        int n = a.dim();
        int M = a.size(n - 2), K = a.size(n - 1), N = b.size(b.dim() - 1);
        int[] outShape = a.shape();
        outShape[n - 1] = N;
        int batch = 1;
        for (int i = 0; i < n - 2; i++) batch *= outShape[i];
        if (M == 0 || N == 0 || batch == 0) return alloc(DType.F32, outShape);
        if (K == 0) return alloc(DType.F32, outShape, true);
        Tensor out = alloc(DType.F32, outShape);
        Operand oa = operand(a), ob = operand(b);
        // row-major C[M,N] = A[M,K] B[K,N]  <=>  column-major C^T[N,M] = B^T[N,K] A^T[K,M]
        dev.gemm(ob.colMajor ? Cublas.OP_T : Cublas.OP_N, oa.colMajor ? Cublas.OP_T : Cublas.OP_N,
                N, M, K, CudaStorage.address(ob.t), ob.ld, ob.batchStride, CudaStorage.address(oa.t), oa.ld, oa.batchStride,
                CudaStorage.address(out), N, (long) M * N, batch);
        java.lang.ref.Reference.reachabilityFence(oa);
        java.lang.ref.Reference.reachabilityFence(ob);
        return out;
    }

    // ------------------------------------------------------------------ fused

    @Override
    public Tensor softmax(Tensor x, boolean log) {
        Tensor c = cf(x);
        int C = lastDim(c), R = rowsOf(c);
        Tensor y = alloc(DType.F32, c.shape());
        launchRows(Kernel.SOFTMAX_FWD, R, c, y, R, C, log ? 1 : 0);
        return y;
    }

    @Override
    public Tensor softmaxBackward(Tensor y, Tensor dy, boolean log) {
        Tensor yc = cf(y), gc = cf(dy);
        int C = lastDim(yc), R = rowsOf(yc);
        Tensor dx = alloc(DType.F32, yc.shape());
        launchRows(Kernel.SOFTMAX_BWD, R, yc, gc, dx, R, C, log ? 1 : 0);
        return dx;
    }

    private Tensor cfOrNull(Tensor t) { return t == null ? null : cf(t); }

    @Override
    public Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        Tensor c = cf(x), w = cfOrNull(weight), b = cfOrNull(bias);
        int C = lastDim(c), R = rowsOf(c);
        Tensor y = alloc(DType.F32, c.shape()), mean = alloc(DType.F32, rowShape(c)), rstd = alloc(DType.F32, rowShape(c));
        launchRows(Kernel.LAYERNORM_FWD, R, c, w, b, y, mean, rstd, R, C, (float) eps);
        return new Tensor[] {y, mean, rstd};
    }

    private void normParams(Tensor g, Tensor x, Tensor mean, Tensor rstd, Tensor dw, Tensor db, int R, int C) {
        if ((dw == null && db == null) || R == 0 || C == 0) return;
        dev.launch(Kernel.NORM_BWD_PARAMS, (C + T - 1) / T, Math.min(R, 256), 1, T, 0, g, x, mean, rstd, dw, db, R, C);
    }

    @Override
    public Tensor[] layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor weight, boolean hasBias) {
        Tensor g = cf(dy), c = cf(x), m = cf(mean), r = cf(rstd), w = cfOrNull(weight);
        int C = lastDim(c), R = rowsOf(c);
        Tensor dx = alloc(DType.F32, c.shape());
        Tensor dw = w == null ? null : alloc(DType.F32, new int[] {C}, true);
        Tensor db = hasBias ? alloc(DType.F32, new int[] {C}, true) : null;
        launchRows(Kernel.LAYERNORM_BWD_DX, R, g, c, w, m, r, dx, R, C);
        normParams(g, c, m, r, dw, db, R, C);
        return new Tensor[] {dx, dw, db};
    }

    @Override
    public Tensor[] rmsNorm(Tensor x, Tensor weight, double eps) {
        Tensor c = cf(x), w = cfOrNull(weight);
        int C = lastDim(c), R = rowsOf(c);
        Tensor y = alloc(DType.F32, c.shape()), rstd = alloc(DType.F32, rowShape(c));
        launchRows(Kernel.RMSNORM_FWD, R, c, w, y, rstd, R, C, (float) eps);
        return new Tensor[] {y, rstd};
    }

    @Override
    public Tensor[] rmsNormBackward(Tensor dy, Tensor x, Tensor rstd, Tensor weight) {
        Tensor g = cf(dy), c = cf(x), r = cf(rstd), w = cfOrNull(weight);
        int C = lastDim(c), R = rowsOf(c);
        Tensor dx = alloc(DType.F32, c.shape());
        Tensor dw = w == null ? null : alloc(DType.F32, new int[] {C}, true);
        launchRows(Kernel.RMSNORM_BWD_DX, R, g, c, w, r, dx, R, C);
        normParams(g, c, null, r, dw, null, R, C);
        return new Tensor[] {dx, dw};
    }

    @Override
    public Tensor[] crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing) {
        Tensor c = cf(logits), t = cc(targets);
        int N = c.shape()[0], V = c.shape()[1];
        Tensor loss = alloc(DType.F32, new int[] {N}), lse = alloc(DType.F32, new int[] {N});
        dev.clearError();
        launchRows(Kernel.CROSS_ENTROPY_FWD, N, c, t, t.dtype().ordinal(), loss, lse, N, V, ignoreIndex, (float) labelSmoothing,
                dev.errorFlag(), dev.errorValue());
        raiseBadTarget(V);
        return new Tensor[] {loss, lse};
    }

    private void raiseBadTarget(int V) {
        Long bad = dev.reportedIndex();
        if (bad != null) throw new IllegalArgumentException("cross_entropy: target " + bad + " is out of bounds for " + V + " classes");
    }

    @Override
    public Tensor crossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor gradPerRow, long ignoreIndex, double labelSmoothing) {
        Tensor c = cf(logits), t = cc(targets), l = cf(lse), g = cf(gradPerRow);
        int N = c.shape()[0], V = c.shape()[1];
        Tensor dx = alloc(DType.F32, c.shape());
        dev.clearError();
        launchRows(Kernel.CROSS_ENTROPY_BWD, N, c, t, t.dtype().ordinal(), l, g, g.numel() == 1 ? 0 : 1, dx, N, V, ignoreIndex,
                (float) labelSmoothing, dev.errorFlag(), dev.errorValue());
        raiseBadTarget(V);
        return dx;
    }

    private static int[] s4(Tensor t) { return new int[] {t.stride(0), t.stride(1), t.stride(2), t.stride(3)}; }

    private static final int MAX_SHARED_FLOATS = 48 * 1024 / 4;

    private Tensor maskF32(Tensor mask) { return mask == null ? null : mask.dtype() == DType.F32 ? check(mask) : convert(check(mask), DType.F32); }

    private static int[] maskS4(Tensor m, int B, int H, int Tq, int Tk) {
        return m == null ? new int[4] : Shape.broadcastStrides(m.shape(), m.stride(), new int[] {B, H, Tq, Tk});
    }

    private Tensor f32(Tensor t) { return t.dtype() == DType.F32 ? check(t) : convert(check(t), DType.F32); }

    @Override
    public Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale) {
        q = f32(q);
        k = f32(k);
        v = f32(v);
        int[] qs = q.shape(), ks = k.shape(), vs = v.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2], Dv = vs[3];
        if (Tk > MAX_SHARED_FLOATS) {
            throw notImplemented("attention over more than " + MAX_SHARED_FLOATS + " keys (one query row's scores live in 48 KiB of shared memory; got " + Tk + ")");
        }
        Tensor out = alloc(DType.F32, new int[] {B, H, Tq, Dv}), lse = alloc(DType.F32, new int[] {B, H, Tq});
        Tensor m = maskF32(mask);
        if (B * H * Tq == 0) return new Tensor[] {out, lse};
        dev.launch(Kernel.ATTENTION_FWD, Tq, H, B, 128, Tk * 4, q, s4(q), k, s4(k), v, s4(v), out, s4(out), m, maskS4(m, B, H, Tq, Tk), lse,
                H, Hkv, Tq, Tk, D, Dv, (float) scale, causal ? 1 : 0);
        return new Tensor[] {out, lse};
    }

    @Override
    public Tensor[] attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale, Tensor out,
                                      Tensor lse) {
        q = f32(q);
        k = f32(k);
        v = f32(v);
        dout = f32(dout);
        out = f32(out);
        Tensor l = cf(lse);
        int[] qs = q.shape(), ks = k.shape(), vs = v.shape();
        int B = qs[0], H = qs[1], Tq = qs[2], D = qs[3], Hkv = ks[1], Tk = ks[2], Dv = vs[3];
        if (Tk > MAX_SHARED_FLOATS) throw notImplemented("attention backward over more than " + MAX_SHARED_FLOATS + " keys (got " + Tk + ")");
        Tensor dq = alloc(DType.F32, new int[] {B, H, Tq, D}), dk = alloc(DType.F32, new int[] {B, Hkv, Tk, D}, true);
        Tensor dv = alloc(DType.F32, new int[] {B, Hkv, Tk, Dv}, true);
        if (B * H * Tq == 0 || Tk == 0) return new Tensor[] {dq, dk, dv};
        int[] scratch = {Math.multiplyExact(Math.multiplyExact(B * H, Tq), Tk)};
        Tensor P = alloc(DType.F32, scratch), dS = alloc(DType.F32, scratch);
        Tensor m = maskF32(mask);
        dev.launch(Kernel.ATTENTION_BWD_Q, Tq, H, B, 128, Tk * 4, q, s4(q), k, s4(k), v, s4(v), out, s4(out), dout, s4(dout), m,
                maskS4(m, B, H, Tq, Tk), l, dq, P, dS, H, Hkv, Tq, Tk, D, Dv, (float) scale, causal ? 1 : 0);
        dev.launch(Kernel.ATTENTION_BWD_KV, Tk, Hkv, B, 128, 0, q, s4(q), dout, s4(dout), P, dS, dk, dv, H, Hkv, Tq, Tk, D, Dv, (float) scale,
                causal ? 1 : 0);
        return new Tensor[] {dq, dk, dv};
    }

    // ------------------------------------------------------------------ indexing

    private Tensor indexTensor(Tensor index) {
        check(index);
        if (index.dtype().isFloatingPoint()) throw new IllegalArgumentException("index tensors must be integer, got " + index.dtype().torchName());
        return cc(index);
    }

    @Override
    public Tensor indexSelect(Tensor src, int dim, Tensor index) {
        Tensor s = cc(src), idx = indexTensor(index);
        int[] shape = s.shape();
        int n = shape.length == 0 ? 1 : shape[dim];
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        int k = idx.numel();
        int[] os = shape.clone();
        if (os.length > 0) os[dim] = k;
        Tensor out = alloc(s.dtype(), os);
        long total = (long) outer * k * inner;
        if (total == 0) return out;
        dev.clearError();
        launch1d(Kernel.INDEX_SELECT, total, out, s, (int) s.dtype().bytes(1), idx, idx.dtype().ordinal(), outer, n, k, inner, dev.errorFlag(),
                dev.errorValue());
        raiseBadIndex("index_select", n, dim);
        return out;
    }

    @Override
    public Tensor indexAdd(int[] shape, int dim, Tensor index, Tensor src) {
        Tensor out = alloc(DType.F32, shape, true);
        indexAddInto(out, dim, index, src);
        return out;
    }

    @Override
    public void indexAddInto(Tensor out, int dim, Tensor index, Tensor src) {
        check(out);
        if (out.dtype() != DType.F32 || !out.isContiguous()) {
            throw new IllegalArgumentException("index_add into a tensor needs a contiguous float32 target, got " + out.dtype().torchName()
                    + (out.isContiguous() ? "" : " (not contiguous)"));
        }
        Tensor s = cf(src), idx = indexTensor(index);
        int[] shape = out.shape();
        int n = shape.length == 0 ? 1 : shape[dim];
        int outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        int k = idx.numel();
        long total = (long) outer * k * inner;
        if (total == 0) return;
        dev.clearError();
        launch1d(Kernel.INDEX_ADD, total, out, s, idx, idx.dtype().ordinal(), outer, n, k, inner, dev.errorFlag(), dev.errorValue());
        raiseBadIndex("index_add", n, dim);
    }

    @Override
    public Tensor gather(Tensor src, int dim, Tensor index) {
        check(src);
        Tensor idx = check(index);
        int[] ishape = idx.shape(), sshape = src.shape();
        for (int d = 0; d < ishape.length; d++) {
            if (d != dim && ishape[d] > sshape[d]) {
                throw new IllegalArgumentException("Size does not match at dimension " + d + " expected index " + Arrays.toString(ishape)
                        + " to be smaller than self " + Arrays.toString(sshape) + " apart from dimension " + dim);
            }
        }
        Tensor out = alloc(src.dtype(), ishape);
        int n = idx.numel();
        if (n == 0) return out;
        dev.clearError();
        launch1d(Kernel.GATHER_DIM, n, stridesExact(ishape, src.stride(), idx.stride()), n, dim, sshape[dim], out, src, (int) src.dtype().bytes(1),
                idx, idx.dtype().ordinal(), dev.errorFlag(), dev.errorValue());
        raiseBadIndex("gather", sshape[dim], dim);
        return out;
    }

    @Override
    public Tensor scatterAdd(int[] shape, int dim, Tensor index, Tensor src) {
        Tensor idx = check(index);
        Tensor s = src.dtype() == DType.F32 ? check(src) : convert(check(src), DType.F32);
        Tensor out = alloc(DType.F32, shape, true);
        int n = idx.numel();
        if (n == 0) return out;
        dev.clearError();
        launch1d(Kernel.SCATTER_ADD_DIM, n, stridesExact(idx.shape(), Shape.contiguousStrides(shape), idx.stride(), s.stride()), n, dim, shape[dim],
                out, s, idx, idx.dtype().ordinal(), dev.errorFlag(), dev.errorValue());
        raiseBadIndex("scatter_add", shape[dim], dim);
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

    // ------------------------------------------------------------------ convolution (not implemented)

    @Override
    public Tensor im2col(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) { throw notImplemented("im2col"); }

    @Override
    public Tensor col2im(Tensor cols, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
        throw notImplemented("col2im");
    }

    @Override
    public Tensor[] maxPool2d(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, boolean ceilMode) {
        throw notImplemented("maxPool2d");
    }

    @Override
    public Tensor maxPool2dBackward(Tensor dy, Tensor indices, int[] inputShape) { throw notImplemented("maxPool2dBackward"); }

    // ------------------------------------------------------------------ random (drawn on the host)

    @Override
    public void uniform(Tensor dst, double lo, double hi, Generator gen) {
        check(dst);
        Tensor h = Tensor.fromStorage(CpuStorage.allocate(DType.F32, dst.numel()), dst.shape());
        CpuBackend.INSTANCE.uniform(h, lo, hi, gen);
        copy(h, dst);
    }

    @Override
    public void normal(Tensor dst, double mean, double std, Generator gen) {
        check(dst);
        Tensor h = Tensor.fromStorage(CpuStorage.allocate(DType.F32, dst.numel()), dst.shape());
        CpuBackend.INSTANCE.normal(h, mean, std, gen);
        copy(h, dst);
    }

    @Override
    public Tensor multinomial(Tensor probs, int n, boolean replacement, Generator gen) {
        return upload(CpuBackend.INSTANCE.multinomial(download(check(probs)), n, replacement, gen));
    }

    // ------------------------------------------------------------------ optimizers

    private Tensor optimOperand(Tensor t, String what) {
        check(t);
        if (t.dtype() != DType.F32 || !t.isContiguous()) {
            throw new IllegalArgumentException("optimizer " + what + " must be a contiguous float32 tensor, got " + t.dtype().torchName() + " "
                    + Arrays.toString(t.shape()));
        }
        return t;
    }

    @Override
    public void adamwStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2, double eps,
                          double weightDecay, long step) {
        optimOperand(param, "parameter");
        optimOperand(expAvg, "exp_avg");
        optimOperand(expAvgSq, "exp_avg_sq");
        if (step < 1) throw new IllegalArgumentException("adam: step must be >= 1, got " + step);
        Tensor g = cf(grad);
        int n = param.numel();
        double bc1 = 1.0 - Math.pow(beta1, step), bc2 = 1.0 - Math.pow(beta2, step);
        launch1d(Kernel.ADAMW_STEP, n, param, g, expAvg, expAvgSq, n, (float) (1.0 - lr * weightDecay), weightDecay != 0.0 ? 1 : 0,
                (float) (1.0 - beta1), (float) beta2, (float) (1.0 - beta2), (float) -(lr / bc1), (float) Math.sqrt(bc2), (float) eps);
    }

    @Override
    public Tensor sgdStep(Tensor param, Tensor grad, Tensor momentumBuf, double lr, double momentum, double dampening, double weightDecay,
                          boolean nesterov) {
        optimOperand(param, "parameter");
        Tensor g = cf(grad);
        boolean first = momentumBuf == null && momentum != 0;
        Tensor b = first ? alloc(DType.F32, param.shape(), true) : momentumBuf;
        if (b != null) optimOperand(b, "momentum buffer");
        int n = param.numel();
        launch1d(Kernel.SGD_STEP, n, param, g, b, n, (float) -lr, (float) weightDecay, weightDecay != 0.0 ? 1 : 0, (float) momentum,
                momentum != 0.0 ? 1 : 0, (float) (1.0 - dampening), nesterov ? 1 : 0, first ? 1 : 0);
        return b;
    }
}
