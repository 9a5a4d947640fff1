package jllm.nn;

import jllm.tensor.Tensor;

public class Tanh extends Module implements UnaryModule {
    @Override
    public Tensor forward(Tensor x) { return x.tanh(); }
}
