package jllm.tensor;

import jllm.testing.TestDevice;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import java.util.List;
import java.util.function.Function;

import static jllm.testing.GradCheck.assertClose;
import static jllm.testing.GradCheck.check;
import static jllm.testing.GradCheck.checkMulti;
import static jllm.testing.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.*;

/** Device placement through a test-only backend ({@code test:0}): checks, transfers, and autograd across devices. */
class DeviceTest {
    static final Device T = TestDevice.DEVICE;

    @BeforeAll
    static void install() { TestDevice.install(); }

    private static void assertMixed(Executable e) {
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, e);
        assertTrue(ex.getMessage().contains("Expected all tensors to be on the same device, but found at least two devices, ")
                && ex.getMessage().contains("cpu") && ex.getMessage().contains("test:0"), ex.getMessage());
    }

    @Test
    void mixingDevicesFails() {
        Tensor c = uniform(1, -1, 1, 2, 2), t = uniform(2, -1, 1, 2, 2).to(T);
        IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> c.add(t));
        assertEquals("Expected all tensors to be on the same device, but found at least two devices, cpu and test:0!", ex.getMessage());
        assertMixed(() -> t.add(c));
        assertMixed(() -> c.matmul(t));
        assertMixed(() -> Tensor.cat(0, c, t));
        assertMixed(() -> Tensor.cat(0, t, c));
        assertMixed(() -> Tensor.stack(0, c, t));
        assertMixed(() -> c.mul(t));
        assertMixed(() -> c.maximum(t));
        assertMixed(() -> Tensor.where(c.gt(0).to(T), c, c));
        assertMixed(() -> c.maskedFill(t.gt(0), 0));
        assertMixed(() -> t.indexSelect(0, Tensor.of(new long[] {0})));
        assertMixed(() -> t.gather(0, Tensor.of(new long[] {0, 1}, 1, 2)));
        assertMixed(() -> t.embedding(Tensor.of(new long[] {0})));
        assertMixed(() -> t.scatterAdd(0, Tensor.of(new long[] {0, 1}, 1, 2).to(T), c.narrow(0, 0, 1)));
        assertMixed(() -> c.clone().add_(t));
        assertMixed(() -> c.clone().maskedFill_(t.gt(0), 1));
        Tensor leaf = c.clone().requiresGrad(true);
        assertMixed(() -> leaf.setGrad(t));
    }

    @Test
    void toDeviceRoundTrips() {
        Tensor c = uniform(3, -1, 1, 2, 3);
        Tensor t = c.to(T);
        assertEquals(T, t.device());
        assertEquals(T, t.storage().device());
        assertSame(t, t.to(T));
        assertClose(t.cpu(), c, 0, 0);
        assertEquals(Device.CPU, t.cpu().device());
        assertClose(c.t().to(T).cpu(), c.t(), 0, 0);
        Tensor l = Tensor.of(new long[] {1, 2, 3}).to("test:0");
        assertEquals(DType.I64, l.dtype());
        assertArrayEquals(new long[] {1, 2, 3}, l.toLongArray());
        assertEquals(T, c.to(T, DType.BF16).device());
        assertEquals(DType.BF16, c.to(T, DType.BF16).dtype());
        assertTrue(t.toString().endsWith(", device='test:0')"), t.toString());
        // results of ops stay on the device
        for (Tensor r : new Tensor[] {t.add(t), t.mul(2), t.exp(), t.sum(), t.sum(0, true), t.matmul(t.t()), t.softmax(-1),
                t.gt(0), t.argmax(1, false), Tensor.cat(0, t, t), t.tril(0), t.flip(0), t.topk(1)[0], t.topk(1)[1],
                t.maxWithIndices(1, false)[1], t.cumsum(1), Tensor.zerosLike(t), Tensor.randLike(t), t.t().contiguous(),
                Tensor.where(t.gt(0), t, 0), t.maskedFill(t.gt(0), 1), t.indexSelect(0, Tensor.of(new long[] {1}).to(T))}) {
            assertEquals(T, r.device(), r::toString);
        }
        assertClose(t.matmul(t.t()).cpu(), c.matmul(c.t()), 1e-6, 1e-6);
        assertClose(t.softmax(0).cpu(), c.softmax(0), 1e-6, 1e-7);
    }

    @Test
    void gradientsFlowAcrossTo() {
        Tensor x = uniform(4, -1, 1, 2, 3).requiresGrad(true);
        Tensor y = x.to(T).mul(x.to(T)).sum();
        assertEquals(T, y.device());
        y.backward();
        assertEquals(Device.CPU, x.grad().device());
        assertClose(x.grad(), x.detach().mul(2), 1e-6, 1e-6);
        check(t -> t[0].to(T).exp().cpu(), uniform(5, -1, 1, 3));
        check(t -> t[0].to(T).matmul(t[1].to(T)).cpu(), uniform(6, -1, 1, 2, 3), uniform(7, -1, 1, 3, 2));
    }

    /** Every backward formula must create its temporaries on the gradient's device. */
    @Test
    void backwardFormulasRunOnTheDevice() {
        List<Function<Tensor[], Tensor>> fns = List.of(
                t -> t[0].add(t[1]), t -> t[0].sub(t[1]), t -> t[0].mul(t[1]), t -> t[0].div(t[1].abs().add(1)),
                t -> t[0].pow(2), t -> t[0].abs().add(0.5).pow(t[1]), t -> t[0].exp(), t -> t[0].abs().add(0.5).log(),
                t -> t[0].abs().add(0.5).sqrt(), t -> t[0].abs().add(0.5).rsqrt(), t -> t[0].tanh(), t -> t[0].sigmoid(),
                t -> t[0].relu(), t -> t[0].gelu(), t -> t[0].gelu("tanh"), t -> t[0].silu(), t -> t[0].erf(),
                t -> t[0].clamp(-0.3, 0.3), t -> t[0].maximum(t[1]), t -> t[0].minimum(t[1]), t -> t[0].rdiv(3).tanh(),
                t -> Tensor.where(t[0].gt(0), t[0], t[1]), t -> t[0].maskedFill(t[1].gt(0), 0),
                t -> t[0].sum(), t -> t[0].mean(1, true), t -> t[0].var(0, false), t -> t[0].std(), t -> t[0].max(),
                t -> t[0].max(1, false), t -> t[0].min(0, true), t -> t[0].prod(1, false), t -> t[0].softmax(0),
                t -> t[0].logSoftmax(1), t -> t[0].matmul(t[1].t()), t -> Tensor.cat(1, t[0], t[1]),
                t -> Tensor.stack(0, t[0], t[1]), t -> t[0].gather(1, Tensor.of(new long[] {2, 0, 1, 1}, 2, 2).to(T)),
                t -> t[0].indexSelect(1, Tensor.of(new long[] {2, 2}).to(T)), t -> t[0].topk(2)[0], t -> t[0].cumsum(1),
                t -> t[0].flip(1), t -> t[0].tril(0), t -> t[0].t().contiguous(), t -> t[0].slice(1, 0, 3, 2),
                t -> t[0].select(0, 1), t -> t[0].unsqueeze(0).expand(2, 2, 3), t -> t[0].to(DType.F64).to(DType.F32));
        Tensor a = uniform(8, -1, 1, 2, 3).to(T), b = uniform(9, -1, 1, 2, 3).to(T);
        for (int i = 0; i < fns.size(); i++) {
            Function<Tensor[], Tensor> f = fns.get(i);
            final int k = i;
            try {
                check(t -> {
                    Tensor r = f.apply(t);
                    assertEquals(T, r.device(), "op " + k + " left the device");
                    return r;
                }, a, b);
            } catch (AssertionError | RuntimeException e) {
                throw new AssertionError("op #" + k + " on test:0: " + e.getMessage(), e);
            }
        }
        checkMulti(t -> t[0].split(1, 1), a);
        // in-place under autograd on the device, including a view
        Tensor mask = b.gt(0.5); // fixed, so finite differences do not cross its edge
        check(t -> {
            Tensor z = t[0].mul(1);
            z.narrow(1, 0, 2).mul_(t[1].narrow(1, 0, 2));
            z.maskedFill_(mask, -1);
            return z;
        }, a, b);
    }
}
