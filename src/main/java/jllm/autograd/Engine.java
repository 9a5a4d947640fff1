package jllm.autograd;

import jllm.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Set;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import java.util.Objects;

/**
 * The backward sweep: counts how many consumers each reachable node has, then processes nodes in
 * topological order (a node runs once all gradients flowing into it have been summed), so each
 * node's backward runs exactly once per call.
 */
public final class Engine {
    private Engine() {}

    /** Callbacks queued during the backward sweep running on this thread; null outside one. */
    private static final ThreadLocal<List<Runnable>> CALLBACKS = new ThreadLocal<>();

    /**
     * Runs {@code callback} once the backward sweep now running on this thread has finished, as
     * PyTorch's {@code Variable._execution_engine.queue_callback}: a gradient hook uses it to act on
     * the whole pass (DDP waits for its all-reduces there). Callbacks run in the order queued, with
     * grad mode off; one that throws ends {@code backward()} with its exception.
     *
     * @throws IllegalStateException outside a backward sweep
     */
    public static void queueCallback(Runnable callback) {
        List<Runnable> q = CALLBACKS.get();
        if (q == null) throw new IllegalStateException("queueCallback can only be called during a backward pass");
        q.add(Objects.requireNonNull(callback, "callback"));
    }

    public static void backward(Tensor root, Tensor grad, boolean retainGraph) {
        if (!root.requiresGrad()) {
            throw new IllegalStateException("element 0 of tensors does not require grad and does not have a grad_fn");
        }
        if (grad == null) {
            if (root.numel() != 1) {
                throw new IllegalStateException("grad can be implicitly created only for scalar outputs, got shape "
                        + Arrays.toString(root.shape()));
            }
            grad = Tensor.onesLike(root);
        } else if (!Arrays.equals(grad.shape(), root.shape())) {
            throw new IllegalArgumentException("Mismatch in shape: grad_output has a shape of " + Arrays.toString(grad.shape())
                    + " and output has a shape of " + Arrays.toString(root.shape()));
        } else if (!grad.device().equals(root.device())) {
            throw new IllegalArgumentException("grad is on " + grad.device() + " but the output is on " + root.device());
        }
        Node start = root.gradNode();
        List<Runnable> outer = CALLBACKS.get(); // a backward started from inside a hook keeps its own queue
        List<Runnable> callbacks = new ArrayList<>();
        CALLBACKS.set(callbacks);
        try (var g = Grad.off()) {
            run(start, grad.detach(), retainGraph);
            for (int i = 0; i < callbacks.size(); i++) callbacks.get(i).run(); // a callback may queue another
        } finally {
            CALLBACKS.set(outer);
        }
    }

