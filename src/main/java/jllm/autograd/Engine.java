package jllm.autograd;

import jllm.tensor.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;

/**
 * The backward sweep: counts how many consumers each reachable node has, then processes nodes in
 * topological order (a node runs once all gradients flowing into it have been summed), so each
 * node's backward runs exactly once per call.
 */
public final class Engine {
    private Engine() {}

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
        try (var g = Grad.off()) {
            run(start, grad.detach(), retainGraph);
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
        grads.put(start, grad);
        ArrayDeque<Node> ready = new ArrayDeque<>();
        ready.add(start);
        while (!ready.isEmpty()) {
            Node n = ready.poll();
            Tensor g = grads.remove(n);
            if (n.preHooks != null) {
                for (UnaryOperator<Tensor> h : n.preHooks) {
                    Tensor r = h.apply(g);
                    if (r != null) g = r;
                }
            }
            if (n.retainers != null) {
                for (Tensor t : n.retainers) accumulate(t, g);
            }
            if (n instanceof AccumulateGrad acc) {
                Tensor leaf = acc.variable();
                accumulate(leaf, g);
                if (acc.postHooks != null) acc.postHooks.forEach(h -> h.accept(leaf));
                continue;
            }
            Tensor[] in = n.run(g);
            for (int i = 0; i < n.next.length; i++) {
                Node m = n.next[i];
                if (m == null) continue;
                Tensor gi = i < in.length ? in[i] : null;
                if (gi != null) grads.merge(m, gi, Tensor::add);
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

    private static void accumulate(Tensor t, Tensor g) {
        if (!Arrays.equals(g.shape(), t.shape())) {
            throw new IllegalStateException("gradient of shape " + Arrays.toString(g.shape())
                    + " does not match tensor of shape " + Arrays.toString(t.shape()));
        }
        Tensor cur = t.grad();
        if (cur == null) t.setGrad(g.clone());
        else cur.add_(g);
    }
}
