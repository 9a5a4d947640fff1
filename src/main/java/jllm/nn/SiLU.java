package jllm.nn;

import jllm.tensor.Tensor;

/** x * sigmoid(x). */
public class SiLU extends Module implements UnaryModule {
    @Override
    public Tensor forward(Tensor x) { return x.silu(); }
}
