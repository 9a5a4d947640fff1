package jllm.nn;

import jllm.nn.functional.F;
import jllm.tensor.Tensor;

/** Inverted dropout while training (zero with probability p, scale the rest by 1/(1-p)); identity in eval mode. */
public class Dropout extends Module implements UnaryModule {
    public final double p;

    public Dropout() { this(0.5); }

    public Dropout(double p) {
        if (p < 0 || p > 1) throw new IllegalArgumentException("dropout probability has to be between 0 and 1, but got " + p);
        this.p = p;
    }

    @Override
    public Tensor forward(Tensor x) { return F.dropout(x, p, isTraining()); }

    @Override
    public String extraRepr() { return "p=" + Repr.pyFloat(p) + ", inplace=False"; }
}
