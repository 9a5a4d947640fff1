package jllm.tensor;

import jllm.autograd.AccumulateGrad;
import jllm.autograd.Engine;
import jllm.autograd.Grad;
import jllm.autograd.Node;
import jllm.backend.Backend;
import jllm.backend.Backends;
import jllm.backend.BinaryOp;
import jllm.backend.ReduceOp;
import jllm.backend.Storage;
import jllm.backend.UnaryOp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;
import java.util.Locale;

/**
 * An n-dimensional array on a device, with PyTorch's semantics: a view (offset, shape, strides) into
 * a shared {@link Storage}, broadcasting element-wise ops, reductions, matmul, indexing, and
 * reverse-mode autograd ({@link #backward()}). Method names follow PyTorch in Java casing; in-place
 * variants end in an underscore ({@code add_}).
 */
public final class Tensor {
    final Storage storage;
    final int offset;
    final int[] shape;
    final int[] strides;
    /** The tensor this one is a view of (null for tensors that own their storage). */
    final Tensor base;

    private boolean requiresGrad;
    private Tensor grad;
    private Node gradFn;
    private AccumulateGrad accumulator;
    private String name;

    Tensor(Storage storage, int offset, int[] shape, int[] strides, Tensor base) {
        this.storage = storage;
        this.offset = offset;
        this.shape = shape;
        this.strides = strides;
        this.base = base;
    }

