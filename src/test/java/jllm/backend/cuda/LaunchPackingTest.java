package jllm.backend.cuda;

import jllm.tensor.Shape;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The host half of every element-wise launch: the Strides struct CudaBackend packs (with size-1 dims
 * dropped and contiguous dims merged), walked here exactly as the kernels' offsets() walks it, must
 * reach the same element offsets as indexing the original shape and strides.
 */
class LaunchPackingTest {
    /** prelude.cuh's offsets(), in Java. */
    static int[] kernelOffsets(int[] s, int i) {
        int[] o = new int[4];
        int ndim = s[0];
        for (int d = ndim - 1; d >= 0; d--) {
            int n = s[1 + d];
            int c = i % n;
            i /= n;
            for (int k = 0; k < 4; k++) o[k] += c * s[1 + 8 * (k + 1) + d];
        }
        return o;
    }

    static int directOffset(int[] shape, int[] strides, int i) {
        int off = 0;
        for (int d = shape.length - 1; d >= 0; d--) {
            off += (i % shape[d]) * strides[d];
            i /= shape[d];
        }
        return off;
    }

    @Test
    void packedStridesReachTheSameElementsAsTheOriginalLayout() {
        Random r = new Random(3);
        for (int trial = 0; trial < 300; trial++) {
            int rank = r.nextInt(7);
            int[] shape = new int[rank];
            for (int d = 0; d < rank; d++) shape[d] = 1 + r.nextInt(4);
            int[][] ops = new int[3][];
            ops[0] = Shape.contiguousStrides(shape);
            int[] perm = permutedStrides(shape, r);
            ops[1] = perm;
            int[] bshape = shape.clone(); // a broadcast operand: some dims of size 1
            for (int d = 0; d < rank; d++) if (r.nextBoolean()) bshape[d] = 1;
            ops[2] = Shape.broadcastStrides(bshape, Shape.contiguousStrides(bshape), shape);
            int[] packed = CudaBackend.strides(shape, ops);
            for (int i = 0; i < Shape.numel(shape); i++) {
                int[] o = kernelOffsets(packed, i);
                for (int k = 0; k < 3; k++) assertEquals(directOffset(shape, ops[k], i), o[k], "operand " + k + " element " + i);
            }
            int[] exact = CudaBackend.stridesExact(shape, ops);
            assertEquals(rank, exact[0]);
            for (int i = 0; i < Shape.numel(shape); i++) assertEquals(directOffset(shape, ops[1], i), kernelOffsets(exact, i)[1]);
        }
    }

    private static int[] permutedStrides(int[] shape, Random r) {
        int rank = shape.length;
        int[] order = new int[rank];
        for (int i = 0; i < rank; i++) order[i] = i;
        for (int i = rank - 1; i > 0; i--) {
            int j = r.nextInt(i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        int[] st = new int[rank];
        int s = 1;
        for (int k = rank - 1; k >= 0; k--) {
            st[order[k]] = s;
            s *= shape[order[k]];
        }
        return st;
    }

    @Test
    void contiguousOperandsCollapseToOneDim() {
        int[] shape = {2, 3, 4, 5};
        int[] c = Shape.contiguousStrides(shape);
        int[] packed = CudaBackend.strides(shape, c, c);
        assertEquals(1, packed[0]);
        assertEquals(120, packed[1]);
        int[] big = new int[12];
        java.util.Arrays.fill(big, 2);
        int[] alternating = new int[12];
        for (int d = 11, s = 1; d >= 0; d--, s *= 2) alternating[d] = d % 2 == 0 ? s : s * 3; // no two dims merge
        assertThrows(UnsupportedOperationException.class, () -> CudaBackend.strides(big, Shape.contiguousStrides(big), alternating));
    }

    @Test
    void batchStridesForCublas() {
        assertEquals(35L, CudaBackend.batchStride(new int[] {2, 3, 5, 7}, new int[] {105, 35, 7, 1}, 2));
        assertEquals(0L, CudaBackend.batchStride(new int[] {2, 3, 5, 7}, new int[] {0, 0, 7, 1}, 2));
        assertNull(CudaBackend.batchStride(new int[] {2, 3, 5, 7}, new int[] {0, 35, 7, 1}, 2), "partly expanded batch needs a copy");
        assertNull(CudaBackend.batchStride(new int[] {2, 3, 5, 7}, new int[] {35, 70, 7, 1}, 2), "permuted batch dims need a copy");
        assertEquals(35L, CudaBackend.batchStride(new int[] {1, 3, 5, 7}, new int[] {999, 35, 7, 1}, 2), "size-1 batch dims are ignored");
        assertEquals(0L, CudaBackend.batchStride(new int[] {5, 7}, new int[] {7, 1}, 0));
    }
}
