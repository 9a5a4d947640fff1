package jllm.nn.functional;

import jllm.nn.functional.F.Reduction;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static jllm.testing.GradCheck.assertClose;
import static jllm.testing.GradCheck.check;
import static jllm.testing.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Finite-difference gradient checks of every differentiable op of {@code F} (the fused kernels'
 * backward passes included), plus forward checks against compositions of basic tensor ops.
 */
class FunctionalGradTest {

    @Test
    void linear() {
        check(in -> F.linear(in[0], in[1], in[2]), uniform(1, -1, 1, 2, 3, 5), uniform(2, -1, 1, 4, 5), uniform(3, -1, 1, 4));
        check(in -> F.linear(in[0], in[1], null), uniform(4, -1, 1, 3, 5), uniform(5, -1, 1, 2, 5));
    }

    @Test
    void layerNormMatchesCompositionAndGradients() {
        Tensor x = uniform(1, -2, 2, 3, 4, 8), w = uniform(2, 0.5, 1.5, 8), b = uniform(3, -1, 1, 8);
        Tensor mean = x.mean(-1, true);
        Tensor var = x.var(new int[] {-1}, true, 0);
        Tensor ref = x.sub(mean).div(var.add(1e-5).sqrt()).mul(w).add(b);
        assertClose(F.layerNorm(x, new int[] {8}, w, b, 1e-5), ref, 1e-5, 1e-5);
        check(in -> F.layerNorm(in[0], new int[] {8}, in[1], in[2], 1e-5), x, w, b);
        check(in -> F.layerNorm(in[0], new int[] {8}, null, null, 1e-5), uniform(4, -2, 2, 5, 8));
        // normalized over two trailing dims
        check(in -> F.layerNorm(in[0], new int[] {2, 3}, in[1], in[2], 1e-5),
                uniform(5, -2, 2, 4, 2, 3), uniform(6, 0.5, 1.5, 2, 3), uniform(7, -1, 1, 2, 3));
    }

    @Test
    void rmsNormMatchesCompositionAndGradients() {
        Tensor x = uniform(1, -2, 2, 3, 7), w = uniform(2, 0.5, 1.5, 7);
        Tensor ref = x.mul(x.square().mean(-1, true).add(1e-6).rsqrt()).mul(w);
        assertClose(F.rmsNorm(x, new int[] {7}, w, 1e-6), ref, 1e-5, 1e-6);
        check(in -> F.rmsNorm(in[0], new int[] {7}, in[1], 1e-6), x, w);
        check(in -> F.rmsNorm(in[0], new int[] {7}, null, 1e-6), uniform(3, -2, 2, 4, 7));
    }

    @Test
    void crossEntropyMatchesLogSoftmaxAndGradients() {
        Tensor logits = uniform(1, -3, 3, 6, 5);
        Tensor target = Tensor.of(new long[] {0, 4, -100, 2, 2, 1});
        // reference: -log_softmax at the target, averaged over non-ignored rows
        Tensor lsm = logits.logSoftmax(-1);
        double ref = 0;
        long[] t = target.toLongArray();
        int n = 0;
        for (int i = 0; i < t.length; i++) {
            if (t[i] == -100) continue;
            ref -= lsm.get(i, (int) t[i]);
            n++;
        }
        assertEquals(ref / n, F.crossEntropy(logits, target).item(), 1e-5);
        check(in -> F.crossEntropy(in[0], target), logits);
        check(in -> F.crossEntropy(in[0], target, -100, Reduction.SUM, 0.0), logits);
        check(in -> F.crossEntropy(in[0], target, -100, Reduction.NONE, 0.0), logits);
        check(in -> F.crossEntropy(in[0], target, -100, Reduction.MEAN, 0.1), logits);
        // N-d: class dim 1
        Tensor l3 = uniform(2, -2, 2, 2, 4, 3);
        Tensor t3 = Tensor.of(new long[] {0, 3, 1, 2, 2, -100}, 2, 3);
        check(in -> F.crossEntropy(in[0], t3), l3);
        assertThrows(IllegalArgumentException.class, () -> F.crossEntropy(logits, Tensor.of(new long[] {0, 9, 1, 1, 1, 1})));
    }

    @Test
    void mseLoss() {
        check(in -> F.mseLoss(in[0], in[1]), uniform(1, -1, 1, 3, 4), uniform(2, -1, 1, 3, 4));
        check(in -> F.mseLoss(in[0], in[1], Reduction.NONE), uniform(3, -1, 1, 5), uniform(4, -1, 1, 5));
    }

