package jllm.tensor;

import org.junit.jupiter.api.Test;

import java.util.List;

import static jllm.testing.GradCheck.assertClose;
import static jllm.testing.GradCheck.check;
import static jllm.testing.GradCheck.checkMulti;
import static jllm.testing.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.*;

/** Views share storage, have PyTorch's shapes/strides, and pass gradients back; plus shape-changing copies. */
class ViewOpsTest {

    private static Tensor ar(int... shape) {
        int n = 1;
        for (int s : shape) n *= s;
        float[] d = new float[n];
        for (int i = 0; i < n; i++) d[i] = i;
        return Tensor.of(d, shape);
    }

    @Test
    void viewReshapeFlattenUnflatten() {
        Tensor x = ar(2, 3, 4);
        Tensor v = x.view(6, -1);
        assertArrayEquals(new int[] {6, 4}, v.shape());
        assertSame(x.storage(), v.storage());
        assertTrue(v.isView());
        assertEquals(7, v.get(1, 3), 0);
        assertArrayEquals(new int[] {24}, x.flatten().shape());
        assertArrayEquals(new int[] {2, 12}, x.flatten(1, 2).shape());
        assertArrayEquals(new int[] {6, 4}, x.flatten(0, 1).shape());
        assertArrayEquals(new int[] {2, 3, 2, 2}, x.unflatten(2, 2, -1).shape());
        assertEquals(x.get(1, 2, 3), x.unflatten(-1, 2, 2).get(1, 2, 1, 1), 0);
        // reshape of a non-contiguous tensor copies
        Tensor t = x.transpose(0, 2);
        Tensor r = t.reshape(-1);
        assertNotSame(x.storage(), r.storage());
        assertEquals(x.get(0, 1, 0), r.get(4 * 0 + 1 * 2 * 4 / 4 * 2 - 2 + 0) , 0); // t[0,1,0] = x[0,1,0] at flat 1*2 = 2
        assertEquals(x.get(0, 1, 0), r.get(2), 0);
        check(a -> a[0].view(6, 4), x);
        check(a -> a[0].reshape(4, -1), x);
        check(a -> a[0].transpose(0, 2).reshape(-1), x);
        check(a -> a[0].flatten(1, 2), x);
        check(a -> a[0].unflatten(1, 3, 1), x);
        // writes through a view are seen by the base
        Tensor base = ar(2, 3);
        base.view(-1).narrow(0, 4, 1).fill_(100);
        assertEquals(100, base.get(1, 1), 0);
        // 0-dim <-> 1-element
        assertArrayEquals(new int[0], Tensor.of(new float[] {5}).reshape().shape());
        assertArrayEquals(new int[] {1, 1}, Tensor.scalar(5).view(1, 1).shape());
    }

