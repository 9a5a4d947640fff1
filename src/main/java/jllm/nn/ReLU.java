package jllm.nn;

import jllm.tensor.Tensor;

/** max(x, 0). */
public class ReLU extends Module implements UnaryModule {
    @Override
    public Tensor forward(Tensor x) { return x.relu(); }
}
