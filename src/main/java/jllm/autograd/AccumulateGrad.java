package jllm.autograd;

import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/** The sink node of a leaf tensor: adds incoming gradients into {@code leaf.grad()}. */
public final class AccumulateGrad extends Node {
    private final Tensor leaf;
    List<Consumer<Tensor>> postHooks;

    public AccumulateGrad(Tensor leaf) {
        super("AccumulateGrad", new Node[0], null, null);
        this.leaf = leaf;
    }

    public Tensor variable() { return leaf; }

    /** Runs after the gradient has been accumulated into the leaf (what DDP uses to start an all-reduce). */
    public void registerPostAccumulateHook(Consumer<Tensor> hook) {
        if (postHooks == null) postHooks = new ArrayList<>();
        postHooks.add(hook);
    }
}
