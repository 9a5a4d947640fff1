package jllm.backend.cpu;

import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * Convolution and pooling kernels on contiguous row-major {@code float[]} data (NCHW).
 *
 * <p>Conventions: every array comes with an explicit element offset; geometry arguments are in
 * (height, width) pairs; a plane is one [H, W] image of one channel, and kernels that loop over
 * planes take a half-open range {@code [planeStart, planeEnd)} (or channels, for
 * {@link #im2col}/{@link #col2im}) so that callers can split the work across threads; distinct
 * ranges never write the same element. Arguments are validated once per call; the loops do not
 * allocate.
 *
 * <p>Conv2d is {@code weight[Cout, C*kh*kw] @ im2col(x)[C*kh*kw, outH*outW]} (+ bias): the
 * column rows are ordered channel-major, then kernel row, then kernel column, as
 * {@code torch.nn.functional.unfold} orders them.
 */
public final class ConvKernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;

    private ConvKernels() {}

    // ---------------------------------------------------------------------------------------
    // Output size
    // ---------------------------------------------------------------------------------------

    /**
     * The output length along one spatial axis, by PyTorch's formula
     * {@code floor((in + 2*padding - dilation*(kernel-1) - 1) / stride) + 1}. With
     * {@code ceilMode} (pooling) the division rounds up, but the last window must start inside the
     * input or the left padding, else it is dropped.
     *
     * @throws IllegalArgumentException on non-positive kernel/stride/dilation, negative input or
     *     padding, or an output smaller than 1
     */
    public static int outputSize(int in, int kernel, int stride, int padding, int dilation, boolean ceilMode) {
        if (in < 0 || kernel <= 0 || stride <= 0 || dilation <= 0 || padding < 0) {
            throw new IllegalArgumentException("invalid window geometry: input=" + in + ", kernel=" + kernel
                    + ", stride=" + stride + ", padding=" + padding + ", dilation=" + dilation
                    + " (kernel, stride and dilation must be > 0, input and padding >= 0)");
        }
        long span = (long) in + 2L * padding - (long) dilation * (kernel - 1) - 1;
        long out = Math.floorDiv(span + (ceilMode ? stride - 1 : 0), (long) stride) + 1;
        if (ceilMode && (out - 1) * stride >= (long) in + padding) out--;
        if (out < 1) {
            throw new IllegalArgumentException("output size is too small: input=" + in + ", padding=" + padding
                    + ", kernel=" + kernel + ", dilation=" + dilation + ", stride=" + stride
                    + " gives an output of " + out + " (effective kernel " + ((long) dilation * (kernel - 1) + 1)
                    + " exceeds the padded input " + ((long) in + 2L * padding) + ")");
        }
        if (out > Integer.MAX_VALUE) throw new IllegalArgumentException("output size " + out + " overflows int");
        return (int) out;
    }

    // ---------------------------------------------------------------------------------------
    // im2col / col2im
    // ---------------------------------------------------------------------------------------

    /** {@link #im2col(float[], int, int, int, int, int, int, int, int, int, int, int, int, float[], int, int, int)} over all channels. */
    public static void im2col(float[] x, int xOff, int channels, int height, int width,
                              int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                              float[] cols, int colsOff) {
        im2col(x, xOff, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, cols, colsOff, 0, channels);
    }

    /**
     * Unfolds one image {@code x[xOff ..]} of shape [channels, height, width] into
     * {@code cols[colsOff ..]} of shape [channels*kh*kw, outH*outW], where row
     * {@code (c*kh + i)*kw + j} holds input {@code x[c, oh*sh - ph + i*dh, ow*sw - pw + j*dw]} at
     * column {@code oh*outW + ow} (zero where that falls in the padding), and
     * {@code outH/outW = outputSize(height/width, kh/kw, sh/sw, ph/pw, dh/dw, false)}. Only rows of
     * channels {@code [channelStart, channelEnd)} are written.
     */
    public static void im2col(float[] x, int xOff, int channels, int height, int width,
                              int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                              float[] cols, int colsOff, int channelStart, int channelEnd) {
        int outH = outputSize(height, kh, sh, ph, dh, false);
        int outW = outputSize(width, kw, sw, pw, dw, false);
        int L = checkColumns("im2col", x, xOff, channels, height, width, kh, kw, outH, outW, cols, colsOff,
                channelStart, channelEnd);
        for (int c = channelStart; c < channelEnd; c++) {
            int plane = xOff + c * height * width;
            for (int i = 0; i < kh; i++) {
                int hoff = i * dh - ph;
                for (int j = 0; j < kw; j++) {
                    int woff = j * dw - pw;
                    int lo = firstInside(woff, sw, outW);
                    int hi = Math.max(lo, endInside(woff, sw, width, outW));
                    int row = colsOff + ((c * kh + i) * kw + j) * L;
                    for (int oh = 0; oh < outH; oh++) {
                        int ih = oh * sh + hoff;
                        int dst = row + oh * outW;
                        if (ih < 0 || ih >= height) {
                            Arrays.fill(cols, dst, dst + outW, 0f);
                            continue;
                        }
                        int src = plane + ih * width + woff;
                        if (lo > 0) Arrays.fill(cols, dst, dst + lo, 0f);
                        if (sw == 1) {
                            System.arraycopy(x, src + lo, cols, dst + lo, hi - lo);
                        } else {
                            for (int ow = lo; ow < hi; ow++) cols[dst + ow] = x[src + ow * sw];
                        }
                        if (hi < outW) Arrays.fill(cols, dst + hi, dst + outW, 0f);
                    }
                }
            }
        }
    }

    /** {@link #col2im(float[], int, int, int, int, int, int, int, int, int, int, int, int, float[], int, int, int)} over all channels. */
    public static void col2im(float[] cols, int colsOff, int channels, int height, int width,
                              int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                              float[] x, int xOff) {
        col2im(cols, colsOff, channels, height, width, kh, kw, sh, sw, ph, pw, dh, dw, x, xOff, 0, channels);
    }

    /**
     * The adjoint of {@link #im2col}: <b>adds</b> every column entry into the input position it
     * was read from (entries that fall in the padding are dropped). {@code x} is not cleared
     * first, so zero it for a plain fold. Used for the conv input gradient and {@code F.fold}.
     * Only channels {@code [channelStart, channelEnd)} are read and written.
     */
    public static void col2im(float[] cols, int colsOff, int channels, int height, int width,
                              int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                              float[] x, int xOff, int channelStart, int channelEnd) {
        int outH = outputSize(height, kh, sh, ph, dh, false);
        int outW = outputSize(width, kw, sw, pw, dw, false);
        int L = checkColumns("col2im", x, xOff, channels, height, width, kh, kw, outH, outW, cols, colsOff,
                channelStart, channelEnd);
        for (int c = channelStart; c < channelEnd; c++) {
            int plane = xOff + c * height * width;
            for (int i = 0; i < kh; i++) {
                int hoff = i * dh - ph;
                for (int j = 0; j < kw; j++) {
                    int woff = j * dw - pw;
                    int lo = firstInside(woff, sw, outW);
                    int hi = Math.max(lo, endInside(woff, sw, width, outW));
                    if (lo == hi) continue;
                    int row = colsOff + ((c * kh + i) * kw + j) * L;
                    for (int oh = 0; oh < outH; oh++) {
                        int ih = oh * sh + hoff;
                        if (ih < 0 || ih >= height) continue;
                        int src = row + oh * outW;
                        int dst = plane + ih * width + woff;
                        if (sw == 1) {
                            addInto(cols, src + lo, x, dst + lo, hi - lo);
                        } else {
                            for (int ow = lo; ow < hi; ow++) x[dst + ow * sw] += cols[src + ow];
                        }
                    }
                }
            }
        }
    }

    // First ow in [0, outW] with ow*stride + off >= 0.
    private static int firstInside(int off, int stride, int outW) {
        if (off >= 0) return 0;
        return Math.min(outW, (-off + stride - 1) / stride);
    }

    // One past the last ow with ow*stride + off <= size-1, clamped to [0, outW].
    private static int endInside(int off, int stride, int size, int outW) {
        int last = size - 1 - off;
        if (last < 0) return 0;
        return Math.min(outW, last / stride + 1);
    }

    private static void addInto(float[] src, int s, float[] dst, int d, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += F.length()) {
            FloatVector.fromArray(F, dst, d + i).add(FloatVector.fromArray(F, src, s + i)).intoArray(dst, d + i);
        }
        for (; i < n; i++) dst[d + i] += src[s + i];
    }

    private static int checkColumns(String op, float[] x, int xOff, int channels, int height, int width,
                                    int kh, int kw, int outH, int outW, float[] cols, int colsOff,
                                    int channelStart, int channelEnd) {
        if (channels < 0) throw new IllegalArgumentException(op + ": channels must be >= 0, got " + channels);
        checkRange(op, "channel", channelStart, channelEnd, channels);
        long L = (long) outH * outW;
        long rows = (long) channels * kh * kw;
        if (rows * L > Integer.MAX_VALUE || (long) channels * height * width > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": sizes overflow int indexing: columns " + rows + "x" + L
                    + ", input " + channels + "x" + height + "x" + width);
        }
        checkArray(op, "image", x, xOff, (long) channels * height * width);
        checkArray(op, "columns", cols, colsOff, rows * L);
        return (int) L;
    }

    // ---------------------------------------------------------------------------------------
    // max_pool2d
    // ---------------------------------------------------------------------------------------

    /**
     * max_pool2d forward over planes {@code [planeStart, planeEnd)}: plane {@code p} reads
     * {@code x[xOff + p*H*W ..]} and writes {@code outH*outW} values to {@code y[yOff + p*outH*outW ..]}
     * and, unless {@code indices} is null, the argmax as the flat index {@code h*W + w} within the
     * plane to {@code indices[indicesOff + p*outH*outW ..]} (what PyTorch's {@code return_indices}
     * gives). {@code outH/outW = outputSize(H/W, kh/kw, sh/sw, ph/pw, dh/dw, ceilMode)}.
     *
     * <p>Padding is implicit -inf. PyTorch semantics: windows are scanned row by row; a value
     * replaces the running max if it is greater or is NaN, so ties keep the first maximum, a NaN
     * anywhere in the window makes the output NaN (index: the last NaN), and an all -inf window
     * reports its first element. A window lying wholly in the padding (possible only with
     * dilation) outputs -inf with index -1, which {@link #maxPool2dBackward} skips.
     *
     * @throws IllegalArgumentException on bad geometry, padding over half the kernel, or arrays
     *     too short
     */
    public static void maxPool2dForward(float[] x, int xOff, int height, int width,
                                        int kh, int kw, int sh, int sw, int ph, int pw, int dh, int dw,
                                        boolean ceilMode, float[] y, int yOff, int[] indices, int indicesOff,
                                        int planeStart, int planeEnd) {
        checkPoolPadding("max_pool2d", kh, kw, ph, pw);
        int outH = outputSize(height, kh, sh, ph, dh, ceilMode);
        int outW = outputSize(width, kw, sw, pw, dw, ceilMode);
        int inPlane = planeSize("max_pool2d", height, width);
        int outPlane = planeSize("max_pool2d", outH, outW);
        checkRange("max_pool2d", "plane", planeStart, planeEnd, Integer.MAX_VALUE);
        checkArray("max_pool2d", "input", x, xOff, (long) planeEnd * inPlane);
        checkArray("max_pool2d", "output", y, yOff, (long) planeEnd * outPlane);
        if (indices != null) checkArray("max_pool2d", "indices", indices, indicesOff, (long) planeEnd * outPlane);

        for (int p = planeStart; p < planeEnd; p++) {
            int in = xOff + p * inPlane;
            int out = yOff + p * outPlane;
            int idx = indicesOff + p * outPlane;
            for (int oh = 0; oh < outH; oh++) {
                int h0 = oh * sh - ph;
                int h1 = Math.min(h0 + (kh - 1) * dh + 1, height);
                while (h0 < 0) h0 += dh;
                for (int ow = 0; ow < outW; ow++) {
                    int w0 = ow * sw - pw;
                    int w1 = Math.min(w0 + (kw - 1) * dw + 1, width);
                    while (w0 < 0) w0 += dw;
                    float max = Float.NEGATIVE_INFINITY;
                    int arg = -1;
                    if (h0 < h1 && w0 < w1) {
                        arg = h0 * width + w0;
                        for (int h = h0; h < h1; h += dh) {
                            int rowBase = in + h * width;
                            for (int w = w0; w < w1; w += dw) {
                                float v = x[rowBase + w];
                                if (v > max || v != v) {
                                    max = v;
                                    arg = h * width + w;
                                }
                            }
                        }
                    }
                    y[out + oh * outW + ow] = max;
                    if (indices != null) indices[idx + oh * outW + ow] = arg;
                }
            }
        }
    }

    /**
     * max_pool2d backward over planes {@code [planeStart, planeEnd)}: <b>adds</b>
     * {@code dy[dyOff + p*outPlane + k]} into {@code dx[dxOff + p*inPlane + indices[indicesOff + p*outPlane + k]]},
     * where {@code inPlane = height*width}, {@code outPlane = outH*outW}. {@code dx} is not
     * cleared first. Index -1 (a window wholly in the padding) contributes nothing.
     *
     * @throws IndexOutOfBoundsException if an index lies outside its plane
     */
    public static void maxPool2dBackward(float[] dy, int dyOff, int[] indices, int indicesOff,
                                         int height, int width, int outH, int outW,
                                         float[] dx, int dxOff, int planeStart, int planeEnd) {
        int inPlane = planeSize("max_pool2d_backward", height, width);
        int outPlane = planeSize("max_pool2d_backward", outH, outW);
        checkRange("max_pool2d_backward", "plane", planeStart, planeEnd, Integer.MAX_VALUE);
        checkArray("max_pool2d_backward", "grad_output", dy, dyOff, (long) planeEnd * outPlane);
        checkArray("max_pool2d_backward", "indices", indices, indicesOff, (long) planeEnd * outPlane);
        checkArray("max_pool2d_backward", "grad_input", dx, dxOff, (long) planeEnd * inPlane);
        for (int p = planeStart; p < planeEnd; p++) {
            int g = dyOff + p * outPlane;
            int ix = indicesOff + p * outPlane;
            int base = dxOff + p * inPlane;
            for (int k = 0; k < outPlane; k++) {
                int at = indices[ix + k];
                if (at < 0) {
                    if (at == -1) continue;
                } else if (at < inPlane) {
                    dx[base + at] += dy[g + k];
                    continue;
                }
                throw new IndexOutOfBoundsException("max_pool2d_backward: index " + at + " at plane " + p
                        + ", output element " + k + " is outside the " + height + "x" + width + " input plane");
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // avg_pool2d
    // ---------------------------------------------------------------------------------------

    /**
     * avg_pool2d forward over planes {@code [planeStart, planeEnd)}, laid out as in
     * {@link #maxPool2dForward} ({@code outH/outW = outputSize(H/W, kh/kw, sh/sw, ph/pw, 1, ceilMode)}).
     * The divisor follows PyTorch: {@code divisorOverride} if positive; else with
     * {@code countIncludePad} the window size clipped to the padded input (ceil_mode's extra
     * right overhang is not counted); else the number of input elements in the window. A window
     * with no input element outputs 0.
     */
    public static void avgPool2dForward(float[] x, int xOff, int height, int width,
                                        int kh, int kw, int sh, int sw, int ph, int pw,
                                        boolean ceilMode, boolean countIncludePad, int divisorOverride,
                                        float[] y, int yOff, int planeStart, int planeEnd) {
        checkPoolPadding("avg_pool2d", kh, kw, ph, pw);
        checkDivisor(divisorOverride);
        int outH = outputSize(height, kh, sh, ph, 1, ceilMode);
        int outW = outputSize(width, kw, sw, pw, 1, ceilMode);
        int inPlane = planeSize("avg_pool2d", height, width);
        int outPlane = planeSize("avg_pool2d", outH, outW);
        checkRange("avg_pool2d", "plane", planeStart, planeEnd, Integer.MAX_VALUE);
        checkArray("avg_pool2d", "input", x, xOff, (long) planeEnd * inPlane);
        checkArray("avg_pool2d", "output", y, yOff, (long) planeEnd * outPlane);
        for (int p = planeStart; p < planeEnd; p++) {
            int in = xOff + p * inPlane;
            int out = yOff + p * outPlane;
            for (int oh = 0; oh < outH; oh++) {
                int h0 = oh * sh - ph;
                int h1 = Math.min(h0 + kh, height + ph);
                int hs = h1 - h0;
                h0 = Math.max(h0, 0);
                h1 = Math.min(h1, height);
                for (int ow = 0; ow < outW; ow++) {
                    int w0 = ow * sw - pw;
                    int w1 = Math.min(w0 + kw, width + pw);
                    int ws = w1 - w0;
                    w0 = Math.max(w0, 0);
                    w1 = Math.min(w1, width);
                    if (h0 >= h1 || w0 >= w1) {
                        y[out + oh * outW + ow] = 0f;
                        continue;
                    }
                    float sum = 0f;
                    for (int h = h0; h < h1; h++) {
                        int rowBase = in + h * width;
                        for (int w = w0; w < w1; w++) sum += x[rowBase + w];
                    }
                    int div = divisorOverride > 0 ? divisorOverride
                            : countIncludePad ? hs * ws : (h1 - h0) * (w1 - w0);
                    y[out + oh * outW + ow] = sum / div;
                }
            }
        }
    }

    /**
     * avg_pool2d backward over planes {@code [planeStart, planeEnd)}: <b>adds</b> each
     * {@code dy} element divided by its window's divisor (as in {@link #avgPool2dForward}) into
     * every input element of that window. {@code dx} is not cleared first.
     */
    public static void avgPool2dBackward(float[] dy, int dyOff, int height, int width,
                                         int kh, int kw, int sh, int sw, int ph, int pw,
                                         boolean ceilMode, boolean countIncludePad, int divisorOverride,
                                         float[] dx, int dxOff, int planeStart, int planeEnd) {
        checkPoolPadding("avg_pool2d_backward", kh, kw, ph, pw);
        checkDivisor(divisorOverride);
        int outH = outputSize(height, kh, sh, ph, 1, ceilMode);
        int outW = outputSize(width, kw, sw, pw, 1, ceilMode);
        int inPlane = planeSize("avg_pool2d_backward", height, width);
        int outPlane = planeSize("avg_pool2d_backward", outH, outW);
        checkRange("avg_pool2d_backward", "plane", planeStart, planeEnd, Integer.MAX_VALUE);
        checkArray("avg_pool2d_backward", "grad_output", dy, dyOff, (long) planeEnd * outPlane);
        checkArray("avg_pool2d_backward", "grad_input", dx, dxOff, (long) planeEnd * inPlane);
        for (int p = planeStart; p < planeEnd; p++) {
            int base = dxOff + p * inPlane;
            int g = dyOff + p * outPlane;
            for (int oh = 0; oh < outH; oh++) {
                int h0 = oh * sh - ph;
                int h1 = Math.min(h0 + kh, height + ph);
                int hs = h1 - h0;
                h0 = Math.max(h0, 0);
                h1 = Math.min(h1, height);
                for (int ow = 0; ow < outW; ow++) {
                    int w0 = ow * sw - pw;
                    int w1 = Math.min(w0 + kw, width + pw);
                    int ws = w1 - w0;
                    w0 = Math.max(w0, 0);
                    w1 = Math.min(w1, width);
                    if (h0 >= h1 || w0 >= w1) continue;
                    int div = divisorOverride > 0 ? divisorOverride
                            : countIncludePad ? hs * ws : (h1 - h0) * (w1 - w0);
                    float v = dy[g + oh * outW + ow] / div;
                    for (int h = h0; h < h1; h++) {
                        int rowBase = base + h * width;
                        for (int w = w0; w < w1; w++) dx[rowBase + w] += v;
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------
    // Checks
    // ---------------------------------------------------------------------------------------

    private static void checkPoolPadding(String op, int kh, int kw, int ph, int pw) {
        if (kh <= 0 || kw <= 0) {
            throw new IllegalArgumentException(op + ": kernel size should be greater than zero, but got kH: " + kh + " kW: " + kw);
        }
        if (ph < 0 || pw < 0 || kw / 2 < pw || kh / 2 < ph) {
            throw new IllegalArgumentException(op + ": pad should be non-negative and at most half of kernel size, but got padW = "
                    + pw + ", padH = " + ph + ", kW = " + kw + ", kH = " + kh);
        }
    }

    private static void checkDivisor(int divisorOverride) {
        if (divisorOverride < 0) {
            throw new IllegalArgumentException("avg_pool2d: divisor_override must be positive (or 0 for none), got " + divisorOverride);
        }
    }

    private static int planeSize(String op, int height, int width) {
        if (height < 0 || width < 0 || (long) height * width > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(op + ": invalid plane size " + height + "x" + width);
        }
        return height * width;
    }

    private static void checkRange(String op, String what, int start, int end, int limit) {
        if (start < 0 || start > end || end > limit) {
            throw new IllegalArgumentException(op + ": invalid " + what + " range [" + start + ", " + end + ")"
                    + (limit == Integer.MAX_VALUE ? "" : " for " + limit + " " + what + "s"));
        }
    }

    private static void checkArray(String op, String what, float[] a, int off, long needed) {
        checkArray(op, what, a.length, off, needed);
    }

    private static void checkArray(String op, String what, int[] a, int off, long needed) {
        checkArray(op, what, a.length, off, needed);
    }

    private static void checkArray(String op, String what, int length, int off, long needed) {
        if (off < 0 || off + needed > length) {
            throw new IndexOutOfBoundsException(op + ": " + what + " needs elements [" + off + ", " + (off + needed)
                    + ") but its array has length " + length);
        }
    }
}
