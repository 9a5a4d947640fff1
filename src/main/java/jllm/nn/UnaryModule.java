package jllm.nn;

import jllm.tensor.Tensor;

/** A module with one tensor in and one tensor out (most layers); {@link Sequential} chains these. */
public interface UnaryModule {
    Tensor forward(Tensor x);
}
