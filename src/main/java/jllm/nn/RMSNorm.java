package jllm.nn;

import jllm.nn.functional.F;
import jllm.tensor.DType;
import jllm.tensor.Tensor;

/**
 * Root-mean-square normalisation, PyTorch's {@code nn.RMSNorm}: x * rsqrt(mean(x^2) + eps) * weight,
 * weight ones. A null eps means the machine epsilon of the input's dtype ({@code torch.finfo(x.dtype).eps}).
 */
public class RMSNorm extends Module implements UnaryModule {
    private final int[] normalizedShape;
    public final Double eps;
    public final boolean elementwiseAffine;

    public RMSNorm(int normalizedShape) { this(new int[] {normalizedShape}, null, true); }

    public RMSNorm(int normalizedShape, Double eps) { this(new int[] {normalizedShape}, eps, true); }

    public RMSNorm(int[] normalizedShape, Double eps, boolean elementwiseAffine) {
        this.normalizedShape = normalizedShape.clone();
        this.eps = eps;
        this.elementwiseAffine = elementwiseAffine;
        registerParameter("weight", elementwiseAffine ? Tensor.ones(normalizedShape) : null);
    }

    public int[] normalizedShape() { return normalizedShape.clone(); }

    public Tensor weight() { return parameter("weight"); }

    public void resetParameters() {
        if (weight() != null) Init.ones_(weight());
    }

    /** torch.finfo(dtype).eps. */
    public static double machineEpsilon(DType dtype) {
        return switch (dtype) {
            case F64 -> Math.ulp(1.0);
            case F16 -> 0.0009765625;
            case BF16 -> 0.0078125;
            default -> Math.ulp(1.0f);
        };
    }

    @Override
    public Tensor forward(Tensor x) {
        return F.rmsNorm(x, normalizedShape, weight(), eps != null ? eps : machineEpsilon(x.dtype()));
    }

    @Override
    public String extraRepr() {
        return Repr.tuple(normalizedShape) + ", eps=" + (eps == null ? "None" : Repr.pyFloat(eps)) + ", elementwise_affine="
                + Repr.bool(elementwiseAffine);
    }
}
