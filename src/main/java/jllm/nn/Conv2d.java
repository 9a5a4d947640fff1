package jllm.nn;

import jllm.nn.functional.F;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

/**
 * 2-D convolution with zero padding, PyTorch's {@code nn.Conv2d}: weight [out, in/groups, kh, kw]
 * with kaiming_uniform_(a=sqrt(5)), bias U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in/groups*kh*kw.
 */
public class Conv2d extends Module implements UnaryModule {
    public final int inChannels;
    public final int outChannels;
    private final int[] kernelSize;
    private final int[] stride;
    private final int[] padding;
    private final int[] dilation;
    public final int groups;

    public Conv2d(int inChannels, int outChannels, int kernelSize) { this(inChannels, outChannels, kernelSize, 1, 0, 1, 1, true); }

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride) { this(inChannels, outChannels, kernelSize, stride, 0, 1, 1, true); }

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride, int padding) {
        this(inChannels, outChannels, kernelSize, stride, padding, 1, 1, true);
    }

    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride, int padding, int dilation, int groups, boolean bias) {
        this(inChannels, outChannels, pair(kernelSize), pair(stride), pair(padding), pair(dilation), groups, bias);
    }

    public Conv2d(int inChannels, int outChannels, int[] kernelSize, int[] stride, int[] padding, int[] dilation, int groups, boolean bias) {
        check(kernelSize, "kernel_size", 1);
        check(stride, "stride", 1);
        check(padding, "padding", 0);
        check(dilation, "dilation", 1);
        if (groups <= 0) throw new IllegalArgumentException("Conv2d: groups must be a positive integer, got " + groups);
        if (inChannels % groups != 0) throw new IllegalArgumentException("Conv2d: in_channels must be divisible by groups (" + inChannels + " % " + groups + ")");
        if (outChannels % groups != 0) throw new IllegalArgumentException("Conv2d: out_channels must be divisible by groups (" + outChannels + " % " + groups + ")");
        this.inChannels = inChannels;
        this.outChannels = outChannels;
        this.kernelSize = kernelSize.clone();
        this.stride = stride.clone();
        this.padding = padding.clone();
        this.dilation = dilation.clone();
        this.groups = groups;
        registerParameter("weight", Tensor.zeros(outChannels, inChannels / groups, kernelSize[0], kernelSize[1]));
        registerParameter("bias", bias ? Tensor.zeros(outChannels) : null);
        resetParameters();
    }

    static int[] pair(int v) { return new int[] {v, v}; }

    private static void check(int[] v, String what, int min) {
        if (v == null || v.length != 2) throw new IllegalArgumentException("Conv2d: " + what + " must have 2 entries");
        if (v[0] < min || v[1] < min) throw new IllegalArgumentException("Conv2d: " + what + " must be >= " + min + ", got " + Repr.tuple(v));
    }

    public Tensor weight() { return parameter("weight"); }

    public Tensor bias() { return parameter("bias"); }

    public int[] kernelSize() { return kernelSize.clone(); }

    public int[] stride() { return stride.clone(); }

    public int[] padding() { return padding.clone(); }

    public int[] dilation() { return dilation.clone(); }

    public void resetParameters() { resetParameters(Generator.defaultGenerator()); }

    public void resetParameters(Generator gen) {
        Init.kaimingUniform_(weight(), Math.sqrt(5), "fan_in", "leaky_relu", gen);
        if (bias() != null) {
            long fanIn = Init.calculateFanInAndFanOut(weight())[0];
            if (fanIn != 0) {
                double bound = 1 / Math.sqrt(fanIn);
                Init.uniform_(bias(), -bound, bound, gen);
            }
        }
    }

    @Override
    public Tensor forward(Tensor x) { return F.conv2d(x, weight(), bias(), stride, padding, dilation, groups); }

    @Override
    public String extraRepr() {
        StringBuilder s = new StringBuilder().append(inChannels).append(", ").append(outChannels)
                .append(", kernel_size=").append(Repr.tuple(kernelSize)).append(", stride=").append(Repr.tuple(stride));
        if (padding[0] != 0 || padding[1] != 0) s.append(", padding=").append(Repr.tuple(padding));
        if (dilation[0] != 1 || dilation[1] != 1) s.append(", dilation=").append(Repr.tuple(dilation));
        if (groups != 1) s.append(", groups=").append(groups);
        if (bias() == null) s.append(", bias=False");
        return s.toString();
    }
}
