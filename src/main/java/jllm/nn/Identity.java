package jllm.nn;

import jllm.tensor.Tensor;

/** Returns its input (a placeholder, e.g. for a removed layer). */
public class Identity extends Module implements UnaryModule {
    @Override
    public Tensor forward(Tensor x) { return x; }
}
