package jllm.autograd;

import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;
import java.util.function.UnaryOperator;
import java.util.Arrays;

/**
 * One recorded operation of the graph: the function that turns the gradient of its output into
 * gradients of its inputs, the edges to the inputs' nodes, and the tensors it saved for backward.
 */
public class Node {
    /** Computes input gradients from the output gradient and the (version-checked) saved tensors. */
    @FunctionalInterface
    public interface Backward {
        Tensor[] apply(Tensor grad, Tensor[] saved);
    }

    /** Adds the gradient of a node's single input into a tensor that already holds part of that gradient. */
    @FunctionalInterface
    public interface AccumulateInto {
        void apply(Tensor grad, Tensor target);
    }

    private final String name;
    final Node[] next;
    private Backward backward;
    private Tensor[] saved;
    private int[] savedVersions;
    private boolean released;
    List<UnaryOperator<Tensor>> preHooks;
    private AccumulateInto accumulateInto;

    public Node(String name, Node[] next, Backward backward, Tensor[] saved) {
        this.name = name;
        this.next = next;
        this.backward = backward;
        this.saved = saved;
        if (saved != null) {
            savedVersions = new int[saved.length];
            for (int i = 0; i < saved.length; i++) savedVersions[i] = saved[i] == null ? 0 : saved[i].version();
        }
    }

    public String name() { return name; }

    /** The nodes of the inputs (null where an input needs no gradient). */
    public Node[] nextFunctions() { return next.clone(); }

    /**
     * The tensors this node keeps for its backward (empty once released), as PyTorch's
     * {@code grad_fn._saved_*}: what a graph holds in memory until backward has passed it.
     */
    public List<Tensor> savedTensors() {
        List<Tensor> out = new ArrayList<>();
        if (saved != null) for (Tensor t : saved) if (t != null) out.add(t);
        return out;
    }

    /** Adds a hook that sees (and may replace) the gradient flowing into this node. */
    public void registerPreHook(UnaryOperator<Tensor> hook) {
        if (preHooks == null) preHooks = new ArrayList<>();
        preHooks.add(hook);
    }

    /**
     * Lets the engine, when another gradient for this node's single input has already been summed
     * into a buffer only it references, add this node's contribution into that buffer instead of
     * materialising a full-size gradient (slices of one tensor: the backward of each piece would
     * otherwise be a mostly-zero tensor of the whole input's size). Returns this node.
     */
    public Node accumulateInto(AccumulateInto f) {
        if (next.length != 1) throw new IllegalArgumentException("accumulateInto needs a node with one input, " + name + " has " + next.length);
        accumulateInto = f;
        return this;
    }

    /** Adds this node's input gradient into target when the node supports it; false when it does not. */
    boolean runInto(Tensor grad, Tensor target) {
        if (accumulateInto == null || released) return false;
        checkSaved();
        accumulateInto.apply(grad, target);
        return true;
    }

    Tensor[] run(Tensor grad) {
        if (released) {
            throw new IllegalStateException("Trying to backward through the graph a second time (or directly access saved "
                    + "tensors after they have already been freed) in " + name + ". Saved intermediate values of the graph "
                    + "are freed when you call backward(). Specify retainGraph=true if you need to backward through the "
                    + "graph a second time.");
        }
        checkSaved();
        return backward.apply(grad, saved == null ? new Tensor[0] : saved);
    }

    private void checkSaved() {
        Tensor[] s = saved == null ? new Tensor[0] : saved;
        for (int i = 0; i < s.length; i++) {
            if (s[i] != null && s[i].version() != savedVersions[i]) {
                throw new IllegalStateException("one of the variables needed for gradient computation has been modified by "
                        + "an inplace operation: [" + s[i].dtype().torchName() + " tensor of shape "
                        + Arrays.toString(s[i].shape()) + "], which is saved by " + name + ", is at version "
                        + s[i].version() + "; expected version " + savedVersions[i] + " instead.");
            }
        }
    }

    /** True when t shares storage with a tensor this node saved (so the engine must not write into it). */
    boolean sharesStorageWithSaved(Tensor t) {
        if (saved == null) return false;
        for (Tensor s : saved) if (s != null && s.storage() == t.storage()) return true;
        return false;
    }

    void release() {
        released = true;
        saved = null;
        backward = null;
        accumulateInto = null;
    }

    @Override
    public String toString() { return "<" + name + ">"; }
}
