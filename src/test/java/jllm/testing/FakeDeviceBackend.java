package jllm.testing;

import jllm.backend.Backend;
import jllm.backend.Backends;
import jllm.backend.BinaryOp;
import jllm.backend.ReduceOp;
import jllm.backend.Storage;
import jllm.backend.UnaryOp;
import jllm.backend.cpu.CpuBackend;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * A second "device" for tests: {@code test:N} tensors live in storages that report that device,
 * and every kernel runs on the CPU backend over the wrapped heap storage. It lets tests check
 * device placement (a module's buffers move with {@code to(...)}, mixing devices fails) on a
 * machine without a GPU. Call {@link #install()} before using {@link #DEVICE}.
 */
public final class FakeDeviceBackend implements Backend {
    public static final Device DEVICE = Device.of("test", 0);

    private static final CpuBackend CPU = CpuBackend.INSTANCE;

    private final Device device;

    private FakeDeviceBackend(Device device) { this.device = device; }

    /** Registers the "test" device type (idempotent). */
    public static synchronized void install() {
        if (!Backends.isAvailable(DEVICE)) Backends.register("test", i -> new FakeDeviceBackend(Device.of("test", i)));
    }

    /** Storage on the fake device wrapping a CPU storage. */
    static final class FakeStorage extends Storage {
        final Storage inner;
        final Device device;

        FakeStorage(Storage inner, Device device) {
            this.inner = inner;
            this.device = device;
        }

        @Override public DType dtype() { return inner.dtype(); }

        @Override public Device device() { return device; }

        @Override public int size() { return inner.size(); }
    }

    private Tensor cpu(Tensor t) {
        if (t == null) return null;
        if (!(t.storage() instanceof FakeStorage fs)) {
            throw new IllegalArgumentException("FakeDeviceBackend(" + device + ") got a tensor on " + t.device());
        }
        return Tensor.strided(fs.inner, t.storageOffset(), t.shape(), t.stride());
    }

    private Tensor wrap(Tensor c) {
        if (c == null) return null;
        return Tensor.strided(new FakeStorage(c.storage(), device), c.storageOffset(), c.shape(), c.stride());
    }

    private Tensor[] wrap(Tensor[] cs) {
        Tensor[] out = new Tensor[cs.length];
        for (int i = 0; i < cs.length; i++) out[i] = wrap(cs[i]);
        return out;
    }

    @Override public Device device() { return device; }

    @Override public Storage allocate(DType dtype, int n) { return new FakeStorage(CPU.allocate(dtype, n), device); }

    @Override public Storage fromHost(DType dtype, Object hostArray) { return new FakeStorage(CPU.fromHost(dtype, hostArray), device); }

    @Override public Object toHost(Tensor t) { return CPU.toHost(cpu(t)); }

    @Override public void copy(Tensor src, Tensor dst) { CPU.copy(cpu(src), cpu(dst)); }

    @Override public void fill(Tensor dst, double value) { CPU.fill(cpu(dst), value); }

    @Override
    public Tensor unary(UnaryOp op, Tensor a, double p0, double p1, Tensor out) {
        Tensor r = CPU.unary(op, cpu(a), p0, p1, cpu(out));
        return out != null ? out : wrap(r);
    }

    @Override
    public Tensor binary(BinaryOp op, Tensor a, Tensor b, DType outType, Tensor out) {
        Tensor r = CPU.binary(op, cpu(a), cpu(b), outType, cpu(out));
        return out != null ? out : wrap(r);
    }

    @Override public Tensor where(Tensor cond, Tensor a, Tensor b) { return wrap(CPU.where(cpu(cond), cpu(a), cpu(b))); }

    @Override public Tensor reduce(ReduceOp op, Tensor a, int[] dims, boolean keepdim, double correction) {
        return wrap(CPU.reduce(op, cpu(a), dims, keepdim, correction));
    }

    @Override public Tensor argReduce(boolean max, Tensor a, int dim, boolean keepdim) { return wrap(CPU.argReduce(max, cpu(a), dim, keepdim)); }

    @Override public Tensor[] topk(Tensor a, int k, boolean largest) { return wrap(CPU.topk(cpu(a), k, largest)); }

    @Override public Tensor cumsum(Tensor a, int dim) { return wrap(CPU.cumsum(cpu(a), dim)); }

    @Override public Tensor matmul(Tensor a, Tensor b) { return wrap(CPU.matmul(cpu(a), cpu(b))); }

    @Override public Tensor softmax(Tensor x, boolean log) { return wrap(CPU.softmax(cpu(x), log)); }

    @Override public Tensor softmaxBackward(Tensor y, Tensor dy, boolean log) { return wrap(CPU.softmaxBackward(cpu(y), cpu(dy), log)); }

    @Override public Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) {
        return wrap(CPU.layerNorm(cpu(x), cpu(weight), cpu(bias), eps));
    }

    @Override public Tensor[] layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor weight, boolean hasBias) {
        return wrap(CPU.layerNormBackward(cpu(dy), cpu(x), cpu(mean), cpu(rstd), cpu(weight), hasBias));
    }

    @Override public Tensor[] rmsNorm(Tensor x, Tensor weight, double eps) { return wrap(CPU.rmsNorm(cpu(x), cpu(weight), eps)); }

    @Override public Tensor[] rmsNormBackward(Tensor dy, Tensor x, Tensor rstd, Tensor weight) {
        return wrap(CPU.rmsNormBackward(cpu(dy), cpu(x), cpu(rstd), cpu(weight)));
    }

    @Override public Tensor[] crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing) {
        return wrap(CPU.crossEntropy(cpu(logits), cpu(targets), ignoreIndex, labelSmoothing));
    }

    @Override public Tensor crossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor gradPerRow, long ignoreIndex,
                                                 double labelSmoothing) {
        return wrap(CPU.crossEntropyBackward(cpu(logits), cpu(targets), cpu(lse), cpu(gradPerRow), ignoreIndex, labelSmoothing));
    }

    @Override public Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale) {
        return wrap(CPU.attention(cpu(q), cpu(k), cpu(v), cpu(mask), causal, scale));
    }

    @Override public Tensor[] attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale,
                                                Tensor out, Tensor lse) {
        return wrap(CPU.attentionBackward(cpu(dout), cpu(q), cpu(k), cpu(v), cpu(mask), causal, scale, cpu(out), cpu(lse)));
    }

    @Override public Tensor indexSelect(Tensor src, int dim, Tensor index) { return wrap(CPU.indexSelect(cpu(src), dim, cpu(index))); }

    @Override public Tensor indexAdd(int[] shape, int dim, Tensor index, Tensor src) { return wrap(CPU.indexAdd(shape, dim, cpu(index), cpu(src))); }

    @Override public Tensor gather(Tensor src, int dim, Tensor index) { return wrap(CPU.gather(cpu(src), dim, cpu(index))); }

    @Override public Tensor scatterAdd(int[] shape, int dim, Tensor index, Tensor src) { return wrap(CPU.scatterAdd(shape, dim, cpu(index), cpu(src))); }

    @Override public Tensor cat(List<Tensor> parts, int dim) {
        List<Tensor> c = new ArrayList<>();
        for (Tensor t : parts) c.add(cpu(t));
        return wrap(CPU.cat(c, dim));
    }

    @Override public Tensor im2col(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
        return wrap(CPU.im2col(cpu(x), kh, kw, sh, sw, ph, pw, dh, dw));
    }

    @Override public Tensor col2im(Tensor cols, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
        return wrap(CPU.col2im(cpu(cols), c, h, w, kh, kw, sh, sw, ph, pw, dh, dw));
    }

    @Override public Tensor[] maxPool2d(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, boolean ceilMode) {
        return wrap(CPU.maxPool2d(cpu(x), kh, kw, sh, sw, ph, pw, dh, dw, ceilMode));
    }

    @Override public Tensor maxPool2dBackward(Tensor dy, Tensor indices, int[] inputShape) {
        return wrap(CPU.maxPool2dBackward(cpu(dy), cpu(indices), inputShape));
    }

    @Override public void uniform(Tensor dst, double lo, double hi, Generator gen) { CPU.uniform(cpu(dst), lo, hi, gen); }

    @Override public void normal(Tensor dst, double mean, double std, Generator gen) { CPU.normal(cpu(dst), mean, std, gen); }

    @Override public Tensor multinomial(Tensor probs, int n, boolean replacement, Generator gen) {
        return wrap(CPU.multinomial(cpu(probs), n, replacement, gen));
    }

    @Override public void adamwStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
                                    double eps, double weightDecay, long step) {
        CPU.adamwStep(cpu(param), cpu(grad), cpu(expAvg), cpu(expAvgSq), lr, beta1, beta2, eps, weightDecay, step);
    }

    @Override public Tensor sgdStep(Tensor param, Tensor grad, Tensor momentumBuf, double lr, double momentum, double dampening,
                                    double weightDecay, boolean nesterov) {
        Tensor cb = cpu(momentumBuf);
        Tensor r = CPU.sgdStep(cpu(param), cpu(grad), cb, lr, momentum, dampening, weightDecay, nesterov);
        if (r == null) return null;
        return momentumBuf != null && r.storage() == cb.storage() ? momentumBuf : wrap(r);
    }
}
