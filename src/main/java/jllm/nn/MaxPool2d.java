package jllm.nn;

import jllm.nn.functional.F;
import jllm.tensor.Tensor;

/** 2-D max pooling, PyTorch's {@code nn.MaxPool2d} (stride defaults to the kernel size; padding counts as -inf). */
public class MaxPool2d extends Module implements UnaryModule {
    private final int[] kernelSize;
    private final int[] stride;
    private final int[] padding;
    private final int[] dilation;
    public final boolean ceilMode;
    // printed as given: an int, or a tuple when built from arrays (as PyTorch keeps what it was passed)
    private final boolean scalarArgs;

    public MaxPool2d(int kernelSize) { this(kernelSize, kernelSize); }

    public MaxPool2d(int kernelSize, int stride) { this(kernelSize, stride, 0, 1, false); }

    public MaxPool2d(int kernelSize, int stride, int padding, int dilation, boolean ceilMode) {
        this(Conv2d.pair(kernelSize), Conv2d.pair(stride), Conv2d.pair(padding), Conv2d.pair(dilation), ceilMode, true);
    }

    public MaxPool2d(int[] kernelSize, int[] stride, int[] padding, int[] dilation, boolean ceilMode) {
        this(kernelSize, stride == null ? kernelSize : stride, padding, dilation, ceilMode, false);
    }

    private MaxPool2d(int[] kernelSize, int[] stride, int[] padding, int[] dilation, boolean ceilMode, boolean scalarArgs) {
        for (int[] v : new int[][] {kernelSize, stride, padding, dilation}) {
            if (v.length != 2) throw new IllegalArgumentException("MaxPool2d: kernel_size, stride, padding and dilation need 2 entries each");
        }
        if (kernelSize[0] <= 0 || kernelSize[1] <= 0 || stride[0] <= 0 || stride[1] <= 0 || dilation[0] <= 0 || dilation[1] <= 0) {
            throw new IllegalArgumentException("MaxPool2d: kernel_size, stride and dilation must be positive, got kernel_size="
                    + Repr.tuple(kernelSize) + ", stride=" + Repr.tuple(stride) + ", dilation=" + Repr.tuple(dilation));
        }
        if (padding[0] < 0 || padding[1] < 0 || padding[0] > ((kernelSize[0] - 1) * dilation[0] + 1) / 2
                || padding[1] > ((kernelSize[1] - 1) * dilation[1] + 1) / 2) {
            throw new IllegalArgumentException("MaxPool2d: pad should be at most half of effective kernel size, but got pad="
                    + Repr.tuple(padding) + " and kernel_size=" + Repr.tuple(kernelSize));
        }
        this.kernelSize = kernelSize.clone();
        this.stride = stride.clone();
        this.padding = padding.clone();
        this.dilation = dilation.clone();
        this.ceilMode = ceilMode;
        this.scalarArgs = scalarArgs;
    }

    @Override
    public Tensor forward(Tensor x) { return F.maxPool2d(x, kernelSize, stride, padding, dilation, ceilMode); }

    private String fmt(int[] v) { return scalarArgs ? String.valueOf(v[0]) : Repr.tuple(v); }

    @Override
    public String extraRepr() {
        return "kernel_size=" + fmt(kernelSize) + ", stride=" + fmt(stride) + ", padding=" + fmt(padding) + ", dilation="
                + fmt(dilation) + ", ceil_mode=" + Repr.bool(ceilMode);
    }
}
