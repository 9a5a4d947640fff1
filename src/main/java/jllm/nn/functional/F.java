package jllm.nn.functional;

import jllm.backend.Backend;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Shape;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The functional API ({@code torch.nn.functional}). The hot ops (softmax, layer and RMS norm,
 * cross-entropy, attention) run one fused kernel forward and one backward.
 */
public final class F {
    private F() {}

    /** Reductions of losses, as in PyTorch. */
    public enum Reduction {
        NONE, MEAN, SUM;

        public static Reduction parse(String s) {
            return switch (s) {
                case "none" -> NONE;
                case "mean" -> MEAN;
                case "sum" -> SUM;
                default -> throw new IllegalArgumentException(s + " is not a valid value for reduction (none, mean, sum)");
            };
        }
    }

    // ------------------------------------------------------------------ basics

    /** y = x W^T + b (b may be null). */
    public static Tensor linear(Tensor x, Tensor weight, Tensor bias) {
        if (x.size(-1) != weight.size(-1)) {
            throw new IllegalArgumentException("linear: input has " + x.size(-1) + " features but the weight "
                    + Arrays.toString(weight.shape()) + " expects " + weight.size(-1));
        }
        Tensor y = x.matmul(weight.t());
        return bias == null ? y : y.add(bias);
    }

    public static Tensor relu(Tensor x) { return x.relu(); }

    public static Tensor gelu(Tensor x) { return x.gelu(); }

    public static Tensor gelu(Tensor x, String approximate) { return x.gelu(approximate); }

    public static Tensor silu(Tensor x) { return x.silu(); }

    public static Tensor tanh(Tensor x) { return x.tanh(); }

    public static Tensor sigmoid(Tensor x) { return x.sigmoid(); }

    public static Tensor softmax(Tensor x, int dim) { return x.softmax(dim); }

    public static Tensor logSoftmax(Tensor x, int dim) { return x.logSoftmax(dim); }

    /** Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p) when training. */
    public static Tensor dropout(Tensor x, double p, boolean training) { return dropout(x, p, training, Generator.defaultGenerator()); }

    public static Tensor dropout(Tensor x, double p, boolean training, Generator gen) {
        if (p < 0 || p > 1) throw new IllegalArgumentException("dropout probability has to be between 0 and 1, but got " + p);
        if (!training || p == 0) return x;
        if (p == 1) return x.mul(0);
        Tensor keep = Tensor.rand(x.shape(), gen, x.device()).ge(p);
        return x.mul(keep.to(x.dtype())).mul(1.0 / (1.0 - p));
    }

    // ------------------------------------------------------------------ embeddings

    /** Rows of weight [V, D] for indices of any shape; padding_idx rows get no gradient (pass null for none). */
    public static Tensor embedding(Tensor indices, Tensor weight, Integer paddingIdx) {
        if (indices.dtype() != DType.I64 && indices.dtype() != DType.I32) {
            throw new IllegalArgumentException("Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, Int; but got "
                    + indices.dtype().torchName() + " instead");
        }
        if (paddingIdx == null) return weight.embedding(indices);
        int pad = paddingIdx < 0 ? paddingIdx + weight.size(0) : paddingIdx;
        Tensor out = weight.detach().embedding(indices);
        int[] wShape = weight.shape();
        Tensor flat = indices.reshape(-1);
        return Tensor.record(out, "EmbeddingBackward0", new Tensor[] {weight}, new Tensor[] {flat}, (g, s) -> {
            Tensor keep = s[0].ne(pad);
            Tensor gg = g.reshape(-1, wShape[1]).mul(keep.unsqueeze(1).to(g.dtype()));
            return new Tensor[] {g.backend().indexAdd(wShape, 0, s[0], gg)};
        });
    }

    // ------------------------------------------------------------------ normalisation

    private static int trailing(Tensor x, int[] normalizedShape, String op) {
        int k = normalizedShape.length;
        int[] s = x.shape();
        boolean ok = k <= s.length;
        for (int i = 0; ok && i < k; i++) ok = s[s.length - k + i] == normalizedShape[i];
        if (!ok) {
            throw new IllegalArgumentException(op + ": given normalized_shape=" + Arrays.toString(normalizedShape)
                    + ", expected input with shape [*, " + Arrays.toString(normalizedShape).replaceAll("[\\[\\]]", "")
                    + "], but got input of size " + Arrays.toString(s));
        }
        return Shape.numel(normalizedShape);
    }

