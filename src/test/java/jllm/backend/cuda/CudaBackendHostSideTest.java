package jllm.backend.cuda;

import jllm.backend.BinaryOp;
import jllm.backend.ReduceOp;
import jllm.backend.UnaryOp;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * CudaBackend's host side without a GPU, on {@link StandInDevice}: transfers are real (host memory),
 * GEMM is really computed by a column-major reference so the backend's cuBLAS mapping is checked, and
 * every other op runs its Java side (shape logic, contiguity, argument packing) up to launches that are
 * checked against the kernels' parameter lists. Kernel results are not computed here: that needs a GPU.
 */
class CudaBackendHostSideTest {
    private StandInDevice dev;
    private CudaBackend be;

    @BeforeEach
    void setUp() {
        dev = new StandInDevice();
        be = new CudaBackend(dev);
    }

    private Tensor up(float[] a, int... shape) { return Tensor.fromStorage(be.fromHost(DType.F32, a), shape); }

    private static float[] randn(long seed, int n) {
        Random r = new Random(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Test
    void transfersRoundTripEveryDtypeExactly() {
        float[] f = randn(1, 37);
        assertArrayEquals(f, (float[]) be.toHost(up(f, 37)));
        long[] l = {Long.MIN_VALUE, -1, 1L << 60};
        assertArrayEquals(l, (long[]) be.toHost(Tensor.fromStorage(be.fromHost(DType.I64, l), 3)));
        short[] h = {1, -2, 0x7c00};
        assertArrayEquals(h, (short[]) be.toHost(Tensor.fromStorage(be.fromHost(DType.BF16, h), 3)));
        byte[] b = {1, 0, 1, 1};
        assertArrayEquals(b, (byte[]) be.toHost(Tensor.fromStorage(be.fromHost(DType.BOOL, b), 4)));
        double[] d = {Math.PI, -0.0};
        assertArrayEquals(d, (double[]) be.toHost(Tensor.fromStorage(be.fromHost(DType.F64, d), 2)));
        int[] i = {7, -7};
        assertArrayEquals(i, (int[]) be.toHost(Tensor.fromStorage(be.fromHost(DType.I32, i), 2)));
        Tensor z = Tensor.fromStorage(be.allocate(DType.F32, 1000), 1000);
        assertArrayEquals(new float[1000], (float[]) be.toHost(z), "allocate is zero-filled");
        assertEquals(Device.cuda(0), z.device());
        assertTrue(be.memoryStats().allocatedBytes() > 0);
    }

    private static float[] matmulRef(float[] a, float[] b, int batch, int M, int K, int N, boolean bT, boolean aShared) {
        float[] c = new float[batch * M * N];
        for (int z = 0; z < batch; z++) for (int i = 0; i < M; i++) for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                s += a[(aShared ? 0 : z * M * K) + i * K + k] * (double) (bT ? b[z * N * K + j * K + k] : b[z * K * N + k * N + j]);
            }
            c[(z * M + i) * N + j] = (float) s;
        }
        return c;
    }

    private static void close(float[] e, float[] a) {
        assertEquals(e.length, a.length);
        for (int i = 0; i < e.length; i++) assertEquals(e[i], a[i], 1e-4 + 1e-4 * Math.abs(e[i]), "element " + i);
    }