    private static Tensor mathAttention(Tensor q, Tensor k, Tensor v, Tensor additive) {
        Tensor s = q.matmul(k.mT()).mul(1.0 / Math.sqrt(q.size(-1)));
        if (additive != null) s = s.add(additive);
        return s.softmax(-1).matmul(v);
    }

    @Test
    void attentionCausalMaskedAndGqa() {
        Tensor q = uniform(1, -1, 1, 2, 2, 5, 4), k = uniform(2, -1, 1, 2, 2, 5, 4), v = uniform(3, -1, 1, 2, 2, 5, 3);
        Tensor causal = Tensor.where(Tensor.ones(new int[] {5, 5}, DType.BOOL, q.device()).tril(0),
                Tensor.scalar(0), Tensor.scalar(Double.NEGATIVE_INFINITY));
        assertClose(F.scaledDotProductAttention(q, k, v, true), mathAttention(q, k, v, causal), 1e-5, 1e-6);
        check(in -> F.scaledDotProductAttention(in[0], in[1], in[2], true), q, k, v);
        // boolean keep-mask and additive mask, broadcast over batch and heads
        boolean[] keep = new boolean[25];
        Generator g = new Generator(7);
        for (int i = 0; i < 25; i++) keep[i] = i % 6 == 0 || g.nextFloat() < 0.6;
        Tensor bmask = Tensor.of(keep, 5, 5);
        check(in -> F.scaledDotProductAttention(in[0], in[1], in[2], bmask, 0.0, false, null, false), q, k, v);
        Tensor add = uniform(9, -1, 1, 5, 5);
        assertClose(F.scaledDotProductAttention(q, k, v, add, 0.0, false, null, false), mathAttention(q, k, v, add), 1e-5, 1e-6);
        check(in -> F.scaledDotProductAttention(in[0], in[1], in[2], add, 0.0, false, null, false), q, k, v);
        // cross attention Tq != Tk, 3-D inputs
        check(in -> F.scaledDotProductAttention(in[0], in[1], in[2], false),
                uniform(4, -1, 1, 2, 3, 4), uniform(5, -1, 1, 2, 6, 4), uniform(6, -1, 1, 2, 6, 4));
        // grouped-query attention: 4 query heads share 2 kv heads
        Tensor qg = uniform(7, -1, 1, 1, 4, 3, 4), kg = uniform(8, -1, 1, 1, 2, 3, 4), vg = uniform(10, -1, 1, 1, 2, 3, 4);
        Tensor ref = mathAttention(qg, F.repeatInterleave(kg, 2, 1), F.repeatInterleave(vg, 2, 1), null);
        assertClose(F.scaledDotProductAttention(qg, kg, vg, null, 0.0, false, null, true), ref, 1e-5, 1e-6);
        check(in -> F.scaledDotProductAttention(in[0], in[1], in[2], null, 0.0, true, null, true), qg, kg, vg);
        assertThrows(IllegalArgumentException.class, () -> F.scaledDotProductAttention(qg, kg, vg, false));
    }

