package jllm.backend.cpu;

import static org.junit.jupiter.api.Assertions.*;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class ConvKernelsTest {

    // {C, H, W, kh, kw, sh, sw, ph, pw, dh, dw}
    private static final int[][] CONV_CASES = {
        {1, 5, 5, 3, 3, 1, 1, 0, 0, 1, 1},
        {3, 7, 6, 3, 3, 1, 1, 1, 1, 1, 1},
        {2, 8, 9, 3, 2, 2, 3, 1, 0, 1, 1},
        {2, 9, 7, 3, 3, 1, 2, 2, 1, 2, 2},
        {4, 6, 6, 1, 1, 1, 1, 0, 0, 1, 1},
        {3, 10, 11, 5, 4, 3, 2, 2, 3, 1, 2},
        {2, 4, 4, 2, 2, 1, 1, 3, 3, 1, 1},   // padding wider than the kernel: whole zero rows
        {1, 3, 12, 3, 5, 1, 1, 0, 2, 1, 3},
        {2, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1},
        {3, 13, 5, 4, 2, 4, 1, 3, 1, 3, 1},
    };

    private static float[] random(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    @Test
    void outputSizeMatchesPyTorch() {
        assertEquals(3, ConvKernels.outputSize(5, 3, 1, 0, 1, false));
        assertEquals(5, ConvKernels.outputSize(5, 3, 1, 1, 1, false));
        assertEquals(2, ConvKernels.outputSize(5, 2, 2, 0, 1, false));
        assertEquals(3, ConvKernels.outputSize(5, 2, 2, 0, 1, true));
        assertEquals(3, ConvKernels.outputSize(7, 3, 1, 0, 2, false));
        // ceil would give 3, but the third window would start at 6 >= 5 + 1 (in the right padding)
        assertEquals(2, ConvKernels.outputSize(5, 3, 3, 1, 1, true));
        assertEquals(2, ConvKernels.outputSize(5, 3, 3, 1, 1, false));
        // torch: nn.MaxPool2d(3, 2, ceil_mode=True) on 112 -> 56; floor -> 55
        assertEquals(56, ConvKernels.outputSize(112, 3, 2, 0, 1, true));
        assertEquals(55, ConvKernels.outputSize(112, 3, 2, 0, 1, false));
        assertEquals(4, ConvKernels.outputSize(6, 2, 2, 1, 1, true));
        assertThrows(IllegalArgumentException.class, () -> ConvKernels.outputSize(2, 3, 1, 0, 1, false));
        assertThrows(IllegalArgumentException.class, () -> ConvKernels.outputSize(5, 3, 0, 0, 1, false));
        assertThrows(IllegalArgumentException.class, () -> ConvKernels.outputSize(5, 3, 1, -1, 1, false));
        assertThrows(IllegalArgumentException.class, () -> ConvKernels.outputSize(5, 3, 1, 0, 0, false));
    }

    @Test
    void outputSizeCeilRuleExhaustive() {
        // Independent statement: floor mode counts the windows (starts -p + n*s) that end inside
        // the padded input; ceil mode adds one partial window when the division is inexact, but
        // only if it starts inside the input or the left padding (not in the right padding).
        for (int in = 1; in < 12; in++)
            for (int k = 1; k < 5; k++)
                for (int s = 1; s < 5; s++)
                    for (int p = 0; p <= k / 2; p++)
                        for (int d = 1; d < 3; d++) {
                            int eff = d * (k - 1) + 1;
                            int full = 0;
                            for (int start = -p; start + eff <= in + p; start += s) full++;
                            String where = "in=" + in + " k=" + k + " s=" + s + " p=" + p + " d=" + d;
                            if (full == 0) {
                                int fi = in, fk = k, fs = s, fp = p, fd = d;
                                assertThrows(IllegalArgumentException.class,
                                        () -> ConvKernels.outputSize(fi, fk, fs, fp, fd, false), where);
                                continue;
                            }
                            assertEquals(full, ConvKernels.outputSize(in, k, s, p, d, false), where);
                            int nextStart = -p + full * s;
                            boolean partial = (in + 2 * p - eff) % s != 0 && nextStart < in;
                            assertEquals(full + (partial ? 1 : 0), ConvKernels.outputSize(in, k, s, p, d, true), where);
                        }
    }

    /** Direct 7-loop convolution of one image: out[co, oh, ow]. */
    private static float[] directConv(float[] x, float[] wt, int cout, int[] g) {
        int C = g[0], H = g[1], W = g[2], kh = g[3], kw = g[4], sh = g[5], sw = g[6], ph = g[7], pw = g[8], dh = g[9], dw = g[10];
        int oH = (H + 2 * ph - dh * (kh - 1) - 1) / sh + 1, oW = (W + 2 * pw - dw * (kw - 1) - 1) / sw + 1;
        float[] out = new float[cout * oH * oW];
        for (int co = 0; co < cout; co++)
            for (int oh = 0; oh < oH; oh++)
                for (int ow = 0; ow < oW; ow++) {
                    double acc = 0;
                    for (int c = 0; c < C; c++)
                        for (int i = 0; i < kh; i++)
                            for (int j = 0; j < kw; j++) {
                                int ih = oh * sh - ph + i * dh, iw = ow * sw - pw + j * dw;
                                if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                                acc += (double) wt[((co * C + c) * kh + i) * kw + j] * x[(c * H + ih) * W + iw];
                            }
                    out[(co * oH + oh) * oW + ow] = (float) acc;
                }
        return out;
    }

    @Test
    void im2colMatmulEqualsDirectConv() {
        Random r = new Random(1);
        for (int[] g : CONV_CASES) {
            int C = g[0], H = g[1], W = g[2], kh = g[3], kw = g[4];
            int oH = ConvKernels.outputSize(H, kh, g[5], g[7], g[9], false);
            int oW = ConvKernels.outputSize(W, kw, g[6], g[8], g[10], false);
            int K = C * kh * kw, L = oH * oW, cout = 3;
            // a batch of two images, the second one at an offset, and columns at an offset
            float[] x = random(r, 2 * C * H * W + 5);
            float[] wt = random(r, cout * K);
            float[] cols = new float[7 + K * L];
            Arrays.fill(cols, Float.NaN); // every element must be written
            int img = C * H * W + 5;
            ConvKernels.im2col(x, img, C, H, W, kh, kw, g[5], g[6], g[7], g[8], g[9], g[10], cols, 7);
            for (int i = 7; i < cols.length; i++) assertFalse(Float.isNaN(cols[i]), "unwritten column at " + i);
            assertTrue(Float.isNaN(cols[6]));

            float[] got = new float[cout * L];
            for (int co = 0; co < cout; co++)
                for (int l = 0; l < L; l++) {
                    double acc = 0;
                    for (int k = 0; k < K; k++) acc += (double) wt[co * K + k] * cols[7 + k * L + l];
                    got[co * L + l] = (float) acc;
                }
            float[] expected = directConv(Arrays.copyOfRange(x, img, img + C * H * W), wt, cout, g);
            assertArrayEquals(expected, got, 1e-4f, Arrays.toString(g));
        }
    }

    @Test
    void im2colChannelRangesComposeToFullCall() {
        Random r = new Random(2);
        int[] g = CONV_CASES[5];
        int C = g[0], H = g[1], W = g[2], kh = g[3], kw = g[4];
        int L = ConvKernels.outputSize(H, kh, g[5], g[7], g[9], false) * ConvKernels.outputSize(W, kw, g[6], g[8], g[10], false);
        float[] x = random(r, C * H * W);
        float[] full = new float[C * kh * kw * L], split = new float[full.length];
        ConvKernels.im2col(x, 0, C, H, W, kh, kw, g[5], g[6], g[7], g[8], g[9], g[10], full, 0);
        for (int c = 0; c < C; c++)
            ConvKernels.im2col(x, 0, C, H, W, kh, kw, g[5], g[6], g[7], g[8], g[9], g[10], split, 0, c, c + 1);
        assertArrayEquals(full, split);

        float[] back1 = new float[C * H * W], back2 = new float[C * H * W];
        ConvKernels.col2im(full, 0, C, H, W, kh, kw, g[5], g[6], g[7], g[8], g[9], g[10], back1, 0);
        ConvKernels.col2im(full, 0, C, H, W, kh, kw, g[5], g[6], g[7], g[8], g[9], g[10], back2, 0, 0, 1);
        ConvKernels.col2im(full, 0, C, H, W, kh, kw, g[5], g[6], g[7], g[8], g[9], g[10], back2, 0, 1, C);
        assertArrayEquals(back1, back2);
    }

    @Test
    void col2imIsTheAdjointOfIm2col() {
        Random r = new Random(3);
        for (int[] g : CONV_CASES) {
            int C = g[0], H = g[1], W = g[2], kh = g[3], kw = g[4];
            int L = ConvKernels.outputSize(H, kh, g[5], g[7], g[9], false) * ConvKernels.outputSize(W, kw, g[6], g[8], g[10], false);
            int n = C * H * W, m = C * kh * kw * L;
            float[] x = random(r, n);
            float[] y = random(r, m + 3);
            float[] cols = new float[m];
            ConvKernels.im2col(x, 0, C, H, W, kh, kw, g[5], g[6], g[7], g[8], g[9], g[10], cols, 0);
            float[] back = new float[n + 2];
            back[0] = 100f;
            back[n + 1] = 100f;
            ConvKernels.col2im(y, 3, C, H, W, kh, kw, g[5], g[6], g[7], g[8], g[9], g[10], back, 1);
            assertEquals(100f, back[0]);
            assertEquals(100f, back[n + 1]);
            double lhs = 0, rhs = 0, scale = 0;
            for (int i = 0; i < m; i++) {
                lhs += (double) cols[i] * y[3 + i];
                scale += Math.abs((double) cols[i] * y[3 + i]);
            }
            for (int i = 0; i < n; i++) rhs += (double) x[i] * back[1 + i];
            assertEquals(lhs, rhs, 1e-5 * (1 + scale), Arrays.toString(g));
        }
    }

    @Test
    void col2imAccumulatesAndCountsOverlaps() {
        // Folding all-ones columns counts how many windows cover each pixel.
        int C = 1, H = 4, W = 4;
        float[] cols = new float[9 * 4];
        Arrays.fill(cols, 1f);
        float[] x = new float[16];
        Arrays.fill(x, 10f);
        ConvKernels.col2im(cols, 0, C, H, W, 3, 3, 1, 1, 0, 0, 1, 1, x, 0);
        float[] expected = {1, 2, 2, 1, 2, 4, 4, 2, 2, 4, 4, 2, 1, 2, 2, 1};
        for (int i = 0; i < 16; i++) assertEquals(10f + expected[i], x[i], "pixel " + i);
    }

    @Test
    void im2colRejectsBadArguments() {
        float[] x = new float[2 * 4 * 4];
        float[] cols = new float[2 * 9 * 4];
        assertThrows(IndexOutOfBoundsException.class,
                () -> ConvKernels.im2col(x, 1, 2, 4, 4, 3, 3, 1, 1, 0, 0, 1, 1, cols, 0));
        assertThrows(IndexOutOfBoundsException.class,
                () -> ConvKernels.im2col(x, 0, 2, 4, 4, 3, 3, 1, 1, 0, 0, 1, 1, cols, 1));
        assertThrows(IllegalArgumentException.class,
                () -> ConvKernels.im2col(x, 0, 2, 4, 4, 3, 3, 1, 1, 0, 0, 1, 1, cols, 0, 1, 3));
        assertThrows(IllegalArgumentException.class,
                () -> ConvKernels.im2col(x, 0, 2, 4, 4, 5, 5, 1, 1, 0, 0, 1, 1, cols, 0));
    }

    // ------------------------------------------------------------------------------------------
    // max_pool2d
    // ------------------------------------------------------------------------------------------

    /** Reference: materialise a -inf padded plane and scan every window, PyTorch's update rule. */
    private static void naiveMaxPool(float[] plane, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
                                     int dh, int dw, int oH, int oW, float[] y, int[] idx) {
        int PH = H + 2 * ph + kh * dh + sh, PW = W + 2 * pw + kw * dw + sw; // generous right padding for ceil mode
        float[] padded = new float[PH * PW];
        Arrays.fill(padded, Float.NEGATIVE_INFINITY);
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++) padded[(h + ph) * PW + w + pw] = plane[h * W + w];
        for (int oh = 0; oh < oH; oh++)
            for (int ow = 0; ow < oW; ow++) {
                float m = Float.NEGATIVE_INFINITY;
                int arg = -1;
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++) {
                        int h = oh * sh + i * dh, w = ow * sw + j * dw; // padded coordinates
                        int ih = h - ph, iw = w - pw;
                        boolean inside = ih >= 0 && ih < H && iw >= 0 && iw < W;
                        float v = padded[h * PW + w];
                        if (inside && arg == -1) arg = ih * W + iw;
                        if (inside && (v > m || Float.isNaN(v))) {
                            m = v;
                            arg = ih * W + iw;
                        }
                    }
                y[oh * oW + ow] = m;
                idx[oh * oW + ow] = arg;
            }
    }

    // {H, W, kh, kw, sh, sw, ph, pw, dh, dw, ceil}
    private static final int[][] POOL_CASES = {
        {6, 6, 2, 2, 2, 2, 0, 0, 1, 1, 0},
        {7, 7, 2, 2, 2, 2, 0, 0, 1, 1, 1},
        {7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 0},
        {7, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1},
        {9, 10, 3, 2, 1, 2, 1, 1, 2, 3, 0},
        {9, 10, 3, 2, 3, 2, 1, 1, 2, 3, 1},
        {5, 5, 3, 3, 3, 3, 1, 1, 1, 1, 1},
        {5, 11, 4, 5, 3, 4, 2, 2, 1, 1, 1},
        {2, 2, 2, 2, 1, 1, 1, 1, 3, 3, 0}, // dilated windows that lie wholly in the padding
        {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0},
    };

    private static int[] poolOut(int[] g) {
        boolean ceil = g[10] == 1;
        return new int[] {ConvKernels.outputSize(g[0], g[2], g[4], g[6], g[8], ceil),
                ConvKernels.outputSize(g[1], g[3], g[5], g[7], g[9], ceil)};
    }

    @Test
    void maxPoolMatchesNaive() {
        Random r = new Random(4);
        int planes = 5;
        for (int[] g : POOL_CASES) {
            int H = g[0], W = g[1];
            int[] o = poolOut(g);
            int inP = H * W, outP = o[0] * o[1];
            float[] x = random(r, 3 + planes * inP);
            // sprinkle ties
            for (int i = 3; i < x.length; i += 4) x[i] = x[i - 1];
            float[] y = new float[2 + planes * outP];
            int[] idx = new int[1 + planes * outP];
            // two ranges, as two threads would
            ConvKernels.maxPool2dForward(x, 3, H, W, g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10] == 1,
                    y, 2, idx, 1, 0, 2);
            ConvKernels.maxPool2dForward(x, 3, H, W, g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10] == 1,
                    y, 2, idx, 1, 2, planes);
            for (int p = 0; p < planes; p++) {
                float[] ey = new float[outP];
                int[] ei = new int[outP];
                naiveMaxPool(Arrays.copyOfRange(x, 3 + p * inP, 3 + (p + 1) * inP), H, W, g[2], g[3], g[4], g[5],
                        g[6], g[7], g[8], g[9], o[0], o[1], ey, ei);
                assertArrayEquals(ey, Arrays.copyOfRange(y, 2 + p * outP, 2 + (p + 1) * outP), Arrays.toString(g));
                assertArrayEquals(ei, Arrays.copyOfRange(idx, 1 + p * outP, 1 + (p + 1) * outP), Arrays.toString(g));
            }
            // without indices the values are the same
            float[] y2 = new float[2 + planes * outP];
            ConvKernels.maxPool2dForward(x, 3, H, W, g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10] == 1,
                    y2, 2, null, 0, 0, planes);
            assertArrayEquals(y, y2);
        }
    }

    @Test
    void maxPoolKnownValuesTiesAndCeil() {
        // torch.nn.functional.max_pool2d(x, 2, 2, ceil_mode=True, return_indices=True) on
        // x = [[1,3,3],[3,2,0],[5,5,4]] gives [[3,3],[5,4]] with indices [[1,2],[6,8]].
        float[] x = {1, 3, 3, 3, 2, 0, 5, 5, 4};
        float[] y = new float[4];
        int[] idx = new int[4];
        ConvKernels.maxPool2dForward(x, 0, 3, 3, 2, 2, 2, 2, 0, 0, 1, 1, true, y, 0, idx, 0, 0, 1);
        assertArrayEquals(new float[] {3, 3, 5, 4}, y);
        assertArrayEquals(new int[] {1, 2, 6, 8}, idx);

        // all equal: the first element of each window in scan order
        float[] same = new float[16];
        Arrays.fill(same, 7f);
        float[] ys = new float[9];
        int[] is = new int[9];
        ConvKernels.maxPool2dForward(same, 0, 4, 4, 2, 2, 1, 1, 0, 0, 1, 1, false, ys, 0, is, 0, 0, 1);
        assertArrayEquals(new int[] {0, 1, 2, 4, 5, 6, 8, 9, 10}, is);

        // all -inf with padding: index is the first element inside the input
        float[] ninf = new float[4];
        Arrays.fill(ninf, Float.NEGATIVE_INFINITY);
        // windows: 3x3 output for 2x2 input with pad 1, kernel 2 -> (2+2-2)/1+1 = 3
        int[] in9 = new int[9];
        float[] yn9 = new float[9];
        ConvKernels.maxPool2dForward(ninf, 0, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1, false, yn9, 0, in9, 0, 0, 1);
        assertArrayEquals(new int[] {0, 0, 1, 0, 0, 1, 2, 2, 3}, in9);
        for (float v : yn9) assertEquals(Float.NEGATIVE_INFINITY, v);
    }

    @Test
    void maxPoolNaNPropagates() {
        float[] x = {1, Float.NaN, 9, 2,
                     3, 4, Float.NaN, Float.NaN,
                     5, 6, 7, 8,
                     0, -1, -2, 100};
        float[] y = new float[4];
        int[] idx = new int[4];
        ConvKernels.maxPool2dForward(x, 0, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, false, y, 0, idx, 0, 0, 1);
        assertTrue(Float.isNaN(y[0]));
        assertEquals(1, idx[0]);
        assertTrue(Float.isNaN(y[1]));   // NaN even though 9 is in the window
        assertEquals(7, idx[1]);         // PyTorch's rule keeps moving to later NaNs: the last one
        assertEquals(6f, y[2]);
        assertEquals(9, idx[2]);
        assertEquals(100f, y[3]);
        assertEquals(15, idx[3]);
    }

    @Test
    void maxPoolBackwardScattersToArgmax() {
        Random r = new Random(5);
        int planes = 3;
        for (int[] g : POOL_CASES) {
            int H = g[0], W = g[1];
            int[] o = poolOut(g);
            int inP = H * W, outP = o[0] * o[1];
            float[] x = random(r, planes * inP);
            float[] y = new float[planes * outP];
            int[] idx = new int[planes * outP];
            ConvKernels.maxPool2dForward(x, 0, H, W, g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10] == 1,
                    y, 0, idx, 0, 0, planes);
            float[] dy = random(r, planes * outP);
            float[] dx = new float[1 + planes * inP];
            dx[0] = 42f;
            ConvKernels.maxPool2dBackward(dy, 0, idx, 0, H, W, o[0], o[1], dx, 1, 0, 1);
            ConvKernels.maxPool2dBackward(dy, 0, idx, 0, H, W, o[0], o[1], dx, 1, 1, planes);
            assertEquals(42f, dx[0]);
            double[] expected = new double[planes * inP];
            for (int p = 0; p < planes; p++)
                for (int k = 0; k < outP; k++)
                    if (idx[p * outP + k] >= 0) expected[p * inP + idx[p * outP + k]] += dy[p * outP + k];
            for (int i = 0; i < expected.length; i++) assertEquals(expected[i], dx[1 + i], 1e-5, Arrays.toString(g));

            // finite differences of L = <y, dy>: values are distinct, so the argmax is locally stable
            double eps = 1e-2;
            for (int t = 0; t < 5; t++) {
                int i = r.nextInt(planes * inP);
                float[] xp = x.clone(), xm = x.clone();
                xp[i] += (float) eps;
                xm[i] -= (float) eps;
                double fd = (dot(pool(xp, g, planes, outP), dy) - dot(pool(xm, g, planes, outP), dy)) / (2 * eps);
                assertEquals(fd, dx[1 + i], 1e-2, "fd at " + i + " " + Arrays.toString(g));
            }
        }
    }

    private static float[] pool(float[] x, int[] g, int planes, int outP) {
        float[] y = new float[planes * outP];
        ConvKernels.maxPool2dForward(x, 0, g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7], g[8], g[9], g[10] == 1,
                y, 0, null, 0, 0, planes);
        return y;
    }

    private static double dot(float[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) if (a[i] != Float.NEGATIVE_INFINITY) s += (double) a[i] * b[i];
        return s;
    }

    @Test
    void maxPoolRejectsBadArguments() {
        float[] x = new float[16];
        float[] y = new float[16];
        int[] idx = new int[16];
        // padding over half the kernel
        assertThrows(IllegalArgumentException.class,
                () -> ConvKernels.maxPool2dForward(x, 0, 4, 4, 2, 2, 1, 1, 2, 0, 1, 1, false, y, 0, idx, 0, 0, 1));
        // input too short for the plane range
        assertThrows(IndexOutOfBoundsException.class,
                () -> ConvKernels.maxPool2dForward(x, 0, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, false, y, 0, idx, 0, 0, 2));
        assertThrows(IllegalArgumentException.class,
                () -> ConvKernels.maxPool2dForward(x, 0, 4, 4, 2, 2, 2, 2, 0, 0, 1, 1, false, y, 0, idx, 0, 1, 0));
        int[] bad = {0, 1, 16, 2};
        assertThrows(IndexOutOfBoundsException.class,
                () -> ConvKernels.maxPool2dBackward(new float[4], 0, bad, 0, 4, 4, 2, 2, new float[16], 0, 0, 1));
    }

    // ------------------------------------------------------------------------------------------
    // avg_pool2d
    // ------------------------------------------------------------------------------------------

    private static float[] naiveAvgPool(float[] plane, int H, int W, int kh, int kw, int sh, int sw, int ph, int pw,
                                        boolean ceil, boolean includePad, int divisor) {
        int oH = ConvKernels.outputSize(H, kh, sh, ph, 1, ceil), oW = ConvKernels.outputSize(W, kw, sw, pw, 1, ceil);
        float[] y = new float[oH * oW];
        for (int oh = 0; oh < oH; oh++)
            for (int ow = 0; ow < oW; ow++) {
                double sum = 0;
                int inside = 0, padded = 0;
                for (int i = 0; i < kh; i++)
                    for (int j = 0; j < kw; j++) {
                        int ih = oh * sh - ph + i, iw = ow * sw - pw + j;
                        if (ih < H + ph && iw < W + pw) padded++; // ceil-mode overhang is not padding
                        if (ih >= 0 && ih < H && iw >= 0 && iw < W) {
                            inside++;
                            sum += plane[ih * W + iw];
                        }
                    }
                int div = divisor > 0 ? divisor : includePad ? padded : inside;
                y[oh * oW + ow] = inside == 0 ? 0f : (float) (sum / div);
            }
        return y;
    }

    @Test
    void avgPoolMatchesNaiveAndBackwardIsAdjoint() {
        Random r = new Random(6);
        int planes = 3;
        for (int[] g : POOL_CASES) {
            for (int mode = 0; mode < 3; mode++) {
                boolean includePad = mode == 0;
                int divisor = mode == 2 ? 5 : 0;
                int H = g[0], W = g[1], kh = g[2], kw = g[3], sh = g[4], sw = g[5], ph = g[6], pw = g[7];
                boolean ceil = g[10] == 1;
                int oH = ConvKernels.outputSize(H, kh, sh, ph, 1, ceil), oW = ConvKernels.outputSize(W, kw, sw, pw, 1, ceil);
                int inP = H * W, outP = oH * oW;
                float[] x = random(r, planes * inP);
                float[] y = new float[planes * outP];
                ConvKernels.avgPool2dForward(x, 0, H, W, kh, kw, sh, sw, ph, pw, ceil, includePad, divisor, y, 0, 0, planes);
                for (int p = 0; p < planes; p++) {
                    float[] e = naiveAvgPool(Arrays.copyOfRange(x, p * inP, (p + 1) * inP), H, W, kh, kw, sh, sw, ph, pw,
                            ceil, includePad, divisor);
                    assertArrayEquals(e, Arrays.copyOfRange(y, p * outP, (p + 1) * outP), 1e-5f,
                            Arrays.toString(g) + " mode " + mode);
                }
                // avg pooling is linear, so its backward must be its exact adjoint
                float[] dy = random(r, planes * outP);
                float[] dx = new float[planes * inP];
                ConvKernels.avgPool2dBackward(dy, 0, H, W, kh, kw, sh, sw, ph, pw, ceil, includePad, divisor, dx, 0, 0, 1);
                ConvKernels.avgPool2dBackward(dy, 0, H, W, kh, kw, sh, sw, ph, pw, ceil, includePad, divisor, dx, 0, 1, planes);
                double lhs = 0, rhs = 0;
                for (int i = 0; i < y.length; i++) lhs += (double) y[i] * dy[i];
                for (int i = 0; i < x.length; i++) rhs += (double) x[i] * dx[i];
                assertEquals(lhs, rhs, 1e-4 * (1 + Math.abs(lhs)), Arrays.toString(g) + " mode " + mode);
            }
        }
    }

    @Test
    void avgPoolKnownValues() {
        // F.avg_pool2d(arange(16.).view(1,1,4,4), 3, 2, padding=1): window sums 10, 24, 51, 90 over
        // 9 (count_include_pad=True) or over 4, 6, 6, 9 elements (False)
        float[] x = new float[16];
        for (int i = 0; i < 16; i++) x[i] = i;
        float[] y = new float[4];
        ConvKernels.avgPool2dForward(x, 0, 4, 4, 3, 3, 2, 2, 1, 1, false, true, 0, y, 0, 0, 1);
        assertArrayEquals(new float[] {10f / 9, 24f / 9, 51f / 9, 10f}, y, 1e-6f);
        ConvKernels.avgPool2dForward(x, 0, 4, 4, 3, 3, 2, 2, 1, 1, false, false, 0, y, 0, 0, 1);
        assertArrayEquals(new float[] {2.5f, 4f, 8.5f, 10f}, y, 1e-6f);
    }
}