    private static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
        return t;
    }

    @Test
    void matmulMapsRowMajorLayoutsOntoColumnMajorCublas() {
        int M = 5, K = 7, N = 3;
        float[] a = randn(2, 6 * M * K), b = randn(3, 6 * K * N), bt = randn(4, 6 * N * K);
        close(matmulRef(a, b, 6, M, K, N, false, false), (float[]) be.toHost(be.matmul(up(a, 2, 3, M, K), up(b, 2, 3, K, N))));
        close(matmulRef(a, bt, 6, M, K, N, true, false), (float[]) be.toHost(be.matmul(up(a, 6, M, K), up(bt, 6, N, K).transpose(1, 2))));
        float[] a0 = Arrays.copyOf(a, M * K);
        close(matmulRef(a0, b, 6, M, K, N, false, true),
                (float[]) be.toHost(be.matmul(up(transpose(a0, M, K), K, M).transpose(0, 1).unsqueeze(0).expand(6, M, K), up(b, 6, K, N))));
        close(matmulRef(a0, Arrays.copyOf(b, K * N), 1, M, K, N, false, false),
                (float[]) be.toHost(be.matmul(up(a0, M, K), up(Arrays.copyOf(b, K * N), K, N))));
        float[] row = Arrays.copyOf(a, K); // a [1, K] row vector times [K, N]
        close(matmulRef(row, Arrays.copyOf(b, K * N), 1, 1, K, N, false, false), (float[]) be.toHost(be.matmul(up(row, 1, K), up(Arrays.copyOf(b, K * N), K, N))));
        assertEquals(5, dev.gemms);
        assertTrue(dev.launched.isEmpty(), "no layout above needed a copy kernel: " + dev.launched);
        be.matmul(up(a, 6, M, K).narrow(2, 1, 4), up(Arrays.copyOf(b, 6 * 4 * N), 6, 4, N)); // a narrowed K is still row-major with ld = K
        assertTrue(dev.launched.isEmpty());
        be.matmul(up(a, 2, 3, M, K).transpose(0, 1), up(b, 3, 2, K, N)); // permuted batch dims: copied first
        assertEquals(List.of(Kernel.COPY_CAST), dev.launched);
    }

    @Test
    void everyImplementedOpReachesItsKernelsWithWellFormedArguments() {
        Tensor x = up(randn(5, 4 * 6), 4, 6), y = up(randn(6, 6), 6), w = up(randn(7, 6), 6);
        Tensor xt = x.transpose(0, 1);
        for (UnaryOp op : UnaryOp.values()) be.unary(op, xt, 0.5, 1.5, null);
        for (BinaryOp op : BinaryOp.values()) be.binary(op, x, y, op.isComparison() ? DType.BOOL : DType.F32, null);
        Tensor li = Tensor.fromStorage(be.fromHost(DType.I64, new long[] {1, 2, 3}), 3);
        be.binary(BinaryOp.ADD, li, li, DType.I64, null);
        be.unary(UnaryOp.NEG, li, 0, 0, null);
        Tensor cond = be.binary(BinaryOp.GT, x, y, DType.BOOL, null);
        be.where(cond, x, y);
        be.copy(x, Tensor.fromStorage(be.allocate(DType.BF16, 24), 4, 6));
        be.fill(xt, 3);
        for (ReduceOp op : ReduceOp.values()) be.reduce(op, xt, new int[] {0}, op == ReduceOp.SUM, 1);
        be.reduce(ReduceOp.SUM, x, new int[] {}, false, 0);
        be.argReduce(true, x, 1, false);
        be.argReduce(false, x, 0, true);
        Tensor sm = be.softmax(x, false);
        be.softmaxBackward(sm, x, true);
        Tensor[] ln = be.layerNorm(x, w, w, 1e-5);
        be.layerNormBackward(x, x, ln[1], ln[2], w, true);
        be.layerNormBackward(x, x, ln[1], ln[2], null, false);
        Tensor[] rn = be.rmsNorm(xt, null, 1e-5);
        be.rmsNormBackward(x.transpose(0, 1), xt, rn[1], null);
        Tensor tg = Tensor.fromStorage(be.fromHost(DType.I64, new long[] {1, -100, 5, 0}), 4);
        Tensor[] ce = be.crossEntropy(x, tg, -100, 0.1);
        be.crossEntropyBackward(x, tg, ce[1], up(new float[] {0.25f}), -100, 0.1);
        int B = 2, H = 4, Hkv = 2, T = 5, D = 8;
        Tensor q = up(randn(8, B * T * H * D), B, T, H, D).transpose(1, 2), k = up(randn(9, B * Hkv * T * D), B, Hkv, T, D);
        Tensor mask = up(new float[T * T], T, T);
        Tensor[] at = be.attention(q, k, k, mask, false, 0.3);
        be.attentionBackward(up(randn(10, B * H * T * D), B, H, T, D), q, k, k, mask, true, 0.3, at[0], at[1]);
        Tensor emb = up(randn(11, 10 * 6), 10, 6);
        be.indexSelect(emb, 0, li);
        be.indexAdd(new int[] {10, 6}, 0, li, up(randn(12, 18), 3, 6));
        Tensor gi = Tensor.fromStorage(be.fromHost(DType.I32, new int[] {0, 1, 2, 3}), 2, 2);
        be.gather(emb, 1, gi);
        be.scatterAdd(new int[] {2, 6}, 1, gi, up(randn(13, 4), 2, 2));
        be.cat(List.of(x, x), 0);
        Tensor p = up(randn(14, 24), 24), g = up(randn(15, 24), 24);
        be.adamwStep(p, g, up(new float[24], 24), up(new float[24], 24), 1e-3, 0.9, 0.999, 1e-8, 0.1, 1);
        be.sgdStep(p, g, null, 0.1, 0.9, 0, 0, true);
        be.uniform(x, 0, 1, new Generator(1));
        be.normal(x, 0, 1, new Generator(1));
        for (Kernel kernel : Kernel.values()) assertTrue(dev.launched.contains(kernel), kernel + " was never launched");
        // host-side ops really run: topk / cumsum / multinomial read the (host) memory
        Tensor v = up(new float[] {3, 1, 4, 1, 5}, 5);
        assertArrayEquals(new long[] {4, 2}, (long[]) be.toHost(be.topk(v, 2, true)[1]));
        assertArrayEquals(new float[] {3, 4, 8, 9, 14}, (float[]) be.toHost(be.cumsum(v, 0)));
        assertArrayEquals(new long[] {2}, (long[]) be.toHost(be.multinomial(up(new float[] {0, 0, 1}, 1, 3), 1, false, new Generator(3))));
    }

    @Test
    void unimplementedAndMixedDeviceOpsSaySo() {
        Tensor img = Tensor.fromStorage(be.allocate(DType.F32, 16), 1, 1, 4, 4);
        assertEquals("im2col is not implemented on cuda", assertThrows(UnsupportedOperationException.class,
                () -> be.im2col(img, 2, 2, 1, 1, 0, 0, 1, 1)).getMessage());
        assertEquals("col2im is not implemented on cuda", assertThrows(UnsupportedOperationException.class,
                () -> be.col2im(img.view(1, 4, 4), 1, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1)).getMessage());
        assertEquals("maxPool2d is not implemented on cuda", assertThrows(UnsupportedOperationException.class,
                () -> be.maxPool2d(img, 2, 2, 2, 2, 0, 0, 1, 1, false)).getMessage());
        assertEquals("maxPool2dBackward is not implemented on cuda", assertThrows(UnsupportedOperationException.class,
                () -> be.maxPool2dBackward(img, img, new int[] {1, 1, 4, 4})).getMessage());
        IllegalArgumentException mixed = assertThrows(IllegalArgumentException.class,
                () -> be.binary(BinaryOp.ADD, Tensor.of(new float[] {1}), up(new float[] {1}, 1), DType.F32, null));
        assertEquals("expected all tensors on the same device, found cpu and cuda:0", mixed.getMessage());
        Tensor q8 = Tensor.fromStorage(be.fromHost(DType.Q8_0, new byte[34]), 32);
        assertTrue(assertThrows(UnsupportedOperationException.class, () -> be.unary(UnaryOp.NEG, q8, 0, 0, null)).getMessage()
                .endsWith("is not implemented on cuda"));
    }
}
