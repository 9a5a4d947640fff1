package jllm.autograd;

import jllm.nn.functional.F;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static jllm.testing.GradCheck.assertClose;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine sums gradients in place and hands them to leaves without copies only when nothing else holds them. */
class GradientOwnershipTest {
    @Test
    void sharedGradientsAreNotAliasedBetweenLeaves() {
        Tensor a = Tensor.ones(3).requiresGrad(true), b = Tensor.ones(3).requiresGrad(true);
        // add's backward hands the same incoming gradient to both inputs
        a.add(b).sum().backward();
        assertNotSame(a.grad().storage(), b.grad().storage());
        a.grad().add_(10);
        assertClose(b.grad(), Tensor.ones(3));
    }

    @Test
    void manyContributionsSumCorrectly() {
        Tensor x = Tensor.of(new float[] {1, 2, 3}).requiresGrad(true);
        Tensor y = x.mul(2).add(x.mul(3)).add(x.square()).add(x.exp());
        y.sum().backward();
        Tensor expected = Tensor.of(new float[] {1, 2, 3}).mul(2).add(5).add(Tensor.of(new float[] {1, 2, 3}).exp());
        assertClose(x.grad(), expected, 1e-6, 1e-6);
        // a second backward accumulates into the stolen buffer
        x.mul(2).add(x.mul(3)).add(x.square()).add(x.exp()).sum().backward();
        assertClose(x.grad(), expected.mul(2), 1e-6, 1e-6);
    }

    @Test
    void customFunctionReturningASavedTensorIsNotWrittenInto() {
        Tensor keep = Tensor.of(new float[] {5, 5});
        Tensor x = Tensor.zeros(2).requiresGrad(true);
        Tensor out = Tensor.record(x.detach().add(1), "Custom", new Tensor[] {x}, new Tensor[] {keep}, (g, s) -> new Tensor[] {s[0]});
        out.add(x).sum().backward();
        assertClose(keep, Tensor.of(new float[] {5, 5}));
        assertClose(x.grad(), Tensor.of(new float[] {6, 6}));
    }

    @Test
    void slicesOfOneTensorSumIntoOneGradient() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 2, 3).requiresGrad(true);
        var parts = x.split(1, 1);
        // every piece used, one twice, one strided slice, and x itself: pieces add into one buffer
        Tensor y = parts.get(0).mul(2).add(parts.get(1).square()).add(parts.get(2).mul(parts.get(0)))
                .sum().add(x.slice(1, 0, 3, 2).sum()).add(x.mul(x).sum());
        y.backward();
        // d/dx: col0 = 2 + x2 + 1 + 2x0, col1 = 2x1 + 2x1, col2 = x0 + 1 + 2x2
        assertClose(x.grad(), Tensor.of(new float[] {2 + 3 + 1 + 2, 4 + 4, 1 + 1 + 6, 2 + 6 + 1 + 8, 10 + 10, 4 + 1 + 12}, 2, 3));
        // a second backward accumulates into the existing .grad
        Tensor first = x.grad().clone();
        var p2 = x.split(1, 1);
        p2.get(0).sum().add(p2.get(2).sum()).backward();
        assertClose(x.grad(), first.add(Tensor.of(new float[] {1, 0, 1, 1, 0, 1}, 2, 3)));
    }

    @Test
    void transposedWeightGradientIsStolenContiguousAndCorrect() {
        Tensor x = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        Tensor w = Tensor.of(new float[] {1, -1, 2, 0.5f}, 2, 2).requiresGrad(true);
        Tensor xr = x.clone().requiresGrad(true);
        // Linear: x @ w.t(); dW = g^T x computed in w's layout, dx = g w
        xr.matmul(w.t()).sum().backward();
        assertTrue(w.grad().isContiguous());
        assertFalse(w.grad().isView());
        assertClose(w.grad(), Tensor.of(new float[] {9, 12, 9, 12}, 2, 2));
        assertClose(xr.grad(), Tensor.of(new float[] {3, -0.5f, 3, -0.5f, 3, -0.5f}, 3, 2));
        // a transposed left operand too, and a second backward accumulating into the stolen gradient
        Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2).requiresGrad(true);
        a.t().matmul(Tensor.of(new float[] {1, 0, 0, 2}, 2, 2)).sum().backward();
        a.t().matmul(Tensor.of(new float[] {1, 0, 0, 2}, 2, 2)).sum().backward();
        // d/da[i][j] of sum(a^T B) = sum_k B[i][k]
        assertClose(a.grad(), Tensor.of(new float[] {2, 2, 4, 4}, 2, 2));
    }

    @Test
    void aTiedEmbeddingAddsItsRowsIntoTheHeadsGradient() {
        float[] wv = {1, 2, -1, 0.5f, 3, -2, 0.25f, 1};
        Tensor idx = Tensor.of(new long[] {1, 3, 1, 0}), coef = Tensor.of(new float[] {1, -2, 3, 0.5f}).view(1, 4);
        // tied as GPT ties wte and lm_head: the head's weight gradient comes first, then the embedding's rows
        Tensor w = Tensor.of(wv, 4, 2).requiresGrad(true);
        F.linear(w.embedding(idx), w, null).mul(coef).sum().backward();
        // the same with two untied copies
        Tensor e = Tensor.of(wv, 4, 2).requiresGrad(true), h = Tensor.of(wv, 4, 2).requiresGrad(true);
        F.linear(e.embedding(idx), h, null).mul(coef).sum().backward();
        assertClose(w.grad(), e.grad().add(h.grad()), 1e-6, 1e-6);
        assertTrue(w.grad().isContiguous());
        // once more: the rows now add into the .grad accumulated by the first backward
        F.linear(w.embedding(idx), w, null).mul(coef).sum().backward();
        assertClose(w.grad(), e.grad().add(h.grad()).mul(2), 1e-6, 1e-6);
    }
}
