package jllm.tensor;

import org.junit.jupiter.api.Test;

import static jllm.testing.GradCheck.assertClose;
import static jllm.testing.GradCheck.check;
import static jllm.testing.GradCheck.uniform;
import static org.junit.jupiter.api.Assertions.*;

/** gather, index_select, embedding, scatter_add, topk/sort. */
class IndexingOpsTest {

    @Test
    void gather() {
        Tensor x = uniform(1, -1, 1, 3, 4);
        Tensor idx = Tensor.of(new long[] {3, 0, 1, 1, 2, 2}, 3, 2);
        Tensor g = x.gather(1, idx);
        assertArrayEquals(new int[] {3, 2}, g.shape());
        assertEquals(x.get(0, 3), g.get(0, 0), 0);
        assertEquals(x.get(1, 1), g.get(1, 1), 0);
        assertEquals(x.get(2, 2), g.get(2, 0), 0);
        Tensor idx0 = Tensor.of(new long[] {2, 0, 1, 2}, 1, 4);
        Tensor g0 = x.gather(0, idx0);
        assertArrayEquals(new double[] {x.get(2, 0), x.get(0, 1), x.get(1, 2), x.get(2, 3)}, g0.toDoubleArray());
        // repeated indices accumulate in backward
        check(t -> t[0].gather(1, idx), x);
        check(t -> t[0].gather(0, idx0), x);
        check(t -> t[0].t().gather(0, Tensor.of(new int[] {1, 0, 2}, 1, 3)), x);
        // negative indices are out of range for gather in PyTorch; here they must at least not read wrong data silently
        assertThrows(IndexOutOfBoundsException.class, () -> x.gather(1, Tensor.of(new long[] {4}, 1, 1)));
        assertThrows(IllegalArgumentException.class, () -> x.gather(1, Tensor.of(new float[] {1}, 1, 1)));
    }

    @Test
    void indexSelect() {
        Tensor x = uniform(2, -1, 1, 4, 3);
        Tensor idx = Tensor.of(new long[] {2, 0, 2});
        Tensor r = x.indexSelect(0, idx);
        assertArrayEquals(new int[] {3, 3}, r.shape());
        assertClose(r.select(0, 0), x.select(0, 2), 0, 0);
        assertClose(r.select(0, 2), x.select(0, 2), 0, 0);
        Tensor c = x.indexSelect(1, Tensor.of(new int[] {1}));
        assertArrayEquals(new int[] {4, 1}, c.shape());
        assertEquals(x.get(3, 1), c.get(3, 0), 0);
        check(t -> t[0].indexSelect(0, idx), x);
        check(t -> t[0].indexSelect(1, Tensor.of(new long[] {2, 2, 0, 1})), x);
        check(t -> t[0].t().indexSelect(0, Tensor.of(new long[] {2, 1})), x);
        check(t -> t[0].indexSelect(-1, Tensor.of(new long[] {0})), uniform(3, -1, 1, 2, 3, 2));
        IndexOutOfBoundsException e = assertThrows(IndexOutOfBoundsException.class, () -> x.indexSelect(0, Tensor.of(new long[] {4})));
        assertTrue(e.getMessage().contains("out of bounds for dimension 0 with size 4"), e.getMessage());
    }

    @Test
    void embedding() {
        Tensor w = uniform(4, -1, 1, 5, 3);
        Tensor ids = Tensor.of(new long[] {4, 0, 4, 2, 1, 1}, 2, 3);
        Tensor e = w.embedding(ids);
        assertArrayEquals(new int[] {2, 3, 3}, e.shape());
        assertClose(e.select(0, 0).select(0, 0), w.select(0, 4), 0, 0);
        assertClose(e.select(0, 1).select(0, 2), w.select(0, 1), 0, 0);
        check(t -> t[0].embedding(ids), w);
        // large feature dim: the index-add backward splits over columns
        Tensor wide = uniform(5, -1, 1, 3, 300);
        Tensor one = Tensor.of(new long[] {1, 1, 0});
        Tensor leaf = wide.clone().requiresGrad(true);
        leaf.embedding(one).sum().backward();
        double[] g = leaf.grad().toDoubleArray();
        for (int j = 0; j < 300; j++) {
            assertEquals(1, g[j], 0);
            assertEquals(2, g[300 + j], 0);
            assertEquals(0, g[600 + j], 0);
        }
        assertThrows(IndexOutOfBoundsException.class, () -> w.embedding(Tensor.of(new long[] {5})));
    }

    @Test
    void scatterAdd() {
        Tensor base = uniform(6, -1, 1, 2, 4);
        Tensor idx = Tensor.of(new long[] {0, 0, 3, 1, 1, 1}, 2, 3);
        Tensor src = uniform(7, -1, 1, 2, 3);
        Tensor r = base.scatterAdd(1, idx, src);
        double[] expect = base.toDoubleArray();
        for (int i = 0; i < 2; i++) for (int j = 0; j < 3; j++) expect[i * 4 + (int) idx.get(i, j)] += src.get(i, j);
        assertClose(r, expect, 1e-6, 1e-6);
        check(t -> t[0].scatterAdd(1, idx, t[1]), base, src);
    }

    @Test
    void topkAndSort() {
        Tensor x = Tensor.of(new float[] {3, 1, 4, 1.5f, 5, 9, 2, 6}, 2, 4);
        Tensor[] tk = x.topk(2);
        assertArrayEquals(new double[] {4, 3, 9, 6}, tk[0].toDoubleArray());
        assertArrayEquals(new long[] {2, 0, 1, 3}, tk[1].toLongArray());
        assertEquals(DType.I64, tk[1].dtype());
        Tensor[] sm = x.topk(3, 1, false);
        assertArrayEquals(new double[] {1, 1.5, 3, 2, 5, 6}, sm[0].toDoubleArray());
        assertArrayEquals(new long[] {1, 3, 0, 2, 0, 3}, sm[1].toLongArray());
        Tensor[] col = x.topk(1, 0, true);
        assertArrayEquals(new int[] {1, 4}, col[0].shape());
        assertArrayEquals(new double[] {5, 9, 4, 6}, col[0].toDoubleArray());
        assertArrayEquals(new long[] {1, 1, 0, 1}, col[1].toLongArray());
        Tensor[] srt = x.sort(1, true);
        assertArrayEquals(new double[] {4, 3, 1.5, 1, 9, 6, 5, 2}, srt[0].toDoubleArray());
        // ties: indices of equal values stay in order (stable)
        Tensor ties = Tensor.of(new float[] {2, 7, 7, 1, 7});
        assertArrayEquals(new long[] {1, 2, 4}, ties.topk(3)[1].toLongArray());
        Tensor u = uniform(8, -1, 1, 3, 5);
        check(t -> t[0].topk(2)[0], u);
        check(t -> t[0].topk(2, 0, false)[0], u);
        check(t -> t[0].sort(1, false)[0], u);
        // long rows take the quickselect path: must agree with a full sort
        Tensor longRow = uniform(9, -1, 1, 2, 200);
        Tensor[] big = longRow.topk(5);
        double[] row = longRow.select(0, 1).toDoubleArray();
        java.util.Arrays.sort(row);
        for (int j = 0; j < 5; j++) assertEquals(row[199 - j], big[0].get(1, j), 0);
        assertThrows(IllegalArgumentException.class, () -> x.topk(5));
    }
}