    @Test
    void transposePermuteTmT() {
        Tensor x = ar(2, 3, 4);
        Tensor t = x.transpose(0, 2);
        assertArrayEquals(new int[] {4, 3, 2}, t.shape());
        assertArrayEquals(new int[] {1, 4, 12}, t.stride());
        assertFalse(t.isContiguous());
        assertEquals(x.get(1, 2, 3), t.get(3, 2, 1), 0);
        Tensor p = x.permute(2, 0, 1);
        assertArrayEquals(new int[] {4, 2, 3}, p.shape());
        assertEquals(x.get(1, 2, 3), p.get(3, 1, 2), 0);
        assertEquals(x.get(1, 2, 3), x.mT().get(1, 3, 2), 0);
        Tensor m = ar(3, 5);
        assertEquals(m.get(1, 4), m.t().get(4, 1), 0);
        assertSame(ar(4).t().shape().length, 1);
        check(a -> a[0].transpose(0, 2), x);
        check(a -> a[0].permute(2, 0, 1), x);
        check(a -> a[0].permute(-1, 0, 1).contiguous(), x);
        check(a -> a[0].mT(), x);
        check(a -> a[0].t(), m);
        assertThrows(IllegalStateException.class, x::t);
        assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1));
        assertThrows(IllegalArgumentException.class, () -> x.permute(0, 1, 1));
    }

    @Test
    void narrowSliceSelect() {
        Tensor x = ar(4, 6);
        Tensor n = x.narrow(1, 2, 3);
        assertArrayEquals(new int[] {4, 3}, n.shape());
        assertEquals(x.get(2, 4), n.get(2, 2), 0);
        Tensor s = x.slice(1, 1, 6, 2);
        assertArrayEquals(new int[] {4, 3}, s.shape());
        assertArrayEquals(new double[] {1, 3, 5}, s.select(0, 0).toDoubleArray());
        Tensor s2 = x.slice(0, -3, 100, 2);
        assertArrayEquals(new int[] {2, 6}, s2.shape());
        assertEquals(x.get(3, 0), s2.get(1, 0), 0);
        assertArrayEquals(new int[] {0, 6}, x.slice(0, 3, 1).shape());
        Tensor sel = x.select(1, -1);
        assertArrayEquals(new int[] {4}, sel.shape());
        assertArrayEquals(new double[] {5, 11, 17, 23}, sel.toDoubleArray());
        check(a -> a[0].narrow(1, 2, 3), x);
        check(a -> a[0].slice(1, 1, 6, 2), x);
        check(a -> a[0].slice(0, 1, 4, 2).slice(1, 0, 5, 3), x);
        check(a -> a[0].select(0, 2), x);
        check(a -> a[0].select(1, -1), x);
        check(a -> a[0].select(1, 0).select(0, 3), x);
        assertThrows(IndexOutOfBoundsException.class, () -> x.narrow(0, 2, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> x.select(0, 4));
        assertThrows(IllegalArgumentException.class, () -> x.slice(0, 0, 4, 0));
    }

    @Test
    void expandUnsqueezeSqueeze() {
        Tensor x = ar(3, 1);
        Tensor e = x.expand(2, 3, 4);
        assertArrayEquals(new int[] {2, 3, 4}, e.shape());
        assertArrayEquals(new int[] {0, 1, 0}, e.stride());
        assertEquals(2, e.get(1, 2, 3), 0);
        assertArrayEquals(new int[] {3, 5}, x.expand(-1, 5).shape());
        check(a -> a[0].expand(2, 3, 4), x);
        check(a -> a[0].expand(2, 3, 4).mul(a[0]), x);
        Tensor u = ar(2, 3).unsqueeze(1);
        assertArrayEquals(new int[] {2, 1, 3}, u.shape());
        assertArrayEquals(new int[] {2, 3, 1}, ar(2, 3).unsqueeze(-1).shape());
        assertArrayEquals(new int[] {1, 2, 3}, ar(2, 3).unsqueeze(0).shape());
        Tensor sq = ar(1, 2, 1, 3);
        assertArrayEquals(new int[] {2, 3}, sq.squeeze().shape());
        assertArrayEquals(new int[] {2, 1, 3}, sq.squeeze(0).shape());
        assertArrayEquals(new int[] {1, 2, 1, 3}, sq.squeeze(1).shape());
        check(a -> a[0].unsqueeze(1), ar(2, 3));
        check(a -> a[0].unsqueeze(-1).unsqueeze(0), ar(2, 3));
        check(a -> a[0].squeeze(), sq);
        check(a -> a[0].squeeze(2), sq);
        assertThrows(IllegalArgumentException.class, () -> ar(2, 3).expand(2, 4));
        assertThrows(IllegalArgumentException.class, () -> ar(2, 3).expand(3));
    }

    @Test
    void chainsOfViews() {
        Tensor x = uniform(1, -1, 1, 2, 3, 4);
        Tensor chain = x.permute(1, 2, 0).slice(1, 1, 4, 2).unsqueeze(0).transpose(0, 3).squeeze(3).narrow(2, 1, 1);
        // manual: chain[i,j,k] = x[i, j, 1 + 2*(1+k)] ... verify via element reads
        double[] v = x.toDoubleArray();
        int[] cs = chain.shape();
        assertArrayEquals(new int[] {2, 3, 1}, cs);
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) {
            assertEquals(v[(i * 3 + j) * 4 + 3], chain.get(i, j, 0), 0);
        }
        check(a -> a[0].permute(1, 2, 0).slice(1, 1, 4, 2).unsqueeze(0).transpose(0, 3).squeeze(3).narrow(2, 1, 1), x);
        check(a -> a[0].transpose(1, 2).reshape(2, 12).view(4, 6).t().contiguous().select(1, 3), x);
        check(a -> a[0].expand(3, 2, 3, 4).permute(3, 1, 0, 2).reshape(-1), x);
        // contiguous() of a contiguous tensor is itself, of a view a copy
        assertSame(x, x.contiguous());
        Tensor tc = x.transpose(0, 1).contiguous();
        assertTrue(tc.isContiguous());
        assertClose(tc, x.transpose(0, 1), 0, 0);
    }

    @Test
    void viewOnNonContiguousFailsWithHint() {
        Tensor t = ar(3, 4).t();
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> t.view(12));
        assertTrue(e.getMessage().contains("view size is not compatible with input tensor's size and stride"), e.getMessage());
        assertTrue(e.getMessage().contains("reshape"), e.getMessage());
        assertArrayEquals(new int[] {12}, t.reshape(12).shape());
        IllegalArgumentException e2 = assertThrows(IllegalArgumentException.class, () -> ar(3, 4).view(5, -1));
        assertTrue(e2.getMessage().contains("is invalid for input of size 12"), e2.getMessage());
    }

    @Test
    void catStackSplitChunk() {
        Tensor a = uniform(2, -1, 1, 2, 3), b = uniform(3, -1, 1, 2, 2), c = uniform(4, -1, 1, 1, 3);
        Tensor cat1 = Tensor.cat(1, a, b);
        assertArrayEquals(new int[] {2, 5}, cat1.shape());
        assertEquals(a.get(1, 2), cat1.get(1, 2), 0);
        assertEquals(b.get(1, 1), cat1.get(1, 4), 0);
        Tensor cat0 = Tensor.cat(0, a, c);
        assertArrayEquals(new int[] {3, 3}, cat0.shape());
        assertEquals(c.get(0, 1), cat0.get(2, 1), 0);
        check(t -> Tensor.cat(1, t[0], t[1]), a, b);
        check(t -> Tensor.cat(-2, t[0], t[1], t[0]), a, c);
        check(t -> Tensor.cat(0, t[0].t(), t[1].t()), a, b);
        Tensor st = Tensor.stack(0, a, a.mul(2));
        assertArrayEquals(new int[] {2, 2, 3}, st.shape());
        assertEquals(2 * a.get(1, 2), st.get(1, 1, 2), 1e-6);
        assertArrayEquals(new int[] {2, 3, 2}, Tensor.stack(-1, a, a).shape());
        assertArrayEquals(new int[] {2, 2, 3}, Tensor.stack(1, a, a).shape());
        check(t -> Tensor.stack(1, t[0], t[1]), a, uniform(5, -1, 1, 2, 3));
        check(t -> Tensor.stack(2, t[0], t[1]), a, uniform(5, -1, 1, 2, 3));

        Tensor x = uniform(6, -1, 1, 5, 4);
        List<Tensor> parts = x.split(2, 0);
        assertEquals(3, parts.size());
        assertArrayEquals(new int[] {1, 4}, parts.get(2).shape());
        assertEquals(x.get(4, 3), parts.get(2).get(0, 3), 0);
        List<Tensor> sized = x.split(new int[] {1, 3}, 1);
        assertArrayEquals(new int[] {5, 3}, sized.get(1).shape());
        List<Tensor> ch = x.chunk(2, 0);
        assertEquals(2, ch.size());
        assertArrayEquals(new int[] {3, 4}, ch.get(0).shape());
        assertArrayEquals(new int[] {2, 4}, ch.get(1).shape());
        assertEquals(4, x.chunk(4, 1).size());
        checkMulti(t -> t[0].split(2, 0), x);
        checkMulti(t -> t[0].split(new int[] {1, 3}, 1), x);
        checkMulti(t -> t[0].chunk(3, 1), x);
        // only some pieces used: unused ones contribute zero
        check(t -> t[0].chunk(2, 0).get(1).mul(2), x);
        checkMulti(t -> t[0].unbind(1), x);
        assertThrows(IllegalArgumentException.class, () -> x.split(new int[] {1, 2}, 1));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Tensor.cat(0, a, b));
        assertTrue(e.getMessage().contains("Sizes of tensors must match except in dimension 0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.stack(0, a, b));
    }

    @Test
    void trilTriu() {
        Tensor x = ar(3, 4);
        assertArrayEquals(new double[] {0, 0, 0, 0, 4, 5, 0, 0, 8, 9, 10, 0}, x.tril(0).toDoubleArray());
        assertArrayEquals(new double[] {0, 1, 0, 0, 4, 5, 6, 0, 8, 9, 10, 11}, x.tril(1).toDoubleArray());
        assertArrayEquals(new double[] {0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0, 0}, x.tril(-2).toDoubleArray());
        assertArrayEquals(new double[] {0, 1, 2, 3, 0, 5, 6, 7, 0, 0, 10, 11}, x.triu(0).toDoubleArray());
        assertArrayEquals(new double[] {0, 0, 2, 3, 0, 0, 0, 7, 0, 0, 0, 0}, x.triu(2).toDoubleArray());
        Tensor b = ar(2, 3, 3);
        assertEquals(0, b.tril(0).get(1, 0, 2), 0);
        assertEquals(b.get(1, 2, 0), b.tril(0).get(1, 2, 0), 0);
        check(t -> t[0].tril(0), uniform(7, -1, 1, 3, 4));
        check(t -> t[0].triu(1), uniform(8, -1, 1, 2, 3, 3));
        // integer tensors keep their dtype (causal masks are built this way)
        Tensor ones = Tensor.ones(new int[] {3, 3}, DType.I64, Device.CPU);
        assertEquals(DType.I64, ones.tril(0).dtype());
        assertEquals(6, ones.tril(0).sum().item());
        assertThrows(IllegalArgumentException.class, () -> ar(3).tril(0));
    }

    @Test
    void flip() {
        Tensor x = ar(2, 3);
        assertArrayEquals(new double[] {2, 1, 0, 5, 4, 3}, x.flip(1).toDoubleArray());
        assertArrayEquals(new double[] {3, 4, 5, 0, 1, 2}, x.flip(0).toDoubleArray());
        check(t -> t[0].flip(1), uniform(9, -1, 1, 2, 3));
        check(t -> t[0].flip(0), uniform(9, -1, 1, 2, 3));
    }

    @Test
    void toDTypeRoundTripGradient() {
        Tensor x = uniform(10, -1, 1, 2, 3);
        check(t -> t[0].to(DType.F64).mul(2).to(DType.F32), x);
        // bf16 keeps 8 significant bits: a step of 0.1 sees the identity to within ~4e-3/0.1
        check(t -> t[0].to(DType.BF16).to(DType.F32), 1e-1, 5e-2, 5e-2, x);
        assertSame(x, x.to(DType.F32));
        Tensor d = x.to(DType.F64);
        assertEquals(DType.F64, d.dtype());
        assertClose(d, x, 0, 0);
        // conversion to an integer type cuts the graph (PyTorch: integer tensors cannot require grad)
        Tensor leaf = x.clone().requiresGrad(true);
        assertFalse(leaf.to(DType.I64).requiresGrad());
    }
}