    @Test
    void attentionReadsHeadViewsOfAFusedProjectionInPlace() {
        // q, k, v cut out of one [B, T, 3C] projection the way GPT does: strided views of one buffer
        int b = 2, t = 5, h = 2, d = 4, c = h * d;
        java.util.function.Function<Tensor, Tensor[]> heads = qkv -> {
            var p = qkv.split(c, 2);
            return new Tensor[] {p.get(0).view(b, t, h, d).transpose(1, 2), p.get(1).view(b, t, h, d).transpose(1, 2),
                    p.get(2).view(b, t, h, d).transpose(1, 2)};
        };
        Tensor qkv = uniform(11, -1, 1, b, t, 3 * c);
        Tensor[] s = heads.apply(qkv);
        Tensor out = F.scaledDotProductAttention(s[0], s[1], s[2], true);
        Tensor ref = F.scaledDotProductAttention(s[0].contiguous(), s[1].contiguous(), s[2].contiguous(), true);
        assertClose(out, ref, 1e-6, 1e-7);
        // the output comes back laid out as [B, T, H, D], so merging the heads needs no copy
        assertTrue(out.transpose(1, 2).isContiguous());
        check(in -> {
            Tensor[] x = heads.apply(in[0]);
            return F.scaledDotProductAttention(x[0], x[1], x[2], true).transpose(1, 2).reshape(b, t, c);
        }, qkv);
        // longer sequences (whole blocks of keys): gradients through the views equal those through copies
        int tl = 40;
        Tensor big = uniform(14, -1, 1, b, tl, 3 * c), gy = uniform(15, -1, 1, b, h, tl, d);
        Tensor[] grads = new Tensor[2];
        for (int copy = 0; copy < 2; copy++) {
            Tensor x = big.detach().requiresGrad(true);
            var p = x.split(c, 2);
            Tensor[] hv = new Tensor[3];
            for (int i = 0; i < 3; i++) {
                hv[i] = p.get(i).view(b, tl, h, d).transpose(1, 2);
                if (copy == 1) hv[i] = hv[i].contiguous();
            }
            F.scaledDotProductAttention(hv[0], hv[1], hv[2], true).mul(gy).sum().backward();
            grads[copy] = x.grad();
        }
        assertClose(grads[0], grads[1], 1e-5, 1e-6);
        // with a mask, and an upstream gradient whose rows are not contiguous (copied for the kernel)
        Tensor add = uniform(12, -1, 1, t, t), w = uniform(13, -1, 1, b, h, d, t);
        check(in -> {
            Tensor[] x = heads.apply(in[0]);
            return F.scaledDotProductAttention(x[0], x[1], x[2], add, 0.0, false, null, false).transpose(2, 3).mul(w);
        }, qkv);
    }

    @Test
    void embeddingWithPadding() {
        Tensor idx = Tensor.of(new long[] {1, 3, 1, 0, 2, 3}, 2, 3);
        check(in -> F.embedding(idx, in[0], null), uniform(1, -1, 1, 4, 5));
        Tensor w = uniform(2, -1, 1, 4, 5).requiresGrad(true);
        F.embedding(idx, w, 3).sum().backward();
        Tensor g = w.grad();
        assertEquals(2.0, g.get(1, 0), 0);
        assertEquals(0.0, g.get(3, 2), 0);
    }

    @Test
    void conv2dAndPooling() {
        check(in -> F.conv2d(in[0], in[1], in[2], new int[] {1, 1}, new int[] {0, 0}, new int[] {1, 1}, 1),
                uniform(1, -1, 1, 2, 2, 5, 5), uniform(2, -1, 1, 3, 2, 3, 3), uniform(3, -1, 1, 3));
        check(in -> F.conv2d(in[0], in[1], null, new int[] {2, 1}, new int[] {1, 2}, new int[] {1, 2}, 1),
                uniform(4, -1, 1, 1, 2, 6, 7), uniform(5, -1, 1, 2, 2, 3, 2));
        check(in -> F.conv2d(in[0], in[1], in[2], new int[] {1, 1}, new int[] {1, 1}, new int[] {1, 1}, 2),
                uniform(6, -1, 1, 1, 4, 4, 4), uniform(7, -1, 1, 4, 2, 3, 3), uniform(8, -1, 1, 4));
        // distinct values so no window has a tie within the finite-difference step
        float[] d = new float[2 * 3 * 6 * 6];
        for (int i = 0; i < d.length; i++) d[i] = (float) (((i * 37) % d.length) * 0.05);
        Tensor x = Tensor.of(d, 2, 3, 6, 6);
        check(in -> F.maxPool2d(in[0], new int[] {2, 2}, new int[] {2, 2}, new int[] {0, 0}, new int[] {1, 1}, false), x);
        check(in -> F.maxPool2d(in[0], new int[] {3, 3}, new int[] {2, 2}, new int[] {1, 1}, new int[] {1, 1}, true), x);
    }

    @Test
    void dropoutScalesAndMasks() {
        Tensor x = Tensor.ones(200, 50);
        Tensor y = F.dropout(x, 0.2, true, new Generator(3));
        float[] v = y.toFloatArray();
        int zeros = 0;
        for (float f : v) {
            if (f == 0) zeros++;
            else assertEquals(1.25f, f, 1e-6f);
        }
        double frac = zeros / (double) v.length;
        assertTrue(Math.abs(frac - 0.2) < 0.02, "dropped fraction " + frac);
        assertTrue(F.dropout(x, 0.2, false) == x, "eval mode is the identity");
        // the gradient flows through the same mask
        Tensor p = Tensor.ones(4, 4).requiresGrad(true);
        Tensor out = F.dropout(p, 0.5, true, new Generator(5));
        out.sum().backward();
        assertClose(p.grad(), out.detach());
    }
}
