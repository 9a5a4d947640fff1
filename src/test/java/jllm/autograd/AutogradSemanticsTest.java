package jllm.autograd;

import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static jllm.testing.GradCheck.assertClose;
import static jllm.testing.GradCheck.check;
import static jllm.testing.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.*;

/** The engine's contract: accumulation, retain_graph, detach, grad mode, hooks, in-place checks. */
class AutogradSemanticsTest {

    private static Tensor leaf(float... v) { return Tensor.of(v).requiresGrad(true); }

    @Test
    void gradientsAccumulateAcrossBackwardCalls() {
        Tensor x = leaf(1, 2, 3);
        x.mul(x).sum().backward();
        assertClose(x.grad(), 2, 4, 6);
        x.mul(3).sum().backward();
        assertClose(x.grad(), 5, 7, 9);
        x.setGrad(null);
        x.sum().backward();
        assertClose(x.grad(), 1, 1, 1);
    }

    @Test
    void accumulatedGradIsNotAliasedToGraphTensors() {
        // the first gradient stored in .grad must be a fresh tensor: a later accumulation (add_) must not
        // write into a tensor the graph or the user still holds
        Tensor x = leaf(1, 2);
        Tensor g = Tensor.of(new float[] {10, 20});
        x.mul(1).backward(g);
        x.mul(1).backward(g);
        assertClose(g, 10, 20);
        assertClose(x.grad(), 20, 40);
    }