    private static void run(Node start, Tensor grad, boolean retainGraph) {
        Map<Node, Integer> deps = new IdentityHashMap<>();
        ArrayDeque<Node> stack = new ArrayDeque<>();
        deps.put(start, 0);
        stack.push(start);
        List<Node> all = new ArrayList<>();
        while (!stack.isEmpty()) {
            Node n = stack.pop();
            all.add(n);
            for (Node m : n.next) {
                if (m == null) continue;
                Integer c = deps.get(m);
                if (c == null) {
                    deps.put(m, 1);
                    stack.push(m);
                } else {
                    deps.put(m, c + 1);
                }
            }
        }
        Map<Node, Tensor> grads = new IdentityHashMap<>();
        // Gradients that only the engine references: results of backward functions that are neither
        // the incoming gradient, a view, nor returned twice. They can be summed into in place and
        // handed to a leaf without a copy (PyTorch's AccumulateGrad steals such gradients too).
        Set<Tensor> owned = Collections.newSetFromMap(new IdentityHashMap<>());
        grads.put(start, grad);
        ArrayDeque<Node> ready = new ArrayDeque<>();
        ready.add(start);
        while (!ready.isEmpty()) {
            Node n = ready.poll();
            Tensor g = grads.remove(n);
            boolean gOwned = owned.remove(g);
            if (n.preHooks != null) {
                gOwned = false; // a hook may keep a reference to the gradient it sees
                for (UnaryOperator<Tensor> h : n.preHooks) {
                    Tensor r = h.apply(g);
                    if (r != null) g = r;
                }
            }
            if (n instanceof AccumulateGrad acc) {
                Tensor leaf = acc.variable();
                accumulate(leaf, g, gOwned);
                if (acc.postHooks != null) acc.postHooks.forEach(h -> h.accept(leaf));
                continue;
            }
            Tensor[] in;
            Node only = n.next.length == 1 ? n.next[0] : null;
            Tensor into = only == null ? null : grads.get(only);
            if (into != null && owned.contains(into) && into.storage() != g.storage() && n.runInto(g, into)) {
                in = new Tensor[1]; // summed in place: nothing more flows along the edge
            } else {
                in = n.run(g);
            }
            for (int i = 0; i < n.next.length; i++) {
                Node m = n.next[i];
                if (m == null) continue;
                Tensor gi = i < in.length ? in[i] : null;
                if (gi != null) {
                    Tensor cur = grads.get(m);
                    if (cur == null) {
                        grads.put(m, gi);
                        if (isFresh(gi, g, gOwned, in, i) && !n.sharesStorageWithSaved(gi)) owned.add(gi);
                    } else if (owned.contains(cur) && Arrays.equals(cur.shape(), gi.shape()) && cur.dtype() == gi.dtype()) {
                        cur.add_(gi);
                    } else {
                        owned.remove(cur);
                        Tensor sum = cur.add(gi);
                        grads.put(m, sum);
                        owned.add(sum);
                    }
                }
                int left = deps.get(m) - 1;
                deps.put(m, left);
                if (left == 0) {
                    if (grads.containsKey(m)) {
                        ready.add(m);
                    } else {
                        propagateNothing(m, deps, grads, ready);
                    }
                }
            }
            // as PyTorch frees a node's saved tensors once its backward ran: the activations of the layers
            // already done are garbage while the later weight gradients are being allocated, so a step's
            // peak is parameters + optimizer state + gradients, not that plus every activation
            if (!retainGraph) n.release();
        }
        if (!retainGraph) {
            for (Node n : all) if (!(n instanceof AccumulateGrad)) n.release();
        }
    }

    /** A node that received no gradient at all still releases its consumers' dependency counts. */
    private static void propagateNothing(Node n, Map<Node, Integer> deps, Map<Node, Tensor> grads, ArrayDeque<Node> ready) {
        for (Node m : n.next) {
            if (m == null) continue;
            int left = deps.get(m) - 1;
            deps.put(m, left);
            if (left == 0) {
                if (grads.containsKey(m)) ready.add(m);
                else propagateNothing(m, deps, grads, ready);
            }
        }
    }

    /**
     * True when gi, returned at position i by a backward function called with g, is referenced by
     * nobody else: a new tensor, or g or a view of it when the engine owned g (a transpose or
     * reshape passes ownership on, so e.g. a weight's gradient still reaches .grad without a copy).
     */
    private static boolean isFresh(Tensor gi, Tensor g, boolean gOwned, Tensor[] in, int i) {
        if (gi.storage() == g.storage() ? !gOwned : gi.isView()) return false;
        for (int j = 0; j < in.length; j++) {
            if (j != i && in[j] != null && in[j].storage() == gi.storage()) return false;
        }
        return true;
    }

    private static void accumulate(Tensor t, Tensor g, boolean owned) {
        if (!Arrays.equals(g.shape(), t.shape())) {
            throw new IllegalStateException("gradient of shape " + Arrays.toString(g.shape())
                    + " does not match tensor of shape " + Arrays.toString(t.shape()));
        }
        Tensor cur = t.grad();
        if (cur == null) {
            boolean steal = owned && g.isContiguous() && g.dtype() == t.dtype() && g.storageOffset() == 0
                    && g.numel() == g.storage().size();
            // a stolen view (say the transpose of a fresh product) becomes a plain tensor over its storage
            t.setGrad(!steal ? g.clone() : g.isView() ? Tensor.fromStorage(g.storage(), g.shape()) : g);
        } else {
            cur.add_(g);
        }
    }
}