    /** Layer norm over the trailing normalizedShape dims; weight/bias may be null. */
    public static Tensor layerNorm(Tensor x, int[] normalizedShape, Tensor weight, Tensor bias, double eps) {
        int c = trailing(x, normalizedShape, "layer_norm");
        int[] xs = x.shape();
        Backend be = x.backend();
        Tensor w = weight == null ? null : weight.detach().reshape(c), b = bias == null ? null : bias.detach().reshape(c);
        Tensor x2 = x.detach().reshape(-1, c);
        Tensor[] r = be.layerNorm(x2, w, b, eps);
        Tensor y = r[0].reshape(xs);
        int[] ws = weight == null ? null : weight.shape(), bs = bias == null ? null : bias.shape();
        boolean hasBias = bias != null;
        return Tensor.record(y, "NativeLayerNormBackward0", new Tensor[] {x, weight, bias}, new Tensor[] {x2, r[1], r[2], w},
                (g, s) -> {
                    Tensor[] d = g.backend().layerNormBackward(g.reshape(-1, c), s[0], s[1], s[2], s[3], hasBias);
                    return new Tensor[] {d[0].reshape(xs), d[1] == null ? null : d[1].reshape(ws), d[2] == null ? null : d[2].reshape(bs)};
                });
    }

    /** RMS norm: x * rsqrt(mean(x^2) + eps) * weight over the trailing dims (weight may be null). */
    public static Tensor rmsNorm(Tensor x, int[] normalizedShape, Tensor weight, double eps) {
        int c = trailing(x, normalizedShape, "rms_norm");
        int[] xs = x.shape();
        Tensor w = weight == null ? null : weight.detach().reshape(c);
        Tensor x2 = x.detach().reshape(-1, c);
        Tensor[] r = x.backend().rmsNorm(x2, w, eps);
        Tensor y = r[0].reshape(xs);
        int[] ws = weight == null ? null : weight.shape();
        return Tensor.record(y, "RmsNormBackward0", new Tensor[] {x, weight}, new Tensor[] {x2, r[1], w}, (g, s) -> {
            Tensor[] d = g.backend().rmsNormBackward(g.reshape(-1, c), s[0], s[1], s[2]);
            return new Tensor[] {d[0].reshape(xs), d[1] == null ? null : d[1].reshape(ws)};
        });
    }

    // ------------------------------------------------------------------ losses

    public static Tensor crossEntropy(Tensor logits, Tensor target) { return crossEntropy(logits, target, -100, Reduction.MEAN, 0.0); }

    /**
     * Cross-entropy on class-index targets: logits [N, C] with target [N], [C] with a 0-dim target,
     * or [N, C, d1, ...] with target [N, d1, ...] (class dim 1, as PyTorch).
     */
    public static Tensor crossEntropy(Tensor logits, Tensor target, long ignoreIndex, Reduction reduction, double labelSmoothing) {
        if (target.dtype().isFloatingPoint()) {
            throw new IllegalArgumentException("cross_entropy: class-probability targets are not supported; expected an integer target, got "
                    + target.dtype().torchName());
        }
        if (labelSmoothing < 0 || labelSmoothing > 1) {
            throw new IllegalArgumentException("label_smoothing must be between 0.0 and 1.0. Got: " + labelSmoothing);
        }
        Tensor l2;
        Tensor t1;
        int[] rowShape;
        if (logits.dim() == 1) {
            l2 = logits.unsqueeze(0);
            t1 = target.reshape(1);
            rowShape = new int[0];
        } else if (logits.dim() == 2) {
            l2 = logits;
            t1 = target;
            rowShape = new int[] {logits.size(0)};
        } else {
            int c = logits.size(1);
            int[] perm = new int[logits.dim()];
            perm[0] = 0;
            for (int i = 1; i < perm.length - 1; i++) perm[i] = i + 1;
            perm[perm.length - 1] = 1;
            l2 = logits.permute(perm).reshape(-1, c);
            t1 = target.reshape(-1);
            rowShape = target.shape();
        }
        int n = l2.size(0);
        if (t1.numel() != n || (logits.dim() > 2 && !expectedTargetShape(logits, target))) {
            throw new IllegalArgumentException("cross_entropy: expected target of shape " + Arrays.toString(expectedTarget(logits))
                    + " for input of shape " + Arrays.toString(logits.shape()) + ", got " + Arrays.toString(target.shape()));
        }
        Backend be = l2.backend();
        Tensor ld = l2.detach();
        Tensor[] r = be.crossEntropy(ld, t1, ignoreIndex, labelSmoothing);
        Tensor perRow = r[0];
        Tensor lse = r[1];
        long count = 0;
        long[] tv = t1.toLongArray();
        for (long v : tv) if (v != ignoreIndex) count++;
        Tensor out;
        Tensor rowGradScale;
        switch (reduction) {
            case NONE -> {
                out = perRow.reshape(rowShape);
                rowGradScale = null;
            }
            case SUM -> {
                out = perRow.sum();
                rowGradScale = Tensor.scalar(1.0, DType.F32, l2.device());
            }
            default -> {
                out = perRow.sum().div(count);
                rowGradScale = Tensor.scalar(1.0 / count, DType.F32, l2.device());
            }
        }
        out = out.detach();
        final Tensor scale = rowGradScale;
        return Tensor.record(out, "NllLossBackward0", new Tensor[] {l2}, new Tensor[] {ld, t1, lse}, (g, s) -> {
            Tensor gRow = scale == null ? g.reshape(-1) : g.reshape(1).mul(scale);
            return new Tensor[] {g.backend().crossEntropyBackward(s[0], s[1], s[2], gRow, ignoreIndex, labelSmoothing)};
        });
    }

