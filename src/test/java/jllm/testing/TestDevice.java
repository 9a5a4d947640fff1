package jllm.testing;

import jllm.backend.Backend;
import jllm.backend.Backends;
import jllm.backend.BinaryOp;
import jllm.backend.ReduceOp;
import jllm.backend.Storage;
import jllm.backend.UnaryOp;
import jllm.backend.cpu.CpuBackend;
import jllm.backend.cpu.CpuStorage;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.util.List;

/**
 * A second device for tests, {@code test:N}: its storages live in host memory and every kernel is
 * the CPU one, but tensors report {@code test:N}, so device checks, {@code to(Device)} transfers and
 * backward formulas that must allocate on the gradient's device are exercised without a GPU.
 * Call {@link #install()} (idempotent) before using {@link #DEVICE}.
 */
public final class TestDevice implements Backend {
    public static final Device DEVICE = Device.of("test", 0);

    private static final CpuBackend CPU = CpuBackend.INSTANCE;
    private final Device device;

    private TestDevice(Device device) { this.device = device; }

    public static void install() { Backends.register("test", i -> new TestDevice(Device.of("test", i))); }

    /** Re-labels a kernel output (a CPU tensor) as living on this device, sharing its memory. */
    private Tensor w(Tensor t) {
        if (t == null || t.device().equals(device)) return t;
        CpuStorage s = (CpuStorage) t.storage();
        return Tensor.strided(CpuStorage.wrap(s.dtype(), s.array(), device), t.storageOffset(), t.shape(), t.stride());
    }

    private Tensor[] w(Tensor[] ts) {
        Tensor[] out = new Tensor[ts.length];
        for (int i = 0; i < ts.length; i++) out[i] = w(ts[i]);
        return out;
    }

    private Storage relabel(Storage s) {
        CpuStorage c = (CpuStorage) s;
        return CpuStorage.wrap(c.dtype(), c.array(), device);
    }

    @Override public Device device() { return device; }
    @Override public Storage allocate(DType dtype, int n) { return relabel(CPU.allocate(dtype, n)); }
    @Override public Storage fromHost(DType dtype, Object hostArray) { return relabel(CPU.fromHost(dtype, hostArray)); }
    @Override public Object toHost(Tensor t) { return CPU.toHost(t); }
    @Override public void copy(Tensor src, Tensor dst) { CPU.copy(src, dst); }
    @Override public void fill(Tensor dst, double value) { CPU.fill(dst, value); }
    @Override public Tensor unary(UnaryOp op, Tensor a, double p0, double p1, Tensor out) { return w(CPU.unary(op, a, p0, p1, out)); }
    @Override public Tensor binary(BinaryOp op, Tensor a, Tensor b, DType outType, Tensor out) { return w(CPU.binary(op, a, b, outType, out)); }
    @Override public Tensor where(Tensor cond, Tensor a, Tensor b) { return w(CPU.where(cond, a, b)); }
    @Override public Tensor reduce(ReduceOp op, Tensor a, int[] dims, boolean keepdim, double correction) { return w(CPU.reduce(op, a, dims, keepdim, correction)); }
    @Override public Tensor argReduce(boolean max, Tensor a, int dim, boolean keepdim) { return w(CPU.argReduce(max, a, dim, keepdim)); }
    @Override public Tensor[] topk(Tensor a, int k, boolean largest) { return w(CPU.topk(a, k, largest)); }
    @Override public Tensor cumsum(Tensor a, int dim) { return w(CPU.cumsum(a, dim)); }
    @Override public Tensor matmul(Tensor a, Tensor b) { return w(CPU.matmul(a, b)); }
    @Override public Tensor softmax(Tensor x, boolean log) { return w(CPU.softmax(x, log)); }
    @Override public Tensor softmaxBackward(Tensor y, Tensor dy, boolean log) { return w(CPU.softmaxBackward(y, dy, log)); }
    @Override public Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps) { return w(CPU.layerNorm(x, weight, bias, eps)); }
    @Override public Tensor[] layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor weight, boolean hasBias) {
        return w(CPU.layerNormBackward(dy, x, mean, rstd, weight, hasBias));
    }
    @Override public Tensor[] rmsNorm(Tensor x, Tensor weight, double eps) { return w(CPU.rmsNorm(x, weight, eps)); }
    @Override public Tensor[] rmsNormBackward(Tensor dy, Tensor x, Tensor rstd, Tensor weight) { return w(CPU.rmsNormBackward(dy, x, rstd, weight)); }
    @Override public Tensor[] crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing) {
        return w(CPU.crossEntropy(logits, targets, ignoreIndex, labelSmoothing));
    }
    @Override public Tensor crossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor gradPerRow, long ignoreIndex, double labelSmoothing) {
        return w(CPU.crossEntropyBackward(logits, targets, lse, gradPerRow, ignoreIndex, labelSmoothing));
    }
    @Override public Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale) {
        return w(CPU.attention(q, k, v, mask, causal, scale));
    }
    @Override public Tensor[] attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale, Tensor out, Tensor lse) {
        return w(CPU.attentionBackward(dout, q, k, v, mask, causal, scale, out, lse));
    }
    @Override public Tensor indexSelect(Tensor src, int dim, Tensor index) { return w(CPU.indexSelect(src, dim, index)); }
    @Override public Tensor indexAdd(int[] shape, int dim, Tensor index, Tensor src) { return w(CPU.indexAdd(shape, dim, index, src)); }
    @Override public void indexAddInto(Tensor target, int dim, Tensor index, Tensor src) { CPU.indexAddInto(target, dim, index, src); }
    @Override public Tensor gather(Tensor src, int dim, Tensor index) { return w(CPU.gather(src, dim, index)); }
    @Override public Tensor scatterAdd(int[] shape, int dim, Tensor index, Tensor src) { return w(CPU.scatterAdd(shape, dim, index, src)); }
    @Override public Tensor cat(List<Tensor> parts, int dim) { return w(CPU.cat(parts, dim)); }
    @Override public Tensor im2col(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) { return w(CPU.im2col(x, kh, kw, sh, sw, ph, pw, dh, dw)); }
    @Override public Tensor col2im(Tensor cols, int c, int h, int ww, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw) {
        return w(CPU.col2im(cols, c, h, ww, kh, kw, sh, sw, ph, pw, dh, dw));
    }
    @Override public Tensor[] maxPool2d(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, boolean ceilMode) {
        return w(CPU.maxPool2d(x, kh, kw, sh, sw, ph, pw, dh, dw, ceilMode));
    }
    @Override public Tensor maxPool2dBackward(Tensor dy, Tensor indices, int[] inputShape) { return w(CPU.maxPool2dBackward(dy, indices, inputShape)); }
    @Override public void uniform(Tensor dst, double lo, double hi, Generator gen) { CPU.uniform(dst, lo, hi, gen); }
    @Override public void normal(Tensor dst, double mean, double std, Generator gen) { CPU.normal(dst, mean, std, gen); }
    @Override public Tensor multinomial(Tensor probs, int n, boolean replacement, Generator gen) { return w(CPU.multinomial(probs, n, replacement, gen)); }
    @Override public void adamwStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
                                    double eps, double weightDecay, long step) {
        CPU.adamwStep(param, grad, expAvg, expAvgSq, lr, beta1, beta2, eps, weightDecay, step);
    }
    @Override public Tensor sgdStep(Tensor param, Tensor grad, Tensor momentumBuf, double lr, double momentum, double dampening,
                                    double weightDecay, boolean nesterov) {
        return w(CPU.sgdStep(param, grad, momentumBuf, lr, momentum, dampening, weightDecay, nesterov));
    }
}
