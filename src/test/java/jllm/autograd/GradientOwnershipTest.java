package jllm.autograd;

import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static jllm.testing.GradCheck.assertClose;
import static org.junit.jupiter.api.Assertions.assertNotSame;

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
}