    @Test
    void backwardWithExplicitGradient() {
        Tensor x = leaf(1, 2, 3);
        Tensor y = x.mul(x);
        y.backward(Tensor.of(new float[] {1, 0.5f, -1}));
        assertClose(x.grad(), 2, 2, -6);
        Tensor z = leaf(1, 2).mul(2);
        IllegalStateException e = assertThrows(IllegalStateException.class, z::backward);
        assertTrue(e.getMessage().contains("grad can be implicitly created only for scalar outputs"), e.getMessage());
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, () -> z.backward(Tensor.ones(3)));
        assertTrue(e2.getMessage().contains("Mismatch in shape"), e2.getMessage());
        IllegalStateException e3 = assertThrows(IllegalStateException.class, () -> Tensor.ones(2).sum().backward());
        assertTrue(e3.getMessage().contains("does not require grad"), e3.getMessage());
    }

    @Test
    void secondBackwardNeedsRetainGraph() {
        Tensor x = leaf(1, 2, 3);
        Tensor y = x.exp().sum();
        y.backward();
        IllegalStateException e = assertThrows(IllegalStateException.class, y::backward);
        assertTrue(e.getMessage().contains("Trying to backward through the graph a second time"), e.getMessage());
        assertTrue(e.getMessage().contains("retainGraph"), e.getMessage());

        Tensor a = leaf(1, 2, 3);
        Tensor b = a.exp().sum();
        b.backward(Tensor.scalar(1), true);
        b.backward(Tensor.scalar(1), true);
        double[] want = new double[] {2 * Math.exp(1), 2 * Math.exp(2), 2 * Math.exp(3)};
        assertClose(a.grad(), want, 1e-6, 1e-6);
        b.backward();
        assertThrows(IllegalStateException.class, b::backward);
    }

    @Test
    void detachCutsTheGraphAndSharesData() {
        Tensor x = leaf(1, 2, 3);
        Tensor y = x.mul(2);
        Tensor d = y.detach();
        assertFalse(d.requiresGrad());
        assertNull(d.gradFn());
        assertSame(y.storage(), d.storage());
        // y * detached(y): gradient only through the first factor
        y.mul(d).sum().backward();
        assertClose(x.grad(), 4, 8, 12);
    }

    @Test
    void gradOffRecordsNothing() {
        Tensor x = leaf(1, 2, 3);
        Tensor y;
        try (var g = Grad.off()) {
            assertFalse(Grad.isEnabled());
            y = x.mul(2).exp();
            assertFalse(y.requiresGrad());
            assertNull(y.gradFn());
            try (var on = Grad.on()) {
                assertTrue(x.mul(2).requiresGrad());
            }
            assertFalse(Grad.isEnabled());
            // in-place on a leaf is allowed under no_grad (how optimizers update parameters)
            x.add_(1);
        }
        assertTrue(Grad.isEnabled());
        assertClose(x, 2, 3, 4);
        assertTrue(x.mul(2).requiresGrad());
    }

    @Test
    void gradModeIsThreadLocal() throws Exception {
        try (var g = Grad.off()) {
            boolean[] other = new boolean[1];
            Thread t = new Thread(() -> other[0] = Grad.isEnabled());
            t.start();
            t.join();
            assertTrue(other[0]);
        }
    }

    @Test
    void frozenInputsGetNoGradient() {
        Tensor w = leaf(1, 2), frozen = Tensor.of(new float[] {3, 4});
        w.mul(frozen).sum().backward();
        assertNull(frozen.grad());
        assertClose(w.grad(), 3, 4);
        Tensor p = leaf(5, 6);
        p.requiresGrad(false);
        Tensor out = p.mul(w);
        assertTrue(out.requiresGrad());
        out.sum().backward();
        assertNull(p.grad());
        assertFalse(p.mul(2).requiresGrad());
        Tensor nonLeaf = w.mul(2);
        assertThrows(IllegalStateException.class, () -> nonLeaf.requiresGrad(false));
    }

    @Test
    void hooks() {
        Tensor x = leaf(1, 2, 3);
        List<String> log = new ArrayList<>();
        x.registerHook(g -> {
            log.add("hook " + g);
            return g.mul(10);
        });
        x.registerPostAccumulateGradHook(t -> log.add("post grad=" + t.grad().toString()));
        x.mul(x).sum().backward();
        assertClose(x.grad(), 20, 40, 60);
        assertEquals(List.of("hook tensor([2., 4., 6.])", "post grad=tensor([20., 40., 60.])"), log);
        // a hook returning null keeps the gradient
        Tensor y = leaf(1, 1);
        y.registerHook(g -> null);
        y.sum().backward();
        assertClose(y.grad(), 1, 1);
        // hooks on a non-leaf see the gradient flowing into it and may change what flows on
        Tensor z = leaf(1, 2);
        Tensor mid = z.mul(3);
        mid.registerHook(g -> g.mul(2));
        mid.sum().backward();
        assertClose(z.grad(), 6, 6);
        assertThrows(IllegalStateException.class, () -> Tensor.ones(2).registerHook(g -> g));
        assertThrows(IllegalStateException.class, () -> z.mul(2).registerPostAccumulateGradHook(t -> { }));
    }

    @Test
    void postAccumulateHookRunsOncePerBackwardWithTotalGradient() {
        // x used twice: the hook must see the summed gradient once (DDP relies on this)
        Tensor x = leaf(1, 2);
        List<double[]> seen = new ArrayList<>();
        x.registerPostAccumulateGradHook(t -> seen.add(t.grad().toDoubleArray()));
        x.mul(2).add(x.mul(3)).sum().backward();
        assertEquals(1, seen.size());
        assertArrayEquals(new double[] {5, 5}, seen.get(0));
    }

    @Test
    void retainGradOnNonLeaf() {
        Tensor x = leaf(1, 2);
        Tensor y = x.mul(3);
        y.retainGrad();
        Tensor z = y.mul(y);
        Tensor notRetained = x.add(1);
        z.add(notRetained).sum().backward();
        assertClose(y.grad(), 6, 12);
        assertNull(notRetained.grad());
        assertClose(x.grad(), 19, 37);
    }

    @Test
    void diamondGraphSumsGradients() {
        Tensor x = leaf(0.5f, -1, 2);
        Tensor a = x.exp(), b = x.mul(x);
        Tensor y = a.mul(b).add(x);
        y.sum().backward();
        double[] xv = {0.5, -1, 2}, want = new double[3];
        for (int i = 0; i < 3; i++) want[i] = Math.exp(xv[i]) * xv[i] * xv[i] + Math.exp(xv[i]) * 2 * xv[i] + 1;
        assertClose(x.grad(), want, 1e-5, 1e-5);
        check(t -> {
            Tensor p = t[0].tanh();
            Tensor q = p.mul(t[0]);
            return q.add(p.sigmoid()).mul(q);
        }, uniform(1, -1, 1, 2, 3));
    }

    @Test
    void branchWithoutGradientStillReleasesDependencies() {
        // one consumer's output is unused: backward must still reach the leaf through the other
        Tensor x = leaf(1, 2);
        Tensor used = x.mul(2), unusedBranch = x.exp();
        List<Tensor> parts = Tensor.stack(0, used, unusedBranch).unbind(0);
        parts.get(0).sum().backward();
        assertClose(x.grad(), 2, 2);
    }

    @Test
    void inPlaceOnLeafRequiringGradFails() {
        Tensor x = leaf(1, 2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> x.add_(1));
        assertTrue(e.getMessage().contains("a leaf Variable that requires grad is being used in an in-place operation."), e.getMessage());
        assertThrows(IllegalStateException.class, () -> x.mul_(Tensor.ones(2)));
        assertThrows(IllegalStateException.class, () -> x.zero_());
    }

    @Test
    void inPlaceOnSavedTensorIsDetected() {
        Tensor x = leaf(1, 2);
        Tensor y = x.exp();
        y.add_(1);
        Tensor loss = y.sum();
        IllegalStateException e = assertThrows(IllegalStateException.class, loss::backward);
        assertTrue(e.getMessage().contains("one of the variables needed for gradient computation has been modified by an inplace operation"),
                e.getMessage());
        // modifying an input that mul saved
        Tensor a = leaf(1, 2);
        Tensor b = a.mul(1);
        Tensor c = b.mul(b);
        b.mul_(2);
        assertThrows(IllegalStateException.class, () -> c.sum().backward());
        // modifying through a view of the saved tensor is detected too (shared storage)
        Tensor p = leaf(1, 2, 3, 4);
        Tensor q = p.sigmoid();
        Tensor loss2 = q.sum();
        try (var g = Grad.off()) {
            q.view(2, 2).select(0, 1).fill_(0);
        }
        assertThrows(IllegalStateException.class, loss2::backward);
    }

    @Test
    void inPlaceOnUnneededNonLeafWorks() {
        Tensor x = leaf(1, 2, 3);
        Tensor z = x.mul(2);
        z.add_(1);
        assertClose(z, 3, 5, 7);
        z.sum().backward();
        assertClose(x.grad(), 2, 2, 2);
        // chains of in-place ops with their own gradients
        Tensor a = leaf(1, 2, 3);
        Tensor b = a.mul(1);
        b.mul_(3).add_(a).exp_();
        b.sum().backward();
        double[] want = new double[3];
        for (int i = 0; i < 3; i++) want[i] = 4 * Math.exp(4 * (i + 1));
        assertClose(a.grad(), want, 1e-5, 1e-3);
        // in-place with another requiring tensor
        Tensor u = leaf(1, 2), v = leaf(3, 4);
        Tensor w = u.mul(1);
        w.mul_(v);
        w.sum().backward();
        assertClose(u.grad(), 3, 4);
        assertClose(v.grad(), 1, 2);
        // in-place into a tensor that did not require grad, with one that does
        Tensor acc = Tensor.zeros(2);
        Tensor s = leaf(1, 2);
        acc.add_(s.mul(2));
        assertTrue(acc.requiresGrad());
        acc.sum().backward();
        assertClose(s.grad(), 2, 2);
    }

    @Test
    void maskedFillInPlaceOnMatmulResult() {
        // the attention pattern of seed-000: att = q @ k^T; att.masked_fill_(mask, -inf); softmax
        Tensor q = uniform(1, -1, 1, 3, 4), k = uniform(2, -1, 1, 3, 4);
        Tensor mask = Tensor.ones(3, 3).triu(1).gt(0);
        check(t -> {
            Tensor att = t[0].matmul(t[1].t());
            att.maskedFill_(mask, Double.NEGATIVE_INFINITY);
            return att.softmax(-1);
        }, q, k);
        Tensor ql = q.clone().requiresGrad(true), kl = k.clone().requiresGrad(true);
        Tensor att = ql.matmul(kl.t());
        att.maskedFill_(mask, Double.NEGATIVE_INFINITY);
        Tensor p = att.softmax(-1);
        assertEquals(0, p.get(0, 1), 0);
        assertEquals(1, p.get(0, 0), 1e-6);
        p.sum().backward();
        assertFalse(Double.isNaN(ql.grad().sum().item()));
    }

    @Test
    void inPlaceOnViewOfNonLeaf() {
        // PyTorch rebases the base's history (CopySlices): y's gradient reaches x through both regions
        Tensor x = leaf(1, 2, 3, 4);
        Tensor y = x.mul(2);
        Tensor row = y.view(2, 2).select(0, 0);
        row.mul_(10);
        assertClose(y, 20, 40, 6, 8);
        y.sum().backward();
        assertClose(x.grad(), 20, 20, 2, 2);
        // the modified view itself carries the new history
        Tensor x2 = leaf(1, 2, 3, 4);
        Tensor v = x2.mul(1).slice(0, 1, 4, 2);
        v.exp_();
        v.sum().backward();
        assertClose(x2.grad(), new double[] {0, Math.exp(2), 0, Math.exp(4)}, 1e-6, 1e-5);
        check(t -> {
            Tensor base = t[0].mul(1);
            base.narrow(1, 1, 2).mul_(t[1]);
            base.select(0, 0).add_(t[0].select(0, 2));
            return base.tanh();
        }, uniform(4, -1, 1, 3, 4), uniform(5, -1, 1, 3, 2));
    }

    @Test
    void inPlaceOnViewOfTensorNotRequiringGrad() {
        // writing a graph value into a slice of a plain buffer makes the buffer part of the graph
        Tensor s = leaf(1, 2);
        Tensor buf = Tensor.zeros(2, 3);
        buf.select(1, 1).copy_(s.mul(3));
        assertTrue(buf.requiresGrad());
        assertClose(buf, 0, 3, 0, 0, 6, 0);
        buf.mul(buf).sum().backward();
        assertClose(s.grad(), 18, 36);
        check(t -> {
            Tensor z = Tensor.zeros(3, 4);
            z.narrow(0, 1, 2).add_(t[0]);
            return z.exp();
        }, uniform(6, -1, 1, 2, 4));
    }

    @Test
    void inPlaceOnViewOfLeafRequiringGradFails() {
        Tensor x = leaf(1, 2, 3);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> x.narrow(0, 0, 2).add_(1));
        assertTrue(e.getMessage().contains("a view of a leaf Variable that requires grad is being used in an in-place operation."),
                e.getMessage());
        try (var g = Grad.off()) {
            x.narrow(0, 0, 2).add_(1);
        }
        assertClose(x, 2, 3, 3);
    }

    @Test
    void inPlaceOnDetachedTensorDoesNotTouchTheGraph() {
        Tensor x = leaf(1, 2);
        Tensor y = x.mul(2);
        Tensor d = y.detach();
        d.add_(1);
        assertClose(y, 3, 5);
        assertFalse(d.requiresGrad());
        y.sum().backward();
        assertClose(x.grad(), 2, 2);
    }

    @Test
    void inPlaceMulWhenBothSidesNeedGradient() {
        Tensor u = leaf(1, 2), v = leaf(3, 4);
        Tensor w = u.mul(1);
        w.mul_(v);
        w.clamp_(0, 5);
        w.pow_(2);
        w.sum().backward();
        // w = min(u*v, 5)^2: u*v = 3 (kept), 8 (clamped)
        assertClose(u.grad(), 2 * 3 * 3, 0);
        assertClose(v.grad(), 2 * 3 * 1, 0);
    }

    @Test
    void backwardThroughToDeviceAndDTypeAndViews() {
        check(t -> t[0].to(jllm.tensor.DType.F64).exp().to(jllm.tensor.DType.F32).view(-1), uniform(3, -1, 1, 2, 2));
    }
}