    /** A contiguous tensor over the whole of a storage. */
    public static Tensor fromStorage(Storage storage, int... shape) {
        if (Shape.numel(shape) != storage.size()) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " needs " + Shape.numel(shape)
                    + " elements but the storage has " + storage.size());
        }
        return new Tensor(storage, 0, shape.clone(), Shape.contiguousStrides(shape), null);
    }

    /** A strided view over a storage (for backends and loaders). */
    public static Tensor strided(Storage storage, int offset, int[] shape, int[] strides) {
        return new Tensor(storage, offset, shape.clone(), strides.clone(), null);
    }

    // ------------------------------------------------------------------ metadata

    public int[] shape() { return shape.clone(); }

    public int size(int dim) { return shape[Shape.wrapDim(dim, shape.length)]; }

    public int[] stride() { return strides.clone(); }

    public int stride(int dim) { return strides[Shape.wrapDim(dim, shape.length)]; }

    public int storageOffset() { return offset; }

    public int dim() { return shape.length; }

    public int numel() { return Shape.numel(shape); }

    public DType dtype() { return storage.dtype(); }

    public Device device() { return storage.device(); }

    public Storage storage() { return storage; }

    public Backend backend() { return Backends.get(storage.device()); }

    public boolean isContiguous() { return Shape.isContiguous(shape, strides); }

    public boolean isView() { return base != null; }

    /** The version counter of the storage (bumped by in-place ops). */
    public int version() { return storage.version(); }

    public String name() { return name; }

    public Tensor name(String n) { this.name = n; return this; }

    // ------------------------------------------------------------------ autograd surface

    public boolean requiresGrad() { return requiresGrad; }

    /** Sets requires_grad on a leaf (returns this, like {@code requires_grad_()}). */
    public Tensor requiresGrad(boolean on) {
        if (gradFn != null && !on) {
            throw new IllegalStateException("you can only change requires_grad flags of leaf variables. If you want to use "
                    + "a computed variable in a subgraph that doesn't require differentiation use detach().");
        }
        if (on && !dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("only Tensors of floating point dtype can require gradients, got " + dtype().torchName());
        }
        this.requiresGrad = on;
        return this;
    }

    public Tensor grad() { return grad; }

    public void setGrad(Tensor g) {
        if (g != null) {
            if (!Arrays.equals(g.shape, shape)) {
                throw new IllegalArgumentException("assigned grad has data of shape " + Arrays.toString(g.shape)
                        + " but the tensor has shape " + Arrays.toString(shape));
            }
            checkSameDevice(this, g);
        }
        this.grad = g;
    }

    public Node gradFn() { return gradFn; }

    public boolean isLeaf() { return gradFn == null; }

    /** The node gradients flow into: the op that produced this tensor, or the leaf's accumulator. */
    public Node gradNode() {
        if (gradFn != null) return gradFn;
        if (!requiresGrad) return null;
        if (accumulator == null) accumulator = new AccumulateGrad(this);
        return accumulator;
    }

    /** A hook that sees, and may replace (non-null return), the gradient w.r.t. this tensor. */
    public Tensor registerHook(UnaryOperator<Tensor> hook) {
        if (!requiresGrad) throw new IllegalStateException("cannot register a hook on a tensor that doesn't require gradient");
        gradNode().registerPreHook(hook);
        return this;
    }

    /** A hook run after a leaf's gradient has been accumulated into {@link #grad()}. */
    public Tensor registerPostAccumulateGradHook(Consumer<Tensor> hook) {
        if (!isLeaf() || !requiresGrad) {
            throw new IllegalStateException("post accumulate grad hooks can only be registered on leaf tensors that require grad");
        }
        ((AccumulateGrad) gradNode()).registerPostAccumulateHook(hook);
        return this;
    }

    /** Makes a non-leaf tensor keep its gradient in {@link #grad()} after backward. */
    public Tensor retainGrad() {
        if (isLeaf()) return this;
        retainOn(gradFn, this);
        return this;
    }

    private static void retainOn(Node n, Tensor t) {
        n.registerPreHook(g -> {
            Tensor cur = t.grad;
            t.grad = cur == null ? g.clone() : cur.add(g);
            return null;
        });
    }

    public void backward() { Engine.backward(this, null, false); }

    public void backward(Tensor gradient) { Engine.backward(this, gradient, false); }

    public void backward(Tensor gradient, boolean retainGraph) { Engine.backward(this, gradient, retainGraph); }

    /** A tensor sharing this one's data, cut from the graph. */
    public Tensor detach() {
        // not a view for autograd: in-place ops on it must not rewrite the history of the tensor it came from
        return new Tensor(storage, offset, shape, strides, null);
    }

    /** True when grad mode is on and any of ts requires a gradient. */
    public static boolean needsGrad(Tensor... ts) {
        if (!Grad.isEnabled()) return false;
        for (Tensor t : ts) if (t != null && t.requiresGrad) return true;
        return false;
    }

    /**
     * Records {@code out} as produced by a custom op on {@code inputs} (the equivalent of a
     * {@code torch.autograd.Function}): when grad mode is on and any input requires a gradient,
     * {@code out} gets a node whose backward maps the output gradient and the version-checked
     * {@code saved} tensors to one gradient per input (null where none). Returns out.
     * The backward should return new tensors, the incoming gradient itself, views of it, or saved
     * tensors: any other returned tensor is treated as owned by the engine, which may sum further
     * gradients into it in place or hand it to a leaf's {@code grad} without a copy.
     */
    public static Tensor record(Tensor out, String name, Tensor[] inputs, Tensor[] saved, Node.Backward fn) {
        if (!needsGrad(inputs)) return out;
        Node[] next = new Node[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            Tensor in = inputs[i];
            next[i] = in != null && in.requiresGrad ? in.gradNode() : null;
        }
        out.gradFn = new Node(name, next, fn, saved);
        out.requiresGrad = true;
        return out;
    }

    static Tensor[] in(Tensor... ts) { return ts; }

    static final Tensor[] NONE = new Tensor[0];

    // ------------------------------------------------------------------ creation

    public static Tensor of(float[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape;
        checkCount(data.length, s);
        return fromStorage(Backends.get(Device.CPU).fromHost(DType.F32, data.clone()), s);
    }

    public static Tensor of(float[][] rows) {
        int r = rows.length, c = r == 0 ? 0 : rows[0].length;
        float[] d = new float[r * c];
        for (int i = 0; i < r; i++) {
            if (rows[i].length != c) throw new IllegalArgumentException("ragged rows: row " + i + " has " + rows[i].length + " elements, row 0 has " + c);
            System.arraycopy(rows[i], 0, d, i * c, c);
        }
        return of(d, r, c);
    }

    public static Tensor of(double[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape;
        checkCount(data.length, s);
        return fromStorage(Backends.get(Device.CPU).fromHost(DType.F64, data.clone()), s);
    }

    public static Tensor of(long[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape;
        checkCount(data.length, s);
        return fromStorage(Backends.get(Device.CPU).fromHost(DType.I64, data.clone()), s);
    }

    public static Tensor of(int[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape;
        checkCount(data.length, s);
        return fromStorage(Backends.get(Device.CPU).fromHost(DType.I32, data.clone()), s);
    }

    public static Tensor of(boolean[] data, int... shape) {
        int[] s = shape.length == 0 ? new int[] {data.length} : shape;
        checkCount(data.length, s);
        byte[] b = new byte[data.length];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (data[i] ? 1 : 0);
        return fromStorage(Backends.get(Device.CPU).fromHost(DType.BOOL, b), s);
    }

    private static void checkCount(int n, int[] shape) {
        if (Shape.numel(shape) != n) {
            throw new IllegalArgumentException(n + " values cannot fill a tensor of shape " + Arrays.toString(shape));
        }
    }

    /** A 0-dim F32 tensor. */
    public static Tensor scalar(double v) { return full(new int[0], v, DType.F32, Device.CPU); }

    public static Tensor scalar(double v, DType dtype, Device device) { return full(new int[0], v, dtype, device); }

    public static Tensor empty(int[] shape, DType dtype, Device device) {
        if (dtype.isQuantized()) checkBlockRows(dtype, shape);
        return fromStorage(Backends.get(device).allocate(dtype, Shape.numel(shape)), shape);
    }

    private static void checkBlockRows(DType dtype, int[] shape) {
        if (shape.length == 0 || shape[shape.length - 1] % dtype.blockSize() != 0) {
            throw new IllegalArgumentException("a " + dtype.torchName() + " tensor stores rows of whole " + dtype.blockSize()
                    + "-element blocks: its last dimension must be a multiple of " + dtype.blockSize() + ", got shape " + Arrays.toString(shape));
        }
    }

    /**
     * A CPU tensor holding a copy of llama.cpp blocks (Q8_0 or Q4_0, see {@link DType});
     * the last dimension must be a multiple of the block size and the array exactly the blocks of shape.
     */
    public static Tensor ofBlocks(DType dtype, byte[] blocks, int... shape) {
        if (!dtype.isQuantized()) throw new IllegalArgumentException(dtype.torchName() + " is not a block-quantized type");
        checkBlockRows(dtype, shape);
        long need = dtype.bytes(Shape.numel(shape));
        if (need != blocks.length) {
            throw new IllegalArgumentException(dtype.torchName() + " tensor of shape " + Arrays.toString(shape) + " needs " + need
                    + " bytes of blocks, got " + blocks.length);
        }
        return fromStorage(Backends.get(Device.CPU).fromHost(dtype, blocks), shape);
    }

    public static Tensor zeros(int... shape) { return zeros(shape, DType.F32, Device.CPU); }

    public static Tensor zeros(int[] shape, DType dtype, Device device) { return empty(shape, dtype, device); }

    public static Tensor ones(int... shape) { return full(shape, 1, DType.F32, Device.CPU); }

    public static Tensor ones(int[] shape, DType dtype, Device device) { return full(shape, 1, dtype, device); }

    public static Tensor full(int[] shape, double value) { return full(shape, value, DType.F32, Device.CPU); }

    public static Tensor full(int[] shape, double value, DType dtype, Device device) {
        Tensor t = empty(shape, dtype, device);
        if (value != 0) t.backend().fill(t, value);
        return t;
    }

    public static Tensor zerosLike(Tensor t) { return zeros(t.shape, t.dtype(), t.device()); }

    public static Tensor onesLike(Tensor t) { return ones(t.shape, t.dtype(), t.device()); }

    public static Tensor fullLike(Tensor t, double v) { return full(t.shape, v, t.dtype(), t.device()); }

    public static Tensor randLike(Tensor t) { return rand(t.shape, Generator.defaultGenerator(), t.device()); }

    public static Tensor randnLike(Tensor t) { return randn(t.shape, Generator.defaultGenerator(), t.device()); }

    /** [0, end) as I64, like {@code torch.arange(end)}. */
    public static Tensor arange(long end) { return arange(0, end, 1); }

    /** arange on a device (positions for a device model). */
    public static Tensor arange(long start, long end, long step, Device device) {
        Tensor t = arange(start, end, step);
        return device.equals(Device.CPU) ? t : t.to(device);
    }

    public static Tensor arange(long start, long end, long step) {
        if (step == 0) throw new IllegalArgumentException("arange: step must be nonzero");
        long n = Math.max(0, (end - start + step + (step > 0 ? -1 : 1)) / step);
        long[] d = new long[(int) n];
        for (int i = 0; i < n; i++) d[i] = start + i * step;
        return of(d, (int) n);
    }

    /** Floating arange, like {@code torch.arange(0.0, 1.0, 0.1)}: ceil((end-start)/step) F32 values. */
    public static Tensor arange(double start, double end, double step) {
        if (step == 0) throw new IllegalArgumentException("arange: step must be nonzero");
        int n = (int) Math.max(0, Math.ceil((end - start) / step));
        float[] d = new float[n];
        for (int i = 0; i < n; i++) d[i] = (float) (start + i * step);
        return of(d, n);
    }

    public static Tensor linspace(double start, double end, int steps) {
        float[] d = new float[steps];
        double step = steps > 1 ? (end - start) / (steps - 1) : 0;
        for (int i = 0; i < steps; i++) {
            d[i] = (float) (i < steps / 2 ? start + step * i : end - step * (steps - 1 - i));
        }
        return of(d, steps);
    }

    public static Tensor eye(int n) { return eye(n, n); }

    public static Tensor eye(int n, int m) {
        float[] d = new float[n * m];
        for (int i = 0; i < Math.min(n, m); i++) d[i * m + i] = 1;
        return of(d, n, m);
    }

    /** Uniform [0,1) from the default generator. */
    public static Tensor rand(int... shape) { return rand(shape, Generator.defaultGenerator()); }

    public static Tensor rand(int[] shape, Generator gen) { return rand(shape, gen, Device.CPU); }

    /** Uniform [0,1) F32 drawn by the device's own kernel, so a mask for a device tensor never crosses from the host. */
    public static Tensor rand(int[] shape, Generator gen, Device device) {
        Tensor t = zeros(shape, DType.F32, device);
        t.backend().uniform(t, 0, 1, gen);
        return t;
    }

    public static Tensor randn(int... shape) { return randn(shape, Generator.defaultGenerator()); }

    public static Tensor randn(int[] shape, Generator gen) { return randn(shape, gen, Device.CPU); }

    /** Standard normal F32 drawn by the device's own kernel. */
    public static Tensor randn(int[] shape, Generator gen, Device device) {
        Tensor t = zeros(shape, DType.F32, device);
        t.backend().normal(t, 0, 1, gen);
        return t;
    }

    /** Integers uniform in [low, high) as I64. */
    public static Tensor randint(long low, long high, int[] shape) { return randint(low, high, shape, Generator.defaultGenerator()); }

    public static Tensor randint(long low, long high, int[] shape, Generator gen) {
        if (high <= low) throw new IllegalArgumentException("randint: expected low < high, got low=" + low + " high=" + high);
        long range = high - low;
        long[] d = new long[Shape.numel(shape)];
        for (int i = 0; i < d.length; i++) {
            d[i] = low + (range <= Integer.MAX_VALUE ? gen.nextInt((int) range) : Math.floorMod(gen.nextLong(), range));
        }
        return of(d, shape);
    }

    /** A random permutation of [0, n) as I64. */
    public static Tensor randperm(int n, Generator gen) {
        long[] d = new long[n];
        for (int i = 0; i < n; i++) d[i] = i;
        for (int i = n - 1; i > 0; i--) {
            int j = gen.nextInt(i + 1);
            long t = d[i]; d[i] = d[j]; d[j] = t;
        }
        return of(d, n);
    }

    // ------------------------------------------------------------------ data access

    /** The single element of a one-element tensor. */
    public double item() {
        if (numel() != 1) {
            throw new IllegalStateException("a Tensor with " + numel() + " elements cannot be converted to a scalar");
        }
        return toDoubleArray()[0];
    }

    public float[] toFloatArray() { return (float[]) to(DType.F32).contiguousData(); }

    public double[] toDoubleArray() { return (double[]) to(DType.F64).contiguousData(); }

    public long[] toLongArray() { return (long[]) to(DType.I64).contiguousData(); }

    public int[] toIntArray() { return (int[]) to(DType.I32).contiguousData(); }

    /** A host array (float[], long[], ...) of this tensor's dtype in row-major order. */
    public Object toHostArray() { return backend().toHost(this); }

    private Object contiguousData() { return backend().toHost(this); }

    /** One element, by index per dim (negative indices count from the end). */
    public double get(int... idx) {
        if (idx.length != shape.length) {
            throw new IllegalArgumentException("get: expected " + shape.length + " indices, got " + idx.length);
        }
        Tensor t = this;
        for (int i = idx.length - 1; i >= 0; i--) t = t.select(i, idx[i]);
        return t.item();
    }

    // ------------------------------------------------------------------ device and dtype

    static void checkSameDevice(Tensor a, Tensor b) {
        if (!a.device().equals(b.device())) {
            throw new IllegalArgumentException("Expected all tensors to be on the same device, but found at least two devices, "
                    + a.device() + " and " + b.device() + "!");
        }
    }

    /** Moves to a device through the target backend (returns this when already there). */
    public Tensor to(Device device) {
        if (device.equals(device())) return this;
        Backend dst = Backends.get(device);
        Tensor out = fromStorage(dst.fromHost(dtype(), backend().toHost(this)), shape);
        Device from = device();
        return record(out, "ToCopyBackward0", in(this), NONE, (g, s) -> new Tensor[] {g.to(from)});
    }

    public Tensor to(String device) { return to(Device.parse(device)); }

    public Tensor cpu() { return to(Device.CPU); }

    /** Converts the element type (returns this when it already has it). */
    public Tensor to(DType dtype) {
        if (dtype == dtype()) return this;
        Tensor out = empty(shape, dtype, device());
        backend().copy(this, out);
        DType from = dtype();
        if (!dtype.isFloatingPoint()) return out;
        return record(out, "ToCopyBackward0", in(this), NONE, (g, s) -> new Tensor[] {g.to(from)});
    }

    public Tensor to(Device device, DType dtype) { return to(dtype).to(device); }

    public Tensor toFloat() { return to(DType.F32); }

    // ------------------------------------------------------------------ views

    private Tensor viewOf(int off, int[] shp, int[] str) {
        return new Tensor(storage, off, shp, str, base != null ? base : this);
    }

    /** A view with a new shape (one entry may be -1); fails when the strides do not allow it. */
    public Tensor view(int... newShape) {
        int[] s = Shape.inferSize(newShape, numel());
        int[] st = Shape.viewStrides(shape, strides, s);
        if (st == null) {
            throw new IllegalStateException("view size is not compatible with input tensor's size and stride (at least one "
                    + "dimension spans across two contiguous subspaces); shape " + Arrays.toString(shape) + " strides "
                    + Arrays.toString(strides) + " -> " + Arrays.toString(s) + ". Use reshape(...) instead.");
        }
        int[] inShape = shape;
        return record(viewOf(offset, s, st), "ViewBackward0", in(this), NONE, (g, sv) -> new Tensor[] {g.reshape(inShape)});
    }

    /** view() when possible, otherwise a contiguous copy with the new shape. */
    public Tensor reshape(int... newShape) {
        int[] s = Shape.inferSize(newShape, numel());
        if (Arrays.equals(s, shape)) return this;
        if (Shape.viewStrides(shape, strides, s) != null) return view(s);
        return contiguous().view(s);
    }

    public Tensor flatten() { return reshape(-1); }

    public Tensor flatten(int startDim, int endDim) {
        int sd = Shape.wrapDim(startDim, dim()), ed = Shape.wrapDim(endDim, dim());
        if (dim() == 0) return reshape(1);
        if (sd > ed) throw new IllegalArgumentException("flatten() has invalid args: start_dim cannot come after end_dim");
        int[] ns = new int[dim() - (ed - sd)];
        int k = 0;
        for (int i = 0; i < sd; i++) ns[k++] = shape[i];
        int p = 1;
        for (int i = sd; i <= ed; i++) p *= shape[i];
        ns[k++] = p;
        for (int i = ed + 1; i < dim(); i++) ns[k++] = shape[i];
        return reshape(ns);
    }

    /** Splits dim into the given sizes (one may be -1), like {@code unflatten}. */
    public Tensor unflatten(int dim, int... sizes) {
        int d = Shape.wrapDim(dim, dim());
        int[] sz = Shape.inferSize(sizes, shape[d]);
        int[] ns = new int[dim() - 1 + sz.length];
        int k = 0;
        for (int i = 0; i < d; i++) ns[k++] = shape[i];
        for (int s : sz) ns[k++] = s;
        for (int i = d + 1; i < dim(); i++) ns[k++] = shape[i];
        return view(ns);
    }

    public Tensor transpose(int d0, int d1) {
        int a = Shape.wrapDim(d0, dim()), b = Shape.wrapDim(d1, dim());
        if (a == b) return this;
        int[] s = shape.clone(), st = strides.clone();
        s[a] = shape[b]; s[b] = shape[a];
        st[a] = strides[b]; st[b] = strides[a];
        return record(viewOf(offset, s, st), "TransposeBackward0", in(this), NONE, (g, sv) -> new Tensor[] {g.transpose(a, b)});
    }

    /** Transpose of a 2-D tensor (or identity for 0/1-D), like {@code t()}. */
    public Tensor t() {
        if (dim() > 2) throw new IllegalStateException("t() expects a tensor with <= 2 dimensions, but self is " + dim() + "D");
        return dim() < 2 ? this : transpose(0, 1);
    }

    /** Transposes the last two dims ({@code mT}). */
    public Tensor mT() { return transpose(-2, -1); }

    public Tensor permute(int... dims) {
        if (dims.length != dim()) {
            throw new IllegalArgumentException("permute: number of dims don't match (" + dims.length + " vs " + dim() + ")");
        }
        int[] p = new int[dims.length];
        boolean[] seen = new boolean[dims.length];
        int[] s = new int[dims.length], st = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            p[i] = Shape.wrapDim(dims[i], dim());
            if (seen[p[i]]) throw new IllegalArgumentException("permute: repeated dim " + dims[i]);
            seen[p[i]] = true;
            s[i] = shape[p[i]];
            st[i] = strides[p[i]];
        }
        int[] inv = new int[p.length];
        for (int i = 0; i < p.length; i++) inv[p[i]] = i;
        return record(viewOf(offset, s, st), "PermuteBackward0", in(this), NONE, (g, sv) -> new Tensor[] {g.permute(inv)});
    }

    /** Elements start..start+length-1 along dim (a view). */
    public Tensor narrow(int dim, int start, int length) {
        int d = Shape.wrapDim(dim, dim());
        int st = start < 0 ? start + shape[d] : start;
        if (st < 0 || length < 0 || st + length > shape[d]) {
            throw new IndexOutOfBoundsException("narrow: start (" + start + ") + length (" + length
                    + ") exceeds dimension size (" + shape[d] + ") of dim " + d);
        }
        return slice(d, st, st + length, 1);
    }

    /** Python's {@code x[..., start:end:step, ...]} on one dim; start/end are clamped like Python slices. */
    public Tensor slice(int dim, int start, int end, int step) {
        int d = Shape.wrapDim(dim, dim());
        if (step <= 0) throw new IllegalArgumentException("slice step must be positive, got " + step);
        int n = shape[d];
        int s = start < 0 ? Math.max(start + n, 0) : Math.min(start, n);
        int e = end < 0 ? Math.max(end + n, 0) : Math.min(end, n);
        int len = e > s ? (e - s + step - 1) / step : 0;
        int[] ns = shape.clone(), nst = strides.clone();
        ns[d] = len;
        nst[d] = strides[d] * step;
        int[] inShape = shape;
        DType dt = dtype();
        Device dev = device();
        final int ss = s;
        Tensor out = record(viewOf(offset + s * strides[d], ns, nst), "SliceBackward0", in(this), NONE, (g, sv) -> {
            Tensor z = zeros(inShape, dt, dev);
            z.backend().copy(g, z.slice(d, ss, ss + len * step, step));
            return new Tensor[] {z};
        });
        // the pieces of one tensor (split, chunk, q/k/v of a fused projection) sum into one gradient
        if (out.gradFn != null) out.gradFn.accumulateInto((g, target) -> target.slice(d, ss, ss + len * step, step).add_(g));
        return out;
    }

    public Tensor slice(int dim, int start, int end) { return slice(dim, start, end, 1); }

    /** Removes dim by taking index i (a view). */
    public Tensor select(int dim, int index) {
        int d = Shape.wrapDim(dim, dim());
        int i = index < 0 ? index + shape[d] : index;
        if (i < 0 || i >= shape[d]) {
            throw new IndexOutOfBoundsException("index " + index + " is out of bounds for dimension " + d + " with size " + shape[d]);
        }
        int[] ns = new int[dim() - 1], nst = new int[dim() - 1];
        for (int k = 0, j = 0; k < dim(); k++) {
            if (k == d) continue;
            ns[j] = shape[k];
            nst[j++] = strides[k];
        }
        int[] inShape = shape;
        DType dt = dtype();
        Device dev = device();
        return record(viewOf(offset + i * strides[d], ns, nst), "SelectBackward0", in(this), NONE, (g, sv) -> {
            Tensor z = zeros(inShape, dt, dev);
            z.backend().copy(g, z.select(d, i));
            return new Tensor[] {z};
        });
    }

    /** Broadcasts size-1 dims to larger sizes without copying (-1 keeps a size). */
    public Tensor expand(int... sizes) {
        if (sizes.length < dim()) {
            throw new IllegalArgumentException("expand: the number of sizes provided (" + sizes.length
                    + ") must be greater or equal to the number of dimensions in the tensor (" + dim() + ")");
        }
        int[] ns = new int[sizes.length], nst = new int[sizes.length];
        int off = sizes.length - dim();
        for (int i = 0; i < sizes.length; i++) {
            int si = i - off;
            int cur = si >= 0 ? shape[si] : 1;
            int want = sizes[i] == -1 ? cur : sizes[i];
            if (si < 0 && sizes[i] == -1) throw new IllegalArgumentException("expand: -1 not allowed in a leading, non-existing dimension");
            if (cur != want && cur != 1) {
                throw new IllegalArgumentException("The expanded size of the tensor (" + want + ") must match the existing size ("
                        + cur + ") at non-singleton dimension " + i + ".  Target sizes: " + Arrays.toString(sizes)
                        + ".  Tensor sizes: " + Arrays.toString(shape));
            }
            ns[i] = want;
            nst[i] = si < 0 || (cur == 1 && want != 1) ? 0 : strides[si];
        }
        if (Arrays.equals(ns, shape)) return this;
        int[] inShape = shape;
        return record(viewOf(offset, ns, nst), "ExpandBackward0", in(this), NONE, (g, sv) -> new Tensor[] {g.sumTo(inShape)});
    }

    public Tensor expandAs(Tensor other) { return expand(other.shape); }

    public Tensor unsqueeze(int dim) {
        int d = Shape.wrapDim(dim, dim() + 1);
        int[] ns = new int[dim() + 1], nst = new int[dim() + 1];
        for (int i = 0, j = 0; i < ns.length; i++) {
            if (i == d) {
                ns[i] = 1;
                nst[i] = d < dim() ? strides[d] * shape[d] : 1;
            } else {
                ns[i] = shape[j];
                nst[i] = strides[j++];
            }
        }
        return record(viewOf(offset, ns, nst), "UnsqueezeBackward0", in(this), NONE, (g, sv) -> new Tensor[] {g.squeeze(d)});
    }

    /** Removes all size-1 dims. */
    public Tensor squeeze() {
        int k = 0;
        for (int s : shape) if (s != 1) k++;
        int[] ns = new int[k], nst = new int[k];
        for (int i = 0, j = 0; i < dim(); i++) {
            if (shape[i] != 1) {
                ns[j] = shape[i];
                nst[j++] = strides[i];
            }
        }
        int[] inShape = shape;
        return record(viewOf(offset, ns, nst), "SqueezeBackward0", in(this), NONE, (g, sv) -> new Tensor[] {g.reshape(inShape)});
    }

    /** Removes dim if its size is 1 (otherwise returns this, like PyTorch). */
    public Tensor squeeze(int dim) {
        if (dim() == 0) return this;
        int d = Shape.wrapDim(dim, dim());
        if (shape[d] != 1) return this;
        int[] ns = new int[dim() - 1], nst = new int[dim() - 1];
        for (int i = 0, j = 0; i < dim(); i++) {
            if (i == d) continue;
            ns[j] = shape[i];
            nst[j++] = strides[i];
        }
        return record(viewOf(offset, ns, nst), "SqueezeBackward1", in(this), NONE, (g, sv) -> new Tensor[] {g.unsqueeze(d)});
    }

    /** A contiguous tensor with the same values (this when already contiguous). */
    public Tensor contiguous() {
        if (isContiguous()) return this;
        return cloneImpl("CloneBackward0");
    }

    /** A copy with its own storage. */
    @Override
    public Tensor clone() { return cloneImpl("CloneBackward0"); }

    private Tensor cloneImpl(String nodeName) {
        Tensor out = empty(shape, dtype(), device());
        backend().copy(this, out);
        return record(out, nodeName, in(this), NONE, (g, s) -> new Tensor[] {g});
    }

    /** Splits into pieces of splitSize along dim (the last may be smaller). */
    public List<Tensor> split(int splitSize, int dim) {
        int d = Shape.wrapDim(dim, dim());
        if (splitSize <= 0) throw new IllegalArgumentException("split_size must be positive, got " + splitSize);
        List<Tensor> out = new ArrayList<>();
        for (int s = 0; s < shape[d]; s += splitSize) out.add(narrow(d, s, Math.min(splitSize, shape[d] - s)));
        if (shape[d] == 0) out.add(this);
        return out;
    }

    /** Splits into pieces of the given sizes along dim. */
    public List<Tensor> split(int[] sizes, int dim) {
        int d = Shape.wrapDim(dim, dim());
        int total = 0;
        for (int s : sizes) total += s;
        if (total != shape[d]) {
            throw new IllegalArgumentException("split_with_sizes expects split_sizes to sum exactly to " + shape[d]
                    + " (input tensor's size at dimension " + d + "), but got split_sizes=" + Arrays.toString(sizes));
        }
        List<Tensor> out = new ArrayList<>();
        int s = 0;
        for (int sz : sizes) {
            out.add(narrow(d, s, sz));
            s += sz;
        }
        return out;
    }

    /** Splits into n chunks of ceil(size/n) along dim, like {@code torch.chunk}. */
    public List<Tensor> chunk(int chunks, int dim) {
        if (chunks <= 0) throw new IllegalArgumentException("chunk expects `chunks` to be greater than 0, got: " + chunks);
        int d = Shape.wrapDim(dim, dim());
        int size = (shape[d] + chunks - 1) / chunks;
        return split(Math.max(size, 1), d);
    }

    public List<Tensor> unbind(int dim) {
        int d = Shape.wrapDim(dim, dim());
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < shape[d]; i++) out.add(select(d, i));
        return out;
    }

    // ------------------------------------------------------------------ element-wise

    private Tensor unaryOp(UnaryOp op, double p0, double p1, String nodeName, Node.Backward bw, boolean saveIn, boolean saveOut) {
        if (!dtype().isFloatingPoint() && op != UnaryOp.NEG && op != UnaryOp.ABS && op != UnaryOp.LOGICAL_NOT
                && op != UnaryOp.CLAMP && op != UnaryOp.SIGN && op != UnaryOp.ADD_SCALAR && op != UnaryOp.MUL_SCALAR
                && op != UnaryOp.SQUARE && op != UnaryOp.RELU) {
            return to(DType.F32).unaryOp(op, p0, p1, nodeName, bw, saveIn, saveOut);
        }
        Tensor out = backend().unary(op, this, p0, p1, null);
        if (bw == null || !needsGrad(this)) return out;
        Tensor[] saved = saveIn && saveOut ? in(this, out) : saveIn ? in(this) : saveOut ? in(out) : NONE;
        return record(out, nodeName, in(this), saved, bw);
    }

    public Tensor neg() { return unaryOp(UnaryOp.NEG, 0, 0, "NegBackward0", (g, s) -> new Tensor[] {g.neg()}, false, false); }

    public Tensor exp() { return unaryOp(UnaryOp.EXP, 0, 0, "ExpBackward0", (g, s) -> new Tensor[] {g.mul(s[0])}, false, true); }

    public Tensor log() { return unaryOp(UnaryOp.LOG, 0, 0, "LogBackward0", (g, s) -> new Tensor[] {g.div(s[0])}, true, false); }

    public Tensor sqrt() {
        return unaryOp(UnaryOp.SQRT, 0, 0, "SqrtBackward0", (g, s) -> new Tensor[] {g.div(s[0].mul(2))}, false, true);
    }

    public Tensor rsqrt() {
        return unaryOp(UnaryOp.RSQRT, 0, 0, "RsqrtBackward0",
                (g, s) -> new Tensor[] {g.mul(s[0].pow(3)).mul(-0.5)}, false, true);
    }

    public Tensor abs() { return unaryOp(UnaryOp.ABS, 0, 0, "AbsBackward0", (g, s) -> new Tensor[] {g.mul(s[0].sign())}, true, false); }

    public Tensor sign() { return unaryOp(UnaryOp.SIGN, 0, 0, "SignBackward0", (g, s) -> new Tensor[] {zerosLike(g)}, false, false); }

    public Tensor sin() { return unaryOp(UnaryOp.SIN, 0, 0, "SinBackward0", (g, s) -> new Tensor[] {g.mul(s[0].cos())}, true, false); }

    public Tensor cos() {
        return unaryOp(UnaryOp.COS, 0, 0, "CosBackward0", (g, s) -> new Tensor[] {g.mul(s[0].sin()).neg()}, true, false);
    }

    public Tensor tanh() {
        return unaryOp(UnaryOp.TANH, 0, 0, "TanhBackward0",
                (g, s) -> new Tensor[] {binaryRaw(BinaryOp.TANH_BACKWARD_FROM_Y, g, s[0])}, false, true);
    }

    public Tensor sigmoid() {
        return unaryOp(UnaryOp.SIGMOID, 0, 0, "SigmoidBackward0",
                (g, s) -> new Tensor[] {binaryRaw(BinaryOp.SIGMOID_BACKWARD_FROM_Y, g, s[0])}, false, true);
    }

    public Tensor relu() {
        return unaryOp(UnaryOp.RELU, 0, 0, "ReluBackward0",
                (g, s) -> new Tensor[] {binaryRaw(BinaryOp.RELU_BACKWARD, g, s[0])}, false, true);
    }

    /** GELU with the exact erf form. */
    public Tensor gelu() { return gelu("none"); }

    /** GELU, approximate "none" (erf) or "tanh". */
    public Tensor gelu(String approximate) {
        boolean tanh = switch (approximate) {
            case "none" -> false;
            case "tanh" -> true;
            default -> throw new IllegalArgumentException("approximate argument must be either none or tanh, got '" + approximate + "'");
        };
        BinaryOp bop = tanh ? BinaryOp.GELU_TANH_BACKWARD : BinaryOp.GELU_BACKWARD;
        return unaryOp(tanh ? UnaryOp.GELU_TANH : UnaryOp.GELU, 0, 0, "GeluBackward0",
                (g, s) -> new Tensor[] {binaryRaw(bop, g, s[0])}, true, false);
    }

    public Tensor silu() {
        return unaryOp(UnaryOp.SILU, 0, 0, "SiluBackward0",
                (g, s) -> new Tensor[] {binaryRaw(BinaryOp.SILU_BACKWARD, g, s[0])}, true, false);
    }

    public Tensor erf() {
        return unaryOp(UnaryOp.ERF, 0, 0, "ErfBackward0",
                (g, s) -> new Tensor[] {g.mul(s[0].square().neg().exp().mul(2 / Math.sqrt(Math.PI)))}, true, false);
    }

    public Tensor square() { return unaryOp(UnaryOp.SQUARE, 0, 0, "PowBackward0", (g, s) -> new Tensor[] {g.mul(s[0]).mul(2)}, true, false); }

    public Tensor reciprocal() {
        return unaryOp(UnaryOp.RECIPROCAL, 0, 0, "ReciprocalBackward0",
                (g, s) -> new Tensor[] {g.mul(s[0].square()).neg()}, false, true);
    }

    public Tensor floor() { return unaryOp(UnaryOp.FLOOR, 0, 0, "FloorBackward0", (g, s) -> new Tensor[] {zerosLike(g)}, false, false); }

    public Tensor ceil() { return unaryOp(UnaryOp.CEIL, 0, 0, "CeilBackward0", (g, s) -> new Tensor[] {zerosLike(g)}, false, false); }

    public Tensor round() { return unaryOp(UnaryOp.ROUND, 0, 0, "RoundBackward0", (g, s) -> new Tensor[] {zerosLike(g)}, false, false); }

    public Tensor logicalNot() { return backend().unary(UnaryOp.LOGICAL_NOT, this, 0, 0, null); }

    /** x^p for a scalar exponent. */
    public Tensor pow(double p) {
        if (p == 1) return mul(1);
        return unaryOp(UnaryOp.POW, p, 0, "PowBackward0", (g, s) -> {
            if (p == 0) return new Tensor[] {zerosLike(g)};
            return new Tensor[] {g.mul(s[0].pow(p - 1)).mul(p)};
        }, true, false);
    }

    /** clamp(x, min, max); pass Double.NaN for an absent bound. */
    public Tensor clamp(double min, double max) {
        return unaryOp(UnaryOp.CLAMP, min, max, "ClampBackward1", (g, s) -> {
            Tensor x = s[0];
            Tensor keep = null;
            if (!Double.isNaN(min)) keep = x.ge(min);
            if (!Double.isNaN(max)) keep = keep == null ? x.le(max) : keep.logicalAnd(x.le(max));
            return new Tensor[] {keep == null ? g : g.mul(keep)};
        }, true, false);
    }

    public Tensor clampMin(double min) { return clamp(min, Double.NaN); }

    public Tensor clampMax(double max) { return clamp(Double.NaN, max); }

    // binary ---------------------------------------------------------------

    static DType resultType(Tensor a, Tensor b) {
        boolean a0 = a.dim() == 0, b0 = b.dim() == 0;
        if (a0 != b0) {
            Tensor full = a0 ? b : a, zero = a0 ? a : b;
            if (full.dtype().isFloatingPoint() || !zero.dtype().isFloatingPoint()) {
                return zero.dtype() == DType.BOOL || full.dtype() != DType.BOOL ? full.dtype() : zero.dtype();
            }
            return zero.dtype() == DType.F64 ? DType.F32 : zero.dtype();
        }
        return DType.promote(a.dtype(), b.dtype());
    }

    /** No autograd: for backward formulas and comparisons. */
    static Tensor binaryRaw(BinaryOp op, Tensor a, Tensor b) {
        checkSameDevice(a, b);
        DType t = resultType(a, b);
        return a.backend().binary(op, a, b, op.isComparison() ? DType.BOOL : t, null);
    }

    private Tensor scalarLike(double v) {
        return scalar(v, dtype().isFloatingPoint() || v != Math.rint(v) ? (dtype().isFloatingPoint() ? dtype() : DType.F32) : dtype(),
                device());
    }

    public Tensor add(Tensor o) {
        checkSameDevice(this, o);
        DType t = resultType(this, o);
        Tensor out = backend().binary(BinaryOp.ADD, this, o, t, null);
        int[] sa = shape, sb = o.shape;
        return record(out, "AddBackward0", in(this, o), NONE, (g, s) -> new Tensor[] {g.sumTo(sa), g.sumTo(sb)});
    }

    public Tensor add(double v) {
        if (!dtype().isFloatingPoint() && v != Math.rint(v)) return add(scalarLike(v));
        Tensor out = backend().unary(UnaryOp.ADD_SCALAR, this, v, 0, null);
        return record(out, "AddBackward1", in(this), NONE, (g, s) -> new Tensor[] {g});
    }

    /** this + alpha * o. */
    public Tensor add(Tensor o, double alpha) { return alpha == 1 ? add(o) : add(o.mul(alpha)); }

    public Tensor sub(Tensor o) {
        checkSameDevice(this, o);
        DType t = resultType(this, o);
        Tensor out = backend().binary(BinaryOp.SUB, this, o, t, null);
        int[] sa = shape, sb = o.shape;
        return record(out, "SubBackward0", in(this, o), NONE, (g, s) -> new Tensor[] {g.sumTo(sa), g.neg().sumTo(sb)});
    }

    public Tensor sub(double v) { return add(-v); }

    /** v - this. */
    public Tensor rsub(double v) { return neg().add(v); }

    public Tensor mul(Tensor o) {
        checkSameDevice(this, o);
        DType t = resultType(this, o);
        Tensor out = backend().binary(BinaryOp.MUL, this, o, t, null);
        int[] sa = shape, sb = o.shape;
        boolean ga = needsGrad(this), gb = needsGrad(o);
        return record(out, "MulBackward0", in(this, o), in(gb ? this : null, ga ? o : null),
                (g, s) -> new Tensor[] {ga ? g.mul(s[1]).sumTo(sa) : null, gb ? g.mul(s[0]).sumTo(sb) : null});
    }

    public Tensor mul(double v) {
        if (!dtype().isFloatingPoint() && v != Math.rint(v)) return mul(scalarLike(v));
        Tensor out = backend().unary(UnaryOp.MUL_SCALAR, this, v, 0, null);
        return record(out, "MulBackward1", in(this), NONE, (g, s) -> new Tensor[] {g.mul(v)});
    }

    public Tensor div(Tensor o) {
        checkSameDevice(this, o);
        DType t = resultType(this, o);
        if (!t.isFloatingPoint()) t = DType.F32;
        Tensor out = backend().binary(BinaryOp.DIV, this, o, t, null);
        int[] sa = shape, sb = o.shape;
        boolean gb = needsGrad(o);
        return record(out, "DivBackward0", in(this, o), in(o, gb ? out : null), (g, s) -> new Tensor[] {
            g.div(s[0]).sumTo(sa), gb ? g.mul(s[1]).div(s[0]).neg().sumTo(sb) : null});
    }

    public Tensor div(double v) {
        if (!dtype().isFloatingPoint()) return to(DType.F32).div(v);
        return mul(1.0 / v);
    }

    /** v / this. */
    public Tensor rdiv(double v) {
        return unaryOp(UnaryOp.RDIV_SCALAR, v, 0, "DivBackward1",
                (g, s) -> new Tensor[] {g.mul(s[1]).div(s[0]).neg()}, true, true);
    }

    public Tensor pow(Tensor e) {
        checkSameDevice(this, e);
        DType t = resultType(this, e);
        Tensor out = backend().binary(BinaryOp.POW, this, e, t, null);
        int[] sa = shape, sb = e.shape;
        return record(out, "PowBackward1", in(this, e), in(this, e, out), (g, s) -> new Tensor[] {
            g.mul(s[1]).mul(s[0].pow(s[1].sub(1))).sumTo(sa),
            g.mul(s[2]).mul(s[0].log()).sumTo(sb)});
    }

    /** Element-wise maximum (gradient split evenly on ties, as PyTorch). */
    public Tensor maximum(Tensor o) { return minmax(o, BinaryOp.MAX, "MaximumBackward0"); }

    public Tensor minimum(Tensor o) { return minmax(o, BinaryOp.MIN, "MinimumBackward0"); }

    private Tensor minmax(Tensor o, BinaryOp op, String name) {
        checkSameDevice(this, o);
        Tensor out = backend().binary(op, this, o, resultType(this, o), null);
        int[] sa = shape, sb = o.shape;
        return record(out, name, in(this, o), in(this, o), (g, s) -> {
            Tensor wa = op == BinaryOp.MAX ? s[0].gt(s[1]).toFloat() : s[0].lt(s[1]).toFloat();
            Tensor tie = s[0].eq(s[1]).toFloat().mul(0.5);
            wa = wa.add(tie);
            return new Tensor[] {g.mul(wa).sumTo(sa), g.mul(wa.rsub(1)).sumTo(sb)};
        });
    }

    public Tensor eq(Tensor o) { return binaryRaw(BinaryOp.EQ, this, o); }

    public Tensor ne(Tensor o) { return binaryRaw(BinaryOp.NE, this, o); }

    public Tensor lt(Tensor o) { return binaryRaw(BinaryOp.LT, this, o); }

    public Tensor le(Tensor o) { return binaryRaw(BinaryOp.LE, this, o); }

    public Tensor gt(Tensor o) { return binaryRaw(BinaryOp.GT, this, o); }

    public Tensor ge(Tensor o) { return binaryRaw(BinaryOp.GE, this, o); }

    public Tensor eq(double v) { return eq(scalarLike(v)); }

    public Tensor ne(double v) { return ne(scalarLike(v)); }

    public Tensor lt(double v) { return lt(scalarLike(v)); }

    public Tensor le(double v) { return le(scalarLike(v)); }

    public Tensor gt(double v) { return gt(scalarLike(v)); }

    public Tensor ge(double v) { return ge(scalarLike(v)); }

    public Tensor logicalAnd(Tensor o) { return binaryRaw(BinaryOp.LOGICAL_AND, this, o); }

    public Tensor logicalOr(Tensor o) { return binaryRaw(BinaryOp.LOGICAL_OR, this, o); }

    /** True when shapes match and every element is equal. */
    public boolean equal(Tensor o) {
        return Arrays.equals(shape, o.shape) && eq(o).all();
    }

    /** |a - b| <= atol + rtol*|b| everywhere, like {@code torch.allclose}. */
    public boolean allclose(Tensor o, double rtol, double atol) {
        double[] a = toDoubleArray(), b = o.expand(shape).toDoubleArray();
        for (int i = 0; i < a.length; i++) {
            if (Double.isNaN(a[i]) || Double.isNaN(b[i])) return false;
            if (Math.abs(a[i] - b[i]) > atol + rtol * Math.abs(b[i])) return false;
        }
        return true;
    }

    /** cond ? a : b with broadcasting. */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        checkSameDevice(cond, a);
        checkSameDevice(a, b);
        if (cond.dtype() != DType.BOOL) throw new IllegalArgumentException("where expected condition to be a boolean tensor, but got a tensor with dtype " + cond.dtype().torchName());
        Tensor out = a.backend().where(cond, a, b);
        int[] sa = a.shape, sb = b.shape;
        return record(out, "WhereBackward0", in(a, b), in(cond), (g, s) -> {
            Tensor z = zerosLike(g);
            return new Tensor[] {where(s[0], g, z).sumTo(sa), where(s[0], z, g).sumTo(sb)};
        });
    }

    public static Tensor where(Tensor cond, Tensor a, double b) { return where(cond, a, scalar(b, a.dtype(), a.device())); }

    /** Replaces elements where mask is true by value. */
    public Tensor maskedFill(Tensor mask, double value) {
        if (mask.dtype() != DType.BOOL) {
            throw new IllegalArgumentException("masked_fill only supports boolean masks, but got mask with dtype " + mask.dtype().torchName());
        }
        Shape.broadcast(shape, mask.shape);
        return where(mask, scalar(value, dtype(), device()), this);
    }

    // ------------------------------------------------------------------ reductions

    /** Sums a gradient back to a broadcast source shape. */
    public Tensor sumTo(int[] target) {
        if (Arrays.equals(shape, target)) return this;
        int lead = dim() - target.length;
        List<Integer> dims = new ArrayList<>();
        for (int i = 0; i < dim(); i++) {
            if (i < lead || (target[i - lead] == 1 && shape[i] != 1)) dims.add(i);
        }
        Tensor r = dims.isEmpty() ? this : sum(dims.stream().mapToInt(Integer::intValue).toArray(), true);
        return r.reshape(target);
    }

    private int[] normDims(int[] dims) {
        if (dims == null || dims.length == 0) {
            int[] all = new int[dim()];
            for (int i = 0; i < all.length; i++) all[i] = i;
            return all;
        }
        int[] d = new int[dims.length];
        for (int i = 0; i < dims.length; i++) d[i] = Shape.wrapDim(dims[i], dim());
        Arrays.sort(d);
        for (int i = 1; i < d.length; i++) {
            if (d[i] == d[i - 1]) throw new IllegalArgumentException("dim " + d[i] + " appears multiple times in the list of dims");
        }
        return d;
    }

    private static int[] keptShape(int[] shape, int[] dims) {
        int[] s = shape.clone();
        for (int d : dims) s[d] = 1;
        return s;
    }

    private Tensor reduceOp(ReduceOp op, int[] dims, boolean keepdim, double correction, String name) {
        int[] d = normDims(dims);
        Tensor src = this;
        if ((op == ReduceOp.SUM || op == ReduceOp.MEAN || op == ReduceOp.VAR) && !dtype().isFloatingPoint()) {
            if (op == ReduceOp.SUM) src = to(DType.I64);
            else throw new IllegalArgumentException(op.name().toLowerCase() + "(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: " + dtype().torchName());
        }
        Tensor out = src.backend().reduce(op, src, d, keepdim, correction);
        int[] inShape = shape;
        int[] kept = keptShape(shape, d);
        int count = 1;
        for (int x : d) count *= shape[x];
        final int n = count;
        return switch (op) {
            case SUM -> record(out, name, in(this), NONE, (g, s) -> new Tensor[] {g.reshape(kept).expand(inShape)});
            case MEAN -> record(out, name, in(this), NONE, (g, s) -> new Tensor[] {g.reshape(kept).expand(inShape).div(n)});
            case VAR -> record(out, name, in(this), in(this), (g, s) -> {
                Tensor x = s[0];
                Tensor mean = x.mean(d, true);
                return new Tensor[] {g.reshape(kept).mul(x.sub(mean)).mul(2.0 / Math.max(n - correction, 0))};
            });
            case MAX, MIN -> record(out, name, in(this), in(this, out), (g, s) -> {
                Tensor mask = s[0].eq(s[1].reshape(kept)).toFloat();
                Tensor cnt = mask.sum(d, true);
                return new Tensor[] {mask.div(cnt).mul(g.reshape(kept))};
            });
            case PROD -> record(out, name, in(this), in(this, out), (g, s) -> new Tensor[] {
                g.reshape(kept).mul(s[1].reshape(kept)).div(s[0])});
            default -> out;
        };
    }

    public Tensor sum() { return reduceOp(ReduceOp.SUM, null, false, 0, "SumBackward0"); }

    public Tensor sum(int dim, boolean keepdim) { return reduceOp(ReduceOp.SUM, new int[] {dim}, keepdim, 0, "SumBackward1"); }

    public Tensor sum(int[] dims, boolean keepdim) { return reduceOp(ReduceOp.SUM, dims, keepdim, 0, "SumBackward1"); }

    public Tensor mean() { return reduceOp(ReduceOp.MEAN, null, false, 0, "MeanBackward0"); }

    public Tensor mean(int dim, boolean keepdim) { return reduceOp(ReduceOp.MEAN, new int[] {dim}, keepdim, 0, "MeanBackward1"); }

    public Tensor mean(int[] dims, boolean keepdim) { return reduceOp(ReduceOp.MEAN, dims, keepdim, 0, "MeanBackward1"); }

    public Tensor prod(int dim, boolean keepdim) { return reduceOp(ReduceOp.PROD, new int[] {dim}, keepdim, 0, "ProdBackward1"); }

    /** Variance with Bessel's correction (correction=1), like {@code torch.var}. */
    public Tensor var() { return reduceOp(ReduceOp.VAR, null, false, 1, "VarBackward0"); }

    public Tensor var(int dim, boolean keepdim) { return var(new int[] {dim}, keepdim, 1); }

    /** correction: 1 for unbiased, 0 for biased (population) variance. */
    public Tensor var(int[] dims, boolean keepdim, double correction) {
        return reduceOp(ReduceOp.VAR, dims, keepdim, correction, "VarBackward0");
    }

    public Tensor std() { return var().sqrt(); }

    public Tensor std(int dim, boolean keepdim) { return var(dim, keepdim).sqrt(); }

    public Tensor std(int[] dims, boolean keepdim, double correction) { return var(dims, keepdim, correction).sqrt(); }

    /** Maximum of all elements. */
    public Tensor max() { return reduceOp(ReduceOp.MAX, null, false, 0, "MaxBackward1"); }

    public Tensor min() { return reduceOp(ReduceOp.MIN, null, false, 0, "MinBackward1"); }

    /** Values of the maximum along dim (see {@link #maxWithIndices}). */
    public Tensor max(int dim, boolean keepdim) { return maxWithIndices(dim, keepdim)[0]; }

    public Tensor min(int dim, boolean keepdim) { return minWithIndices(dim, keepdim)[0]; }

    /** {values, indices} of the maximum along dim, like {@code torch.max(x, dim)}. */
    public Tensor[] maxWithIndices(int dim, boolean keepdim) { return extremum(true, dim, keepdim); }

    public Tensor[] minWithIndices(int dim, boolean keepdim) { return extremum(false, dim, keepdim); }

    private Tensor[] extremum(boolean max, int dim, boolean keepdim) {
        int d = Shape.wrapDim(dim, dim());
        Tensor idx = backend().argReduce(max, this, d, true);
        Tensor vals;
        try (var g = Grad.off()) {
            vals = backend().gather(this, d, idx);
        }
        int[] inShape = shape;
        vals = record(vals, max ? "MaxBackward0" : "MinBackward0", in(this), in(idx), (g, s) ->
                new Tensor[] {g.backend().scatterAdd(inShape, d, s[0], g)});
        if (!keepdim && dim() > 0) {
            vals = vals.squeeze(d);
            idx = idx.squeeze(d);
        }
        return new Tensor[] {vals, idx};
    }

    /** Index of the maximum over all elements (flattened), I64. */
    public Tensor argmax() { return reshape(-1).argmax(0, false); }

    public Tensor argmax(int dim, boolean keepdim) { return backend().argReduce(true, this, Shape.wrapDim(dim, dim()), keepdim); }

    public Tensor argmin(int dim, boolean keepdim) { return backend().argReduce(false, this, Shape.wrapDim(dim, dim()), keepdim); }

    public boolean all() { return backend().reduce(ReduceOp.ALL, this, normDims(null), false, 0).item() != 0; }

    public boolean any() { return backend().reduce(ReduceOp.ANY, this, normDims(null), false, 0).item() != 0; }

    public Tensor cumsum(int dim) {
        int d = Shape.wrapDim(dim, dim());
        Tensor out = backend().cumsum(dtype().isFloatingPoint() ? this : to(DType.I64), d);
        return record(out, "CumsumBackward0", in(this), NONE, (g, s) -> new Tensor[] {g.flip(d).cumsum(d).flip(d)});
    }

    /** Reverses the order along dim (a copy). */
    public Tensor flip(int dim) {
        int d = Shape.wrapDim(dim, dim());
        Tensor idx = arange(shape[d] - 1, -1, -1).to(device());
        return indexSelect(d, idx);
    }

    /** {values, indices} of the k largest (largest=true) or smallest along dim, sorted. */
    public Tensor[] topk(int k, int dim, boolean largest) {
        int d = Shape.wrapDim(dim, dim());
        if (k < 0 || k > (dim() == 0 ? 1 : shape[d])) {
            throw new IllegalArgumentException("topk: k (" + k + ") is out of range for dimension " + d + " of size " + shape[d]);
        }
        Tensor src = d == dim() - 1 ? this : transpose(d, -1);
        Tensor[] r;
        try (var g = Grad.off()) {
            r = backend().topk(src, k, largest);
        }
        Tensor idx = r[1];
        Tensor vals;
        try (var g = Grad.off()) {
            vals = backend().gather(src, src.dim() - 1, idx);
        }
        int[] srcShape = src.shape;
        vals = record(vals, "TopkBackward0", in(src), in(idx), (g, s) -> new Tensor[] {
            g.backend().scatterAdd(srcShape, srcShape.length - 1, s[0], g)});
        if (d != dim() - 1) {
            vals = vals.transpose(d, -1);
            idx = idx.transpose(d, -1).contiguous();
        }
        return new Tensor[] {vals, idx};
    }

    public Tensor[] topk(int k) { return topk(k, -1, true); }

    /** {values, indices} sorted along dim. */
    public Tensor[] sort(int dim, boolean descending) { return topk(size(dim), dim, descending); }

    // ------------------------------------------------------------------ linear algebra

    /** torch.matmul: dot, mm, mv, batched with broadcast batch dims. */
    public Tensor matmul(Tensor o) {
        checkSameDevice(this, o);
        if (!(dtype().isFloatingPoint() || dtype().isQuantized()) || !(o.dtype().isFloatingPoint() || o.dtype().isQuantized())) {
            throw new IllegalArgumentException("matmul expects floating point or quantized tensors, got " + dtype().torchName() + " and " + o.dtype().torchName());
        }
        if (dim() == 0 || o.dim() == 0) {
            throw new IllegalArgumentException("both arguments to matmul need to be at least 1D, but they are " + dim() + "D and " + o.dim() + "D");
        }
        if (dim() == 1 && o.dim() == 1) return unsqueeze(0).matmul(o.unsqueeze(1)).reshape();
        if (dim() == 1) return unsqueeze(0).matmul(o).squeeze(-2);
        if (o.dim() == 1) return matmul(o.unsqueeze(1)).squeeze(-1);
        int k1 = shape[dim() - 1], k2 = o.shape[o.dim() - 2];
        if (k1 != k2) {
            throw new IllegalArgumentException("mat1 and mat2 shapes cannot be multiplied (" + rows() + "x" + k1 + " and "
                    + k2 + "x" + o.shape[o.dim() - 1] + "); shapes " + Arrays.toString(shape) + " @ " + Arrays.toString(o.shape));
        }
        if (o.dim() == 2 && dim() > 2) {
            int[] outShape = shape.clone();
            outShape[dim() - 1] = o.shape[1];
            return reshape(-1, k1).mm(o).reshape(outShape);
        }
        int[] ba = Arrays.copyOf(shape, dim() - 2), bb = Arrays.copyOf(o.shape, o.dim() - 2);
        int[] batch = Shape.broadcast(ba, bb);
        int[] ea = concat(batch, shape[dim() - 2], k1), eb = concat(batch, k2, o.shape[o.dim() - 1]);
        return expand(ea).bmm(o.expand(eb));
    }

    private int rows() {
        int r = 1;
        for (int i = 0; i < dim() - 1; i++) r *= shape[i];
        return r;
    }

    private static int[] concat(int[] batch, int m, int n) {
        int[] s = Arrays.copyOf(batch, batch.length + 2);
        s[batch.length] = m;
        s[batch.length + 1] = n;
        return s;
    }

    /** Matrix product of 2-D tensors. */
    public Tensor mm(Tensor o) {
        if (dim() != 2 || o.dim() != 2) throw new IllegalArgumentException("mm expects 2D tensors, got " + dim() + "D and " + o.dim() + "D");
        return bmm(o);
    }

    /** Product over equal batch dims: [..., M, K] @ [..., K, N]. */
    private Tensor bmm(Tensor o) {
        Tensor out = backend().matmul(this, o);
        boolean ga = needsGrad(this), gb = needsGrad(o);
        // Like PyTorch's mm_mat1/mat2_backward, an operand stored transposed gets its gradient computed
        // transposed: the gradient of Linear's weight.t() then reaches the weight contiguous, no copy.
        boolean aT = ga && storedTransposed(this), bT = gb && storedTransposed(o);
        return record(out, "MmBackward0", in(this, o), in(gb ? this : null, ga ? o : null), (g, s) -> new Tensor[] {
            ga ? (aT ? s[1].bmm(g.mT()).transposedOwner() : g.bmm(s[1].mT())) : null,
            gb ? (bT ? g.mT().bmm(s[0]).transposedOwner() : s[0].mT().bmm(g)) : null});
    }

    /**
     * This fresh product with its last two dims swapped, as a tensor that owns the storage rather than a
     * view of it: autograd hands a view on only by copying (it cannot know that nothing else holds the
     * base), and this product is held by nothing else, so Linear's weight gradient reaches .grad without
     * a copy (GPT-2: 498 MB copied and allocated per step otherwise).
     */
    private Tensor transposedOwner() {
        Tensor t = mT();
        return new Tensor(storage, offset, t.shape, t.strides, null);
    }

    /** True for a non-contiguous tensor whose last two dims transposed are contiguous. */
    private static boolean storedTransposed(Tensor t) {
        int n = t.dim();
        if (n < 2 || t.isContiguous()) return false;
        int[] s = t.shape.clone(), st = t.strides.clone();
        s[n - 2] = t.shape[n - 1]; s[n - 1] = t.shape[n - 2];
        st[n - 2] = t.strides[n - 1]; st[n - 1] = t.strides[n - 2];
        return Shape.isContiguous(s, st);
    }

    // ------------------------------------------------------------------ fused ops

    /** Softmax along dim. */
    public Tensor softmax(int dim) { return softmaxImpl(dim, false); }

    public Tensor logSoftmax(int dim) { return softmaxImpl(dim, true); }

    private Tensor softmaxImpl(int dim, boolean log) {
        int d = Shape.wrapDim(dim, dim());
        if (dim() == 0) return log ? zerosLike(this) : onesLike(this);
        if (!dtype().isFloatingPoint()) return to(DType.F32).softmaxImpl(d, log);
        if (d != dim() - 1) return transpose(d, -1).softmaxImpl(-1, log).transpose(d, -1);
        Tensor out = backend().softmax(this, log);
        return record(out, log ? "LogSoftmaxBackward0" : "SoftmaxBackward0", in(this), in(out), (g, s) -> new Tensor[] {
            g.backend().softmaxBackward(s[0], g, log)});
    }

    // ------------------------------------------------------------------ joining and indexing

    public static Tensor cat(List<Tensor> parts, int dim) {
        if (parts.isEmpty()) throw new IllegalArgumentException("torch.cat(): expected a non-empty list of Tensors");
        Tensor first = parts.get(0);
        int d = Shape.wrapDim(dim, first.dim());
        DType dt = first.dtype();
        for (int i = 0; i < parts.size(); i++) {
            Tensor p = parts.get(i);
            checkSameDevice(first, p);
            if (p.dim() != first.dim()) {
                throw new IllegalArgumentException("Tensors must have same number of dimensions: got " + first.dim() + " and " + p.dim());
            }
            for (int k = 0; k < p.dim(); k++) {
                if (k != d && p.shape[k] != first.shape[k]) {
                    throw new IllegalArgumentException("Sizes of tensors must match except in dimension " + d + ". Expected size "
                            + first.shape[k] + " but got size " + p.shape[k] + " for tensor number " + i + " in the list.");
                }
            }
            dt = DType.promote(dt, p.dtype());
        }
        List<Tensor> conv = new ArrayList<>();
        for (Tensor p : parts) conv.add(p.to(dt));
        Tensor out = first.backend().cat(conv, d);
        int[] sizes = new int[parts.size()];
        for (int i = 0; i < sizes.length; i++) sizes[i] = parts.get(i).shape[d];
        return record(out, "CatBackward0", parts.toArray(new Tensor[0]), NONE, (g, s) -> g.split(sizes, d).toArray(new Tensor[0]));
    }

    public static Tensor cat(int dim, Tensor... parts) { return cat(Arrays.asList(parts), dim); }

    public static Tensor stack(List<Tensor> parts, int dim) {
        if (parts.isEmpty()) throw new IllegalArgumentException("stack expects a non-empty TensorList");
        int d = Shape.wrapDim(dim, parts.get(0).dim() + 1);
        for (int i = 1; i < parts.size(); i++) {
            if (!Arrays.equals(parts.get(i).shape, parts.get(0).shape)) {
                throw new IllegalArgumentException("stack expects each tensor to be equal size, but got " + Arrays.toString(parts.get(0).shape)
                        + " at entry 0 and " + Arrays.toString(parts.get(i).shape) + " at entry " + i);
            }
        }
        List<Tensor> u = new ArrayList<>();
        for (Tensor p : parts) u.add(p.unsqueeze(d));
        return cat(u, d);
    }

    public static Tensor stack(int dim, Tensor... parts) { return stack(Arrays.asList(parts), dim); }

    private static void checkIndex(Tensor index, String op) {
        if (index.dtype() != DType.I64 && index.dtype() != DType.I32) {
            throw new IllegalArgumentException(op + "(): Expected dtype int64 or int32 for index, got " + index.dtype().torchName());
        }
    }

    /** Rows (or slices along dim) picked by a 1-D index. */
    public Tensor indexSelect(int dim, Tensor index) {
        checkSameDevice(this, index);
        checkIndex(index, "index_select");
        if (index.dim() > 1) throw new IllegalArgumentException("index_select(): Index is supposed to be a vector, got " + index.dim() + "D");
        int d = Shape.wrapDim(dim, dim());
        Tensor idx = index.dim() == 0 ? index.reshape(1) : index;
        Tensor out = backend().indexSelect(this, d, idx);
        if (index.dim() == 0 && dim() > 0) out = out.squeeze(d);
        int[] inShape = shape;
        boolean scalarIdx = index.dim() == 0;
        Tensor r = record(out, "IndexSelectBackward0", in(this), in(idx), (g, s) -> new Tensor[] {
            g.backend().indexAdd(inShape, d, s[0], scalarIdx ? g.unsqueeze(d) : g)});
        // a tied embedding's rows add straight into the head's gradient of the same matrix, instead of a
        // zero-filled [vocab, dim] gradient (154 MB for GPT-2) that is allocated only to be summed into it
        if (r.gradFn != null) {
            r.gradFn.accumulateInto((g, target) -> {
                Tensor src = scalarIdx ? g.unsqueeze(d) : g;
                if (target.isContiguous() && target.dtype() == DType.F32) {
                    target.backend().indexAddInto(target, d, idx, src);
                    target.storage.bumpVersion();
                } else {
                    target.add_(target.backend().indexAdd(inShape, d, idx, src));
                }
            });
        }
        return r;
    }

    /** out[i][j] = this[index[i][j]][j] for dim 0 (and so on), like {@code torch.gather}. */
    public Tensor gather(int dim, Tensor index) {
        checkSameDevice(this, index);
        checkIndex(index, "gather");
        int d = Shape.wrapDim(dim, dim());
        if (index.dim() != dim()) {
            throw new IllegalArgumentException("Index tensor must have the same number of dimensions as input tensor");
        }
        Tensor out = backend().gather(this, d, index);
        int[] inShape = shape;
        return record(out, "GatherBackward0", in(this), in(index), (g, s) -> new Tensor[] {
            g.backend().scatterAdd(inShape, d, s[0], g)});
    }

    /** A copy of this with src added at index along dim (out of place {@code scatter_add}). */
    public Tensor scatterAdd(int dim, Tensor index, Tensor src) {
        checkSameDevice(this, index);
        checkSameDevice(this, src);
        checkIndex(index, "scatter_add");
        int d = Shape.wrapDim(dim, dim());
        Tensor added = backend().scatterAdd(shape, d, index, src);
        Tensor out = add(record(added, "ScatterAddBackward0", in(src), in(index), (g, s) -> new Tensor[] {g.gather(d, s[0])}));
        return out;
    }

    /** Embedding lookup: rows of this [V, D] for integer indices of any shape -> [..., D]. */
    public Tensor embedding(Tensor indices) {
        if (dim() != 2) throw new IllegalArgumentException("embedding weight must be 2-D, got shape " + Arrays.toString(shape));
        int[] outShape = Arrays.copyOf(indices.shape, indices.dim() + 1);
        outShape[indices.dim()] = shape[1];
        Tensor rows = indexSelect(0, indices.reshape(-1));
        return (dtype().isQuantized() ? rows.to(DType.F32) : rows).view(outShape);
    }

    /** Samples n indices per row of non-negative weights (I64 [rows, n] or [n]). */
    public Tensor multinomial(int n, boolean replacement, Generator gen) {
        if (dim() < 1 || dim() > 2) throw new IllegalArgumentException("multinomial: prob_dist must be 1 or 2 dim, got " + dim());
        int cats = shape[dim() - 1];
        if (!replacement && n > cats) {
            throw new IllegalArgumentException("multinomial: cannot sample n_sample > prob_dist.size(-1) samples without replacement ("
                    + n + " > " + cats + ")");
        }
        Tensor p = dim() == 1 ? unsqueeze(0) : this;
        Tensor out = backend().multinomial(p.toFloat(), n, replacement, gen);
        return dim() == 1 ? out.squeeze(0) : out;
    }

    public Tensor multinomial(int n, boolean replacement) { return multinomial(n, replacement, Generator.defaultGenerator()); }

    /** Lower triangle (elements above diagonal k zeroed). */
    public Tensor tril(int k) { return triangle(k, true); }

    public Tensor triu(int k) { return triangle(k, false); }

    private Tensor triangle(int k, boolean lower) {
        if (dim() < 2) throw new IllegalArgumentException((lower ? "tril" : "triu") + ": input tensor must have at least 2 dimensions");
        int r = shape[dim() - 2], c = shape[dim() - 1];
        boolean[] keep = new boolean[r * c];
        for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) keep[i * c + j] = lower ? j - i <= k : j - i >= k;
        Tensor mask = of(keep, r, c).to(device());
        return where(mask, this, scalar(0, dtype(), device()));
    }

    public static Tensor tril(Tensor t, int k) { return t.tril(k); }

    public static Tensor triu(Tensor t, int k) { return t.triu(k); }

    // ------------------------------------------------------------------ in place

    private void checkInplaceAllowed() {
        if (Grad.isEnabled() && requiresGrad && isLeaf()) {
            throw new IllegalStateException("a leaf Variable that requires grad is being used in an in-place operation.");
        }
    }

    /**
     * Runs an in-place op. Without autograd the kernel writes straight into this storage; with
     * autograd the out-of-place result is computed (recording its node), copied in, and becomes
     * this tensor's history, so saved-tensor version checks catch any value the graph still needs.
     * When the out-of-place op saves its self operand for backward (savesSelf), it gets a copy, since
     * this storage is about to be overwritten. On a view, the base's history is rewritten too (PyTorch's
     * CopySlices): the base's gradient flows to the op's result inside the view's region and to the
     * base's old history elsewhere.
     */
    private Tensor inPlace(Tensor other, UnaryOperator<Tensor> outOfPlace, boolean savesSelf, Runnable kernel) {
        checkInplaceAllowed();
        if (!needsGrad(this, other) && !(base != null && needsGrad(base, other))) {
            kernel.run();
            storage.bumpVersion();
            return this;
        }
        Tensor b = base;
        if (b != null) {
            if (b.requiresGrad && b.isLeaf() && Grad.isEnabled()) {
                throw new IllegalStateException("a view of a leaf Variable that requires grad is being used in an in-place operation.");
            }
            if (!b.isContiguous()) {
                throw new UnsupportedOperationException("in-place operation with autograd on a view of a non-contiguous base "
                        + "tensor is not supported; use the out-of-place op instead");
            }
        }
        // the current value of this, with its current history (for a view: re-derived from the base)
        Tensor self = b == null ? this : b.regionView(offset, shape, strides);
        Tensor r = outOfPlace.apply(savesSelf && self.requiresGrad ? self.clone() : self);
        if (!Arrays.equals(r.shape, shape)) {
            throw new IllegalArgumentException("output with shape " + Arrays.toString(shape)
                    + " doesn't match the broadcast shape " + Arrays.toString(r.shape));
        }
        try (var g = Grad.off()) {
            backend().copy(r.dtype() == dtype() ? r : r.detach().to(dtype()), this);
        }
        storage.bumpVersion();
        if (b == null) {
            gradFn = r.gradFn;
            requiresGrad = r.requiresGrad;
            return this;
        }
        int relOff = offset - b.offset;
        int[] vs = shape, vst = strides, bs = b.shape;
        Node copySlices = new Node("CopySlices", new Node[] {b.gradNode(), r.gradNode()}, (g, sv) -> {
            Tensor gb = g.contiguous();
            Tensor rest = gb.clone();
            Tensor region = strided(gb.storage, gb.offset + relOff, vs, vst);
            strided(rest.storage, rest.offset + relOff, vs, vst).fill_(0);
            return new Tensor[] {rest, region.clone()};
        }, NONE);
        b.gradFn = copySlices;
        b.requiresGrad = true;
        gradFn = b.regionView(offset, shape, strides).gradFn;
        requiresGrad = true;
        return this;
    }

    /** A view of this (a contiguous base) at (off, shape, strides) whose backward scatters into the base's shape. */
    private Tensor regionView(int off, int[] shp, int[] str) {
        int relOff = off - offset;
        int[] bs = shape;
        DType dt = dtype();
        Device dev = device();
        return record(viewOf(off, shp.clone(), str.clone()), "AsStridedBackward0", in(this), NONE, (g, sv) -> {
            Tensor z = zeros(bs, dt, dev);
            z.backend().copy(g, strided(z.storage, relOff, shp, str));
            return new Tensor[] {z};
        });
    }

    private void inPlaceBinary(BinaryOp op, Tensor o) {
        checkSameDevice(this, o);
        int[] b = Shape.broadcast(shape, o.shape);
        if (!Arrays.equals(b, shape)) {
            throw new IllegalArgumentException("output with shape " + Arrays.toString(shape)
                    + " doesn't match the broadcast shape " + Arrays.toString(b));
        }
        DType rt = resultType(this, o);
        if (op == BinaryOp.DIV && !rt.isFloatingPoint()) rt = DType.F32;
        if (rt != dtype() && rt.isFloatingPoint() && !dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("result type " + rt.torchName() + " can't be cast to the desired output type " + dtype().torchName());
        }
        backend().binary(op, this, o, dtype(), this);
    }

    public Tensor add_(Tensor o) { return inPlace(o, x -> x.add(o), false, () -> inPlaceBinary(BinaryOp.ADD, o)); }

    /** this += alpha * o. */
    public Tensor add_(Tensor o, double alpha) { return alpha == 1 ? add_(o) : add_(o.mul(alpha)); }

    public Tensor add_(double v) { return inPlace(null, x -> x.add(v), false, () -> backend().unary(UnaryOp.ADD_SCALAR, this, v, 0, this)); }

    public Tensor sub_(Tensor o) { return inPlace(o, x -> x.sub(o), false, () -> inPlaceBinary(BinaryOp.SUB, o)); }

    public Tensor sub_(double v) { return add_(-v); }

    public Tensor mul_(Tensor o) { return inPlace(o, x -> x.mul(o), true, () -> inPlaceBinary(BinaryOp.MUL, o)); }

    public Tensor mul_(double v) { return inPlace(null, x -> x.mul(v), false, () -> backend().unary(UnaryOp.MUL_SCALAR, this, v, 0, this)); }

    public Tensor div_(Tensor o) { return inPlace(o, x -> x.div(o), false, () -> inPlaceBinary(BinaryOp.DIV, o)); }

    public Tensor div_(double v) { return mul_(1.0 / v); }

    public Tensor clamp_(double min, double max) {
        return inPlace(null, x -> x.clamp(min, max), true, () -> backend().unary(UnaryOp.CLAMP, this, min, max, this));
    }

    public Tensor exp_() { return inPlace(null, Tensor::exp, false, () -> backend().unary(UnaryOp.EXP, this, 0, 0, this)); }

    public Tensor sqrt_() { return inPlace(null, Tensor::sqrt, false, () -> backend().unary(UnaryOp.SQRT, this, 0, 0, this)); }

    public Tensor neg_() { return inPlace(null, Tensor::neg, false, () -> backend().unary(UnaryOp.NEG, this, 0, 0, this)); }

    public Tensor relu_() { return inPlace(null, Tensor::relu, false, () -> backend().unary(UnaryOp.RELU, this, 0, 0, this)); }

    public Tensor pow_(double p) { return inPlace(null, x -> x.pow(p), true, () -> backend().unary(UnaryOp.POW, this, p, 0, this)); }

    public Tensor maskedFill_(Tensor mask, double value) {
        checkSameDevice(this, mask);
        int[] b = Shape.broadcast(shape, mask.shape);
        if (!Arrays.equals(b, shape)) {
            throw new IllegalArgumentException("masked_fill_: output with shape " + Arrays.toString(shape)
                    + " doesn't match the broadcast shape " + Arrays.toString(b) + " of the mask");
        }
        return inPlace(null, x -> x.maskedFill(mask, value), false, () -> {
            Tensor r = where(mask, scalar(value, dtype(), device()), this);
            backend().copy(r, this);
        });
    }

    /** Copies src (broadcast, dtype-converted) into this. */
    public Tensor copy_(Tensor src) {
        return inPlace(src, x -> src.expand(shape).to(dtype()).clone(), false, () -> {
            if (!src.device().equals(device())) backend().copy(src.to(device()), this);
            else backend().copy(src, this);
        });
    }

    public Tensor fill_(double value) {
        return inPlace(null, x -> fullLike(this, value), false, () -> backend().fill(this, value));
    }

    public Tensor zero_() { return fill_(0); }

    public Tensor uniform_(double lo, double hi) { return uniform_(lo, hi, Generator.defaultGenerator()); }

    public Tensor uniform_(double lo, double hi, Generator gen) {
        checkInplaceAllowed();
        try (var g = Grad.off()) {
            backend().uniform(this, lo, hi, gen);
        }
        storage.bumpVersion();
        return this;
    }

    public Tensor normal_(double mean, double std) { return normal_(mean, std, Generator.defaultGenerator()); }

    public Tensor normal_(double mean, double std, Generator gen) {
        checkInplaceAllowed();
        try (var g = Grad.off()) {
            backend().normal(this, mean, std, gen);
        }
        storage.bumpVersion();
        return this;
    }

    // ------------------------------------------------------------------ printing

    /**
     * PyTorch's repr: {@code tensor([[ 1.5000, -2.0000]])}, {@code tensor([1., 2.])} when every float is
     * a whole number, scientific notation when magnitudes span more than 1000x (or leave [1e-4, 1e8]),
     * every element right-aligned to the widest one (torch/_tensor_str.py's _Formatter, precision 4).
     */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("tensor(");
        if (numel() > 1000) {
            sb.append("<").append(dtype().torchName()).append(" ").append(Arrays.toString(shape)).append(">");
        } else {
            double[] v = toDoubleArray();
            String[] cells = formatCells(v, dtype());
            int width = 0;
            for (String c : cells) width = Math.max(width, c.length());
            int[] pos = {0};
            format(sb, cells, width, 0, pos, 7);
        }
        if (device() != Device.CPU) sb.append(", device='").append(device()).append("'");
        if (dtype() != DType.F32 && dtype() != DType.I64 && dtype() != DType.BOOL) sb.append(", dtype=torch.").append(dtype().torchName());
        if (gradFn != null) sb.append(", grad_fn=").append(gradFn);
        else if (requiresGrad) sb.append(", requires_grad=True");
        return sb.append(")").toString();
    }

    private static String[] formatCells(double[] v, DType dt) {
        String[] out = new String[v.length];
        if (dt == DType.BOOL) {
            for (int i = 0; i < v.length; i++) out[i] = v[i] != 0 ? "True" : "False";
            return out;
        }
        if (!dt.isFloatingPoint()) {
            for (int i = 0; i < v.length; i++) out[i] = Long.toString((long) v[i]);
            return out;
        }
        boolean intMode = true;
        double lo = Double.POSITIVE_INFINITY, hi = 0;
        for (double x : v) {
            if (Double.isNaN(x) || Double.isInfinite(x) || x == 0) continue;
            double a = Math.abs(x);
            lo = Math.min(lo, a);
            hi = Math.max(hi, a);
            if (x != Math.ceil(x)) intMode = false;
        }
        boolean any = hi > 0;
        boolean sci = any && (hi / lo > 1000 || hi > 1e8 || (!intMode && lo < 1e-4));
        for (int i = 0; i < v.length; i++) {
            double x = v[i];
            String c;
            if (Double.isNaN(x)) c = "nan";
            else if (Double.isInfinite(x)) c = x > 0 ? "inf" : "-inf";
            else if (sci) c = String.format(Locale.ROOT, "%.4e", x);
            else if (intMode) c = String.format(Locale.ROOT, "%.0f", x) + ".";
            else c = String.format(Locale.ROOT, "%.4f", x);
            if (x == 0 && 1 / x < 0 && !c.startsWith("-")) c = "-" + c;
            out[i] = c;
        }
        return out;
    }

    private void format(StringBuilder sb, String[] cells, int width, int d, int[] pos, int indent) {
        if (d == shape.length) {
            String c = cells[pos[0]++];
            sb.append(" ".repeat(width - c.length())).append(c);
            return;
        }
        sb.append('[');
        for (int i = 0; i < shape[d]; i++) {
            if (i > 0) {
                sb.append(',');
                if (d < shape.length - 1) sb.append("\n".repeat(shape.length - 1 - d)).append(" ".repeat(indent + d + 1));
                else sb.append(' ');
            }
            format(sb, cells, width, d + 1, pos, indent);
        }
        sb.append(']');
    }
}
