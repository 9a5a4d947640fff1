package jllm.nn;

import jllm.tensor.Tensor;

/** Softmax along one dim. */
public class Softmax extends Module implements UnaryModule {
    public final int dim;

    public Softmax(int dim) { this.dim = dim; }

    @Override
    public Tensor forward(Tensor x) { return x.softmax(dim); }

    @Override
    public String extraRepr() { return "dim=" + dim; }
}
