package jllm.nn;

import jllm.nn.functional.F;
import jllm.tensor.Tensor;

/** Layer normalisation over the trailing dims, PyTorch's {@code nn.LayerNorm}: weight ones, bias zeros. */
public class LayerNorm extends Module implements UnaryModule {
    private final int[] normalizedShape;
    public final double eps;
    public final boolean elementwiseAffine;

    public LayerNorm(int normalizedShape) { this(new int[] {normalizedShape}, 1e-5, true, true); }

    public LayerNorm(int normalizedShape, double eps) { this(new int[] {normalizedShape}, eps, true, true); }

    public LayerNorm(int[] normalizedShape, double eps, boolean elementwiseAffine) { this(normalizedShape, eps, elementwiseAffine, true); }

    public LayerNorm(int[] normalizedShape, double eps, boolean elementwiseAffine, boolean bias) {
        this.normalizedShape = normalizedShape.clone();
        this.eps = eps;
        this.elementwiseAffine = elementwiseAffine;
        if (elementwiseAffine) {
            registerParameter("weight", Tensor.ones(normalizedShape));
            registerParameter("bias", bias ? Tensor.zeros(normalizedShape) : null);
        } else {
            registerParameter("weight", null);
            registerParameter("bias", null);
        }
    }

    public int[] normalizedShape() { return normalizedShape.clone(); }

    public Tensor weight() { return parameter("weight"); }

    public Tensor bias() { return parameter("bias"); }

    public void resetParameters() {
        if (weight() != null) Init.ones_(weight());
        if (bias() != null) Init.zeros_(bias());
    }

    @Override
    public Tensor forward(Tensor x) { return F.layerNorm(x, normalizedShape, weight(), bias(), eps); }

    @Override
    public String extraRepr() {
        return Repr.tuple(normalizedShape) + ", eps=" + Repr.pyFloat(eps) + ", elementwise_affine=" + Repr.bool(elementwiseAffine);
    }
}
