package jllm.nn;

import jllm.tensor.Tensor;

/** Flattens dims startDim..endDim into one (defaults 1 and -1: keep the batch dim). */
public class Flatten extends Module implements UnaryModule {
    public final int startDim;
    public final int endDim;

    public Flatten() { this(1, -1); }

    public Flatten(int startDim, int endDim) {
        this.startDim = startDim;
        this.endDim = endDim;
    }

    @Override
    public Tensor forward(Tensor x) { return x.flatten(startDim, endDim); }

    @Override
    public String extraRepr() { return "start_dim=" + startDim + ", end_dim=" + endDim; }
}
