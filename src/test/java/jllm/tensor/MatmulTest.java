package jllm.tensor;

import org.junit.jupiter.api.Test;

import static jllm.testing.GradCheck.assertClose;
import static jllm.testing.GradCheck.check;
import static jllm.testing.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.*;

/** torch.matmul in all its shapes, against a triple loop over the broadcast batch. */
class MatmulTest {

    /** Reference for a [..., M, K] @ [..., K, N] with batch dims already equal (after expand). */
    private static Tensor ref(Tensor a, Tensor b) {
        int r = a.dim();
        int[] as = a.shape(), bs = b.shape();
        int m = as[r - 2], k = as[r - 1], n = bs[r - 1];
        int batch = a.numel() / (m * k);
        double[] x = a.contiguous().toDoubleArray(), y = b.contiguous().toDoubleArray();
        float[] o = new float[batch * m * n];
        for (int p = 0; p < batch; p++) for (int i = 0; i < m; i++) for (int j = 0; j < n; j++) {
            double s = 0;
            for (int q = 0; q < k; q++) s += x[p * m * k + i * k + q] * y[p * k * n + q * n + j];
            o[p * m * n + i * n + j] = (float) s;
        }
        int[] os = as.clone();
        os[r - 1] = n;
        return Tensor.of(o, os);
    }

    @Test
    void vectorVector() {
        Tensor a = uniform(1, -1, 1, 5), b = uniform(2, -1, 1, 5);
        Tensor d = a.matmul(b);
        assertEquals(0, d.dim());
        double s = 0;
        for (int i = 0; i < 5; i++) s += a.get(i) * b.get(i);
        assertEquals(s, d.item(), 1e-5);
        check(t -> t[0].matmul(t[1]), a, b);
    }

    @Test
    void vectorMatrixAndMatrixVector() {
        Tensor v = uniform(3, -1, 1, 4), m = uniform(4, -1, 1, 4, 3), m2 = uniform(5, -1, 1, 3, 4);
        Tensor vm = v.matmul(m);
        assertArrayEquals(new int[] {3}, vm.shape());
        assertClose(vm, ref(v.unsqueeze(0), m).squeeze(0), 1e-5, 1e-5);
        Tensor mv = m2.matmul(v);
        assertArrayEquals(new int[] {3}, mv.shape());
        assertClose(mv, ref(m2, v.unsqueeze(1)).squeeze(1), 1e-5, 1e-5);
        check(t -> t[0].matmul(t[1]), v, m);
        check(t -> t[0].matmul(t[1]), m2, v);
        // batched matrix @ vector, vector @ batched matrix
        Tensor bm = uniform(6, -1, 1, 2, 3, 4);
        assertArrayEquals(new int[] {2, 3}, bm.matmul(v).shape());
        check(t -> t[0].matmul(t[1]), bm, v);
        Tensor v3 = uniform(7, -1, 1, 3);
        assertArrayEquals(new int[] {2, 4}, v3.matmul(bm).shape());
        check(t -> t[0].matmul(t[1]), v3, bm);
    }

    @Test
    void matrixMatrix() {
        Tensor a = uniform(8, -1, 1, 3, 4), b = uniform(9, -1, 1, 4, 5);
        assertClose(a.matmul(b), ref(a, b), 1e-5, 1e-5);
        assertClose(a.mm(b), ref(a, b), 1e-5, 1e-5);
        check(t -> t[0].matmul(t[1]), a, b);
        check(t -> t[0].mm(t[1]), a, b);
    }

    @Test
    void batched3dBy3d() {
        Tensor a = uniform(10, -1, 1, 2, 3, 4), b = uniform(11, -1, 1, 2, 4, 5);
        assertClose(a.matmul(b), ref(a, b), 1e-5, 1e-5);
        check(t -> t[0].matmul(t[1]), a, b);
    }

