package jllm.nn;

import jllm.tensor.Tensor;

/** GELU, exact (erf, "none") or the tanh approximation ("tanh"). */
public class GELU extends Module implements UnaryModule {
    public final String approximate;

    public GELU() { this("none"); }

    public GELU(String approximate) {
        if (!approximate.equals("none") && !approximate.equals("tanh")) {
            throw new IllegalArgumentException("GELU: approximate must be 'none' or 'tanh', got '" + approximate + "'");
        }
        this.approximate = approximate;
    }

    @Override
    public Tensor forward(Tensor x) { return x.gelu(approximate); }

    @Override
    public String extraRepr() { return "approximate='" + approximate + "'"; }
}
