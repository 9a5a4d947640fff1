package jllm.nn;

import jllm.nn.functional.F;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

/** y = x W^T + b, PyTorch's {@code nn.Linear}: weight [out, in], bias [out]. */
public class Linear extends Module implements UnaryModule {
    public final int inFeatures;
    public final int outFeatures;

    public Linear(int inFeatures, int outFeatures) { this(inFeatures, outFeatures, true); }

    public Linear(int inFeatures, int outFeatures, boolean bias) {
        if (inFeatures < 0 || outFeatures < 0) {
            throw new IllegalArgumentException("Linear: features must be non-negative, got in=" + inFeatures + ", out=" + outFeatures);
        }
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        registerParameter("weight", Init.weightMatrix(outFeatures, inFeatures));
        registerParameter("bias", bias ? Tensor.zeros(outFeatures) : null);
        if (!Init.skipping()) resetParameters();
    }

    /**
     * A Linear without bias whose weight [out, in] is an existing tensor, for a head tied to an
     * embedding: building it allocates no second [vocab, dim] matrix (a transient 154 MB for GPT-2,
     * 1 GB for a tied 128K-vocabulary Llama), which a heap sized to the model would have to hold
     * for nothing. It is initialised as {@code new Linear(in, out, false)} would be, into the shared
     * tensor, so the default generator moves on exactly as before.
     */
    public static Linear sharing(Tensor weight) {
        if (weight.dim() != 2) throw new IllegalArgumentException("Linear.sharing: weight must be [out, in], got " + java.util.Arrays.toString(weight.shape()));
        return new Linear(weight);
    }

    private Linear(Tensor weight) {
        this.inFeatures = weight.size(1);
        this.outFeatures = weight.size(0);
        registerParameter("weight", weight);
        registerParameter("bias", null);
        if (!Init.skipping()) resetParameters();
    }

    public Tensor weight() { return parameter("weight"); }

    /** The bias, or null when built with bias=false. */
    public Tensor bias() { return parameter("bias"); }

    public void resetParameters() { resetParameters(Generator.defaultGenerator()); }

    /** kaiming_uniform_(a=sqrt(5)) on the weight, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) on the bias. */
    public void resetParameters(Generator gen) {
        Init.kaimingUniform_(weight(), Math.sqrt(5), "fan_in", "leaky_relu", gen);
        if (bias() != null) {
            long fanIn = Init.calculateFanInAndFanOut(weight())[0];
            double bound = fanIn > 0 ? 1 / Math.sqrt(fanIn) : 0;
            Init.uniform_(bias(), -bound, bound, gen);
        }
    }

    @Override
    public Tensor forward(Tensor x) { return F.linear(x, weight(), bias()); }

    @Override
    public String extraRepr() {
        return "in_features=" + inFeatures + ", out_features=" + outFeatures + ", bias=" + Repr.bool(bias() != null);
    }
}
