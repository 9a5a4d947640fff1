package jllm.backend;

import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.util.List;

/**
 * The kernel set of one device. Tensor ops check their operands, then call these; so do the fused
 * functions of {@code nn.functional.F} (a fused forward and its backward kernel, recorded together)
 * and the optimizers' fused updates. The autograd engine itself calls none: it runs the backward
 * functions ops recorded. Inputs may be arbitrary strided views on this backend's device; outputs are
 * new contiguous tensors unless a method says it writes into an argument. A new device (CUDA)
 * implements this interface and registers itself with {@link Backends}.
 */
public interface Backend {
    Device device();

    // ---- memory ----
    /** A zero-filled storage of n elements. */
    Storage allocate(DType dtype, int n);

    /** A storage holding a copy of a host array (float[], double[], short[], long[], int[] or byte[] matching dtype). */
    Storage fromHost(DType dtype, Object hostArray);

    /** The tensor's elements in row-major order as a new host array of its dtype. */
    Object toHost(Tensor t);

    /** Writes src (broadcast to dst's shape, converting dtype) into the strided dst view. */
    void copy(Tensor src, Tensor dst);

    /** Sets every element of the strided dst view to value. */
    void fill(Tensor dst, double value);

    // ---- element-wise ----
    /** out = op(a) (with scalar parameters p0, p1 where the op has them); out may be null (allocate) or alias a. */
    Tensor unary(UnaryOp op, Tensor a, double p0, double p1, Tensor out);

    /** out = op(a, b) with broadcasting; result dtype outType; out may be null (allocate) or alias a. */
    Tensor binary(BinaryOp op, Tensor a, Tensor b, DType outType, Tensor out);

    /** cond ? a : b with broadcasting. */
    Tensor where(Tensor cond, Tensor a, Tensor b);

    // ---- reductions ----
    /** Reduces over dims (sorted, unique); correction is used by VAR. */
    Tensor reduce(ReduceOp op, Tensor a, int[] dims, boolean keepdim, double correction);

    /** argmax/argmin over one dim (I64 result), first occurrence wins. */
    Tensor argReduce(boolean max, Tensor a, int dim, boolean keepdim);

    /** values and I64 indices of the k largest (or smallest) along the last dim. */
    Tensor[] topk(Tensor a, int k, boolean largest);

    /** cumulative sum along dim. */
    Tensor cumsum(Tensor a, int dim);

    // ---- linear algebra ----
    /** Batched matmul of [..., M, K] by [..., K, N] with batch dims already broadcast to equal shapes. */
    Tensor matmul(Tensor a, Tensor b);

    // ---- fused ops (last dim) ----
    Tensor softmax(Tensor x, boolean log);

    Tensor softmaxBackward(Tensor y, Tensor dy, boolean log);

    /** Returns {y, mean, rstd}. weight/bias may be null. */
    Tensor[] layerNorm(Tensor x, Tensor weight, Tensor bias, double eps);

    /** Returns {dx, dweight, dbias} (null where the input was null). */
    Tensor[] layerNormBackward(Tensor dy, Tensor x, Tensor mean, Tensor rstd, Tensor weight, boolean hasBias);

    /** Returns {y, rstd}. */
    Tensor[] rmsNorm(Tensor x, Tensor weight, double eps);

    /** Returns {dx, dweight}. */
    Tensor[] rmsNormBackward(Tensor dy, Tensor x, Tensor rstd, Tensor weight);

    /** logits [N,V], targets [N] integer: returns {loss per row [N], logsumexp [N]}. */
    Tensor[] crossEntropy(Tensor logits, Tensor targets, long ignoreIndex, double labelSmoothing);

    /** dlogits = g[row] * (softmax - smoothed one-hot), zero for ignored rows. */
    Tensor crossEntropyBackward(Tensor logits, Tensor targets, Tensor lse, Tensor gradPerRow, long ignoreIndex,
                                double labelSmoothing);

    /**
     * q [B,H,Tq,D], k/v [B,Hkv,Tk,D] (H a multiple of Hkv), additive mask broadcastable to [B,H,Tq,Tk] or null.
     * Returns {out [B,H,Tq,Dv], lse [B,H,Tq]}.
     */
    Tensor[] attention(Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale);

    /** Returns {dq, dk, dv}. */
    Tensor[] attentionBackward(Tensor dout, Tensor q, Tensor k, Tensor v, Tensor mask, boolean causal, double scale,
                               Tensor out, Tensor lse);

    // ---- indexing ----
    Tensor indexSelect(Tensor src, int dim, Tensor index);

    /** zeros(shape) then out.index_add_(dim, index, src). */
    Tensor indexAdd(int[] shape, int dim, Tensor index, Tensor src);

    /** target.index_add_(dim, index, src) into a contiguous F32 target, e.g. a gradient being summed into. */
    void indexAddInto(Tensor target, int dim, Tensor index, Tensor src);

    Tensor gather(Tensor src, int dim, Tensor index);

    /** zeros(shape) then out.scatter_add_(dim, index, src). */
    Tensor scatterAdd(int[] shape, int dim, Tensor index, Tensor src);

    Tensor cat(List<Tensor> parts, int dim);

    // ---- convolution helpers ----
    /** x [N,C,H,W] -> columns [N, C*kh*kw, outH*outW]. */
    Tensor im2col(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw);

    /** columns [N, C*kh*kw, L] -> [N,C,H,W], summing overlaps (the adjoint of im2col). */
    Tensor col2im(Tensor cols, int c, int h, int w, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw);

    /** Returns {out, indices (I32 flat index within the plane)}. */
    Tensor[] maxPool2d(Tensor x, int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw, boolean ceilMode);

    Tensor maxPool2dBackward(Tensor dy, Tensor indices, int[] inputShape);

    // ---- random ----
    void uniform(Tensor dst, double lo, double hi, Generator gen);

    void normal(Tensor dst, double mean, double std, Generator gen);

    /** rows of probs [R, C] (non-negative weights) -> I64 [R, n] samples. */
    Tensor multinomial(Tensor probs, int n, boolean replacement, Generator gen);

    // ---- optimizer updates (in place on contiguous F32 tensors) ----
    void adamwStep(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, double lr, double beta1, double beta2,
                   double eps, double weightDecay, long step);

    /** momentumBuf may be null when momentum == 0; returns the (possibly new) momentum buffer. */
    Tensor sgdStep(Tensor param, Tensor grad, Tensor momentumBuf, double lr, double momentum, double dampening,
                   double weightDecay, boolean nesterov);
}
