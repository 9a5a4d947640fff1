package jllm.backend.cpu;

import jllm.tensor.DType;
import jllm.tensor.Tensor;

/**
 * Batched matmul on strided operands: a transposed view is handed to the GEMM as a transpose flag
 * with its leading dimension, and batch dims that share one stride (including broadcast stride 0)
 * become one batched call, so views are multiplied without copies.
 */
final class MatMul {
    private MatMul() {}

    /** How a [.., R, C] operand is read: base offset, transposed flag, leading dim, batch stride. */
    private record Layout(Tensor t, boolean trans, int ld, long batchStride) {}

    static Tensor matmul(Tensor a, Tensor b) {
        int r = a.dim();
        int[] as = a.shape(), bs = b.shape();
        int M = as[r - 2], K = as[r - 1], N = bs[r - 1];
        int batch = 1;
        for (int i = 0; i < r - 2; i++) batch *= as[i];
        int[] os = as.clone();
        os[r - 1] = N;
        Tensor out = CpuBackend.alloc(DType.F32, os);
        if (batch == 0 || M == 0 || N == 0) return out;
        boolean fewRows = batch * M <= WeightKernels.TILE_MAX_ROWS;
        if ((WeightKernels.handles(b.dtype()) || (fewRows && b.dtype() == DType.F32)) && weightMatmul(a, b, batch * M, N, K, out)) return out;
        Layout la = layout(a.dtype() == DType.F32 ? a : CpuBackend.cf(a));
        Layout lb = layout(b.dtype() == DType.F32 ? b : CpuBackend.cf(b));
        Gemm.sgemmBatched(la.trans, lb.trans, batch, M, N, K, 1f,
                CpuBackend.f(la.t), la.t.storageOffset(), la.ld, la.batchStride,
                CpuBackend.f(lb.t), lb.t.storageOffset(), lb.ld, lb.batchStride,
                0f, CpuBackend.f(out), 0, N, (long) M * N);
        return out;
    }

    /**
     * A weight operand in its storage type (BF16, F16, Q8_0, Q4_0) shared by the whole batch, as
     * linear layers use it: b = W^T (forward) or b = W (the input's gradient) for a contiguous W.
     * The activations' rows are multiplied against W read in its own type. Also an F32 W^T times a
     * few rows (a decode step, a short prompt), which streams W once without the GEMM's packing. False when b is
     * laid out otherwise (then it is widened to F32 like any other operand).
     */
    private static boolean weightMatmul(Tensor a, Tensor b, int rows, int N, int K, Tensor out) {
        int r = b.dim();
        int[] s = b.shape(), st = b.stride();
        for (int i = 0; i < r - 2; i++) if (s[i] != 1 && st[i] != 0) return false;
        DType t = b.dtype();
        int unit = t.blockSize();
        long off = b.storageOffset();
        boolean transposed = (st[r - 2] == 1 || K == 1) && (st[r - 1] == K || N == 1);
        boolean plain = (st[r - 1] == 1 || N == 1) && (st[r - 2] == N || K == 1);
        int rowLen = transposed ? K : N;
        if (!(transposed || plain) || off % unit != 0 || rowLen % unit != 0) return false;
        if (t == DType.F32 && !transposed) return false; // the GEMM reads a plain F32 [K, N] operand best
        Tensor x = CpuBackend.cf(a);
        Object w = CpuBackend.st(b).array();
        if (transposed) {
            WeightKernels.matmulWT(t, w, off, N, K, CpuBackend.f(x), x.storageOffset(), K, rows, CpuBackend.f(out), 0);
        } else {
            WeightKernels.matmulW(t, w, off, K, N, CpuBackend.f(x), x.storageOffset(), K, rows, CpuBackend.f(out), 0);
        }
        return true;
    }

    private static Layout layout(Tensor t) {
        int r = t.dim();
        int[] s = t.shape(), st = t.stride();
        int rows = s[r - 2], cols = s[r - 1];
        long bstride = batchStride(s, st, r - 2);
        if (bstride >= 0) {
            int rs = st[r - 2], cs = st[r - 1];
            if ((cs == 1 || cols == 1) && (rs >= cols || rows == 1)) return new Layout(t, false, rows == 1 ? Math.max(cols, 1) : rs, bstride);
            if ((rs == 1 || rows == 1) && (cs >= rows || cols == 1)) return new Layout(t, true, cols == 1 ? Math.max(rows, 1) : cs, bstride);
        }
        Tensor c = CpuBackend.cf(t.contiguous());
        return new Layout(c, false, Math.max(cols, 1), (long) rows * cols);
    }

    /** The single stride that walks all batch dims in row-major order, or -1 when there is none. */
    private static long batchStride(int[] s, int[] st, int nb) {
        long stride = -1;
        long expected = -1;
        for (int i = nb - 1; i >= 0; i--) {
            if (s[i] == 1) continue;
            if (stride < 0) {
                stride = st[i];
                expected = (long) st[i] * s[i];
            } else if (st[i] == expected || (stride == 0 && st[i] == 0)) {
                expected = (long) st[i] * s[i];
            } else {
                return -1;
            }
        }
        return stride < 0 ? 0 : stride;
    }
}