    private static int[] expectedTarget(Tensor logits) {
        int[] s = logits.shape();
        if (s.length == 1) return new int[0];
        int[] t = new int[s.length - 1];
        t[0] = s[0];
        for (int i = 2; i < s.length; i++) t[i - 1] = s[i];
        return t;
    }

    private static boolean expectedTargetShape(Tensor logits, Tensor target) {
        return Arrays.equals(expectedTarget(logits), target.shape());
    }

    public static Tensor mseLoss(Tensor input, Tensor target) { return mseLoss(input, target, Reduction.MEAN); }

    public static Tensor mseLoss(Tensor input, Tensor target, Reduction reduction) {
        Tensor d = input.sub(target).square();
        return switch (reduction) {
            case NONE -> d;
            case SUM -> d.sum();
            case MEAN -> d.mean();
        };
    }

    // ------------------------------------------------------------------ attention

    /** scaled_dot_product_attention with the default scale 1/sqrt(E), no mask, no dropout. */
    public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, boolean isCausal) {
        return scaledDotProductAttention(q, k, v, null, 0.0, isCausal, null, false);
    }

    /**
     * softmax(q k^T * scale + mask) v over q [..., L, E], k [..., S, E], v [..., S, Ev]. attnMask is
     * boolean (true = take part) or additive float, broadcastable to [..., L, S]; isCausal applies a
     * top-left lower-triangular mask. enableGqa lets q have a multiple of k/v's heads (dim -3).
     */
    public static Tensor scaledDotProductAttention(Tensor q, Tensor k, Tensor v, Tensor attnMask, double dropoutP,
                                                   boolean isCausal, Double scale, boolean enableGqa) {
        if (isCausal && attnMask != null) {
            throw new IllegalArgumentException("scaled_dot_product_attention: explicit attn_mask should not be set when is_causal=True");
        }
        if (q.dim() < 2 || k.dim() != q.dim() || v.dim() != q.dim()) {
            throw new IllegalArgumentException("scaled_dot_product_attention: q, k, v must have the same rank >= 2, got "
                    + Arrays.toString(q.shape()) + ", " + Arrays.toString(k.shape()) + ", " + Arrays.toString(v.shape()));
        }
        double sc = scale != null ? scale : 1.0 / Math.sqrt(q.size(-1));
        Tensor additive = null;
        if (attnMask != null) {
            additive = attnMask.dtype() == DType.BOOL
                    ? Tensor.where(attnMask, Tensor.scalar(0, DType.F32, q.device()), Tensor.scalar(Double.NEGATIVE_INFINITY, DType.F32, q.device()))
                    : attnMask;
        }
        int hq = q.dim() >= 3 ? q.size(-3) : 1, hk = k.dim() >= 3 ? k.size(-3) : 1;
        if (hq != hk && !(enableGqa && hk > 0 && hq % hk == 0)) {
            throw new IllegalArgumentException("scaled_dot_product_attention: q has " + hq + " heads but k/v have " + hk
                    + (enableGqa ? "" : " (pass enableGqa=true for grouped-query attention)"));
        }
        if (dropoutP > 0) return mathAttention(q, k, v, additive, dropoutP, isCausal, sc, hq / hk);
        // fused path on [B, H, T, E]
        Tensor q4 = to4d(q), k4 = to4d(k), v4 = to4d(v);
        if (q4.size(0) != k4.size(0) || k4.size(0) != v4.size(0)) {
            throw new IllegalArgumentException("scaled_dot_product_attention: batch dims of q, k, v differ: " + Arrays.toString(q.shape())
                    + ", " + Arrays.toString(k.shape()) + ", " + Arrays.toString(v.shape()));
        }
        Tensor m4 = additive == null ? null : maskTo4d(additive, q.dim());
        Tensor qd = q4.detach(), kd = k4.detach(), vd = v4.detach();
        Tensor[] r = q.backend().attention(qd, kd, vd, m4, isCausal, sc);
        int[] outShape = q.shape();
        outShape[outShape.length - 1] = v.size(-1);
        Tensor out = r[0].reshape(outShape);
        int[] qs = q.shape(), ks = k.shape(), vs = v.shape();
        Tensor o4 = r[0], lse = r[1];
        return Tensor.record(out, "ScaledDotProductAttentionBackward0", new Tensor[] {q, k, v},
                new Tensor[] {qd, kd, vd, m4, o4, lse}, (g, s) -> {
                    Tensor[] d = g.backend().attentionBackward(to4d(g), s[0], s[1], s[2], s[3], isCausal, sc, s[4], s[5]);
                    return new Tensor[] {d[0].reshape(qs), d[1].reshape(ks), d[2].reshape(vs)};
                });
    }

    private static Tensor to4d(Tensor t) {
        int[] s = t.shape();
        int r = s.length;
        int heads = r >= 3 ? s[r - 3] : 1;
        int batch = 1;
        for (int i = 0; i < r - 3; i++) batch *= s[i];
        return t.reshape(batch, heads, s[r - 2], s[r - 1]);
    }

    /** Brings a mask broadcastable to [..., L, S] to rank 4 ([B|1, H|1, L|1, S|1]) without copying. */
    private static Tensor maskTo4d(Tensor m, int rank) {
        Tensor t = m;
        while (t.dim() < rank) t = t.unsqueeze(0);
        if (rank > 4) {
            int[] s = t.shape();
            int lead = 1;
            boolean all1 = true;
            for (int i = 0; i < rank - 3; i++) {
                lead *= s[i];
                all1 &= s[i] == 1;
            }
            t = all1 ? t.reshape(1, s[rank - 3], s[rank - 2], s[rank - 1]) : t.reshape(lead, s[rank - 3], s[rank - 2], s[rank - 1]);
        }
        while (t.dim() < 4) t = t.unsqueeze(0);
        return t;
    }

    /** The reference composition, used for attention dropout. */
    private static Tensor mathAttention(Tensor q, Tensor k, Tensor v, Tensor mask, double p, boolean causal, double scale, int groups) {
        if (groups > 1) {
            k = repeatInterleave(k, groups, -3);
            v = repeatInterleave(v, groups, -3);
        }
        Tensor s = q.matmul(k.mT()).mul(scale);
        if (causal) {
            int l = q.size(-2), sk = k.size(-2);
            Tensor keep = Tensor.ones(new int[] {l, sk}, DType.BOOL, q.device()).tril(0);
            s = s.maskedFill(keep.logicalNot(), Double.NEGATIVE_INFINITY);
        }
        if (mask != null) s = s.add(mask);
        Tensor a = dropout(s.softmax(-1), p, true);
        return a.matmul(v);
    }

    /** Repeats each slice along dim `times` times in place (torch.repeat_interleave for an int). */
    public static Tensor repeatInterleave(Tensor x, int times, int dim) {
        int d = Shape.wrapDim(dim, x.dim());
        int[] s = x.shape();
        int[] e = Arrays.copyOf(s, s.length + 1);
        System.arraycopy(s, d + 1, e, d + 2, s.length - d - 1);
        e[d + 1] = times;
        int[] fin = s.clone();
        fin[d] = s[d] * times;
        return x.unsqueeze(d + 1).expand(e).reshape(fin);
    }

    // ------------------------------------------------------------------ convolution and pooling

    /** Extracts sliding blocks: x [N, C, H, W] -> [N, C*kh*kw, L] (torch.nn.functional.unfold). */
    public static Tensor unfold(Tensor x, int[] kernel, int[] dilation, int[] padding, int[] stride) {
        if (x.dim() != 4) throw new IllegalArgumentException("unfold: expected a 4-D input [N, C, H, W], got " + Arrays.toString(x.shape()));
        int[] xs = x.shape();
        Tensor out = x.backend().im2col(x.detach(), kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1]);
        return Tensor.record(out, "Im2ColBackward0", new Tensor[] {x}, new Tensor[0], (g, s) -> new Tensor[] {
            g.backend().col2im(g, xs[1], xs[2], xs[3], kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0], dilation[1])});
    }

    /** 2-D convolution, x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw], bias [Cout] or null. */
    public static Tensor conv2d(Tensor x, Tensor weight, Tensor bias, int[] stride, int[] padding, int[] dilation, int groups) {
        boolean batched = x.dim() == 4;
        if (x.dim() == 3) x = x.unsqueeze(0);
        if (x.dim() != 4 || weight.dim() != 4) {
            throw new IllegalArgumentException("conv2d: expected a 3-D or 4-D input and a 4-D weight, got input " + Arrays.toString(x.shape())
                    + " and weight " + Arrays.toString(weight.shape()));
        }
        int n = x.size(0), cin = x.size(1), h = x.size(2), w = x.size(3);
        int cout = weight.size(0), kh = weight.size(2), kw = weight.size(3);
        if (groups < 1 || cin % groups != 0 || cout % groups != 0 || weight.size(1) * groups != cin) {
            throw new IllegalArgumentException("conv2d: expected input " + Arrays.toString(x.shape()) + " to have "
                    + weight.size(1) * groups + " channels (weight " + Arrays.toString(weight.shape()) + ", groups=" + groups
                    + "), but got " + cin + " channels instead");
        }
        int oh = (h + 2 * padding[0] - dilation[0] * (kh - 1) - 1) / stride[0] + 1;
        int ow = (w + 2 * padding[1] - dilation[1] * (kw - 1) - 1) / stride[1] + 1;
        List<Tensor> outs = new ArrayList<>();
        int cg = cin / groups, og = cout / groups;
        for (int g = 0; g < groups; g++) {
            Tensor xg = groups == 1 ? x : x.narrow(1, g * cg, cg);
            Tensor wg = groups == 1 ? weight : weight.narrow(0, g * og, og);
            Tensor cols = unfold(xg, new int[] {kh, kw}, dilation, padding, stride);
            outs.add(wg.reshape(og, -1).matmul(cols));
        }
        Tensor y = groups == 1 ? outs.get(0) : Tensor.cat(outs, 1);
        y = y.reshape(n, cout, oh, ow);
        if (bias != null) y = y.add(bias.reshape(1, cout, 1, 1));
        return batched ? y : y.squeeze(0);
    }

    /** 2-D max pooling (indices used for the backward pass). */
    public static Tensor maxPool2d(Tensor x, int[] kernel, int[] stride, int[] padding, int[] dilation, boolean ceilMode) {
        boolean batched = x.dim() == 4;
        Tensor x4 = batched ? x : x.unsqueeze(0);
        if (x4.dim() != 4) throw new IllegalArgumentException("max_pool2d: expected a 3-D or 4-D input, got " + Arrays.toString(x.shape()));
        int[] st = stride == null || stride.length == 0 ? kernel : stride;
        int[] xs = x4.shape();
        Tensor[] r = x.backend().maxPool2d(x4.detach(), kernel[0], kernel[1], st[0], st[1], padding[0], padding[1], dilation[0], dilation[1], ceilMode);
        Tensor y = Tensor.record(r[0], "MaxPool2DWithIndicesBackward0", new Tensor[] {x4}, new Tensor[] {r[1]}, (g, s) -> new Tensor[] {
            g.backend().maxPool2dBackward(g, s[0], xs)});
        return batched ? y : y.squeeze(0);
    }
}