    @Test
    void broadcast4dBy3dAnd3dBy2d() {
        Tensor a = uniform(12, -1, 1, 2, 3, 2, 4), b = uniform(13, -1, 1, 3, 4, 2);
        Tensor out = a.matmul(b);
        assertArrayEquals(new int[] {2, 3, 2, 2}, out.shape());
        assertClose(out, ref(a, b.expand(2, 3, 4, 2)), 1e-5, 1e-5);
        check(t -> t[0].matmul(t[1]), a, b);
        // batch dims of size 1 broadcast: [2,1,2,4] @ [3,4,2] -> [2,3,2,2]
        Tensor a1 = uniform(14, -1, 1, 2, 1, 2, 4);
        assertClose(a1.matmul(b), ref(a1.expand(2, 3, 2, 4), b.expand(2, 3, 4, 2)), 1e-5, 1e-5);
        check(t -> t[0].matmul(t[1]), a1, b);
        // 3-D @ 2-D (a Linear layer)
        Tensor x = uniform(15, -1, 1, 2, 3, 4), w = uniform(16, -1, 1, 4, 5);
        assertClose(x.matmul(w), ref(x, w.expand(2, 4, 5)), 1e-5, 1e-5);
        check(t -> t[0].matmul(t[1]), x, w);
        // 2-D @ 3-D
        Tensor m = uniform(17, -1, 1, 3, 4), bb = uniform(18, -1, 1, 2, 4, 5);
        assertClose(m.matmul(bb), ref(m.expand(2, 3, 4), bb), 1e-5, 1e-5);
        check(t -> t[0].matmul(t[1]), m, bb);
    }

    @Test
    void transposedAndStridedOperands() {
        Tensor a = uniform(19, -1, 1, 4, 3), b = uniform(20, -1, 1, 5, 4);
        // a.t() [3,4] @ b.t() [4,5]
        assertClose(a.t().matmul(b.t()), ref(a.t(), b.t()), 1e-5, 1e-5);
        check(t -> t[0].t().matmul(t[1].t()), a, b);
        check(t -> t[0].t().matmul(t[1].t().contiguous()), a, b);
        check(t -> t[1].matmul(t[0]), a, b);
        // x @ w.T, the Linear pattern
        Tensor x = uniform(21, -1, 1, 2, 3, 4), w = uniform(22, -1, 1, 5, 4);
        assertClose(x.matmul(w.t()), ref(x, w.t().expand(2, 4, 5)), 1e-5, 1e-5);
        check(t -> t[0].matmul(t[1].t()), x, w);
        // attention pattern: q @ k.transpose(-2,-1) on permuted views
        Tensor q = uniform(23, -1, 1, 2, 3, 2, 4); // [B, T, H, D]
        Tensor k = uniform(24, -1, 1, 2, 3, 2, 4);
        Tensor qp = q.permute(0, 2, 1, 3), kp = k.permute(0, 2, 1, 3); // [B, H, T, D]
        assertClose(qp.matmul(kp.mT()), ref(qp.contiguous(), kp.mT().contiguous()), 1e-5, 1e-5);
        check(t -> t[0].permute(0, 2, 1, 3).matmul(t[1].permute(0, 2, 1, 3).mT()), q, k);
        // sliced (non-unit outer stride) operands
        Tensor big = uniform(25, -1, 1, 6, 8);
        Tensor s1 = big.slice(1, 1, 5), s2 = big.slice(0, 0, 6, 2).slice(1, 2, 7); // [6,4], [3,5]
        assertClose(s1.t().matmul(big.slice(0, 0, 6).slice(1, 0, 3)), ref(s1.t(), big.slice(1, 0, 3)), 1e-5, 1e-5);
        check(t -> t[0].slice(1, 1, 5).t().matmul(t[0].slice(1, 0, 3)), big);
        assertClose(s2.t().matmul(s2), ref(s2.t(), s2), 1e-5, 1e-5);
        // expanded (stride 0) operand
        Tensor e = uniform(26, -1, 1, 1, 4, 3).expand(2, 4, 3);
        Tensor l = uniform(27, -1, 1, 2, 5, 4);
        assertClose(l.matmul(e), ref(l, e.contiguous()), 1e-5, 1e-5);
    }

    @Test
    void largerShapesAgreeWithReference() {
        // sizes that are not multiples of the GEMM blocking
        Tensor a = uniform(28, -1, 1, 37, 53), b = uniform(29, -1, 1, 53, 29);
        assertClose(a.matmul(b), ref(a, b), 1e-4, 1e-4);
        assertClose(b.t().matmul(a.t()), ref(a, b).t(), 1e-4, 1e-4);
    }

    @Test
    void mismatchErrors() {
        Tensor a = uniform(30, -1, 1, 2, 3), b = uniform(31, -1, 1, 4, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.matmul(b));
        assertTrue(e.getMessage().contains("mat1 and mat2 shapes cannot be multiplied (2x3 and 4x5)"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> uniform(32, -1, 1, 3).matmul(uniform(33, -1, 1, 4)));
        assertThrows(IllegalArgumentException.class, () -> uniform(34, -1, 1, 2, 2, 3).matmul(uniform(35, -1, 1, 3, 3, 4)));
        assertThrows(IllegalArgumentException.class, () -> Tensor.scalar(1).matmul(a));
        assertThrows(IllegalArgumentException.class, () -> a.mm(uniform(36, -1, 1, 3)));
    }
}
