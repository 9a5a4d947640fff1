package jllm.optim.lr;

import jllm.optim.Optimizer;

import java.util.List;
import java.util.function.LongToDoubleFunction;
import java.util.Collections;

/** {@code torch.optim.lr_scheduler.LambdaLR}: lr = base lr * factor(step), one function for all groups or one per group. */
public final class LambdaLR extends LRScheduler {
    private final List<LongToDoubleFunction> factors;

    public LambdaLR(Optimizer optimizer, LongToDoubleFunction factor) {
        this(optimizer, Collections.nCopies(optimizer.paramGroups().size(), factor));
    }

    public LambdaLR(Optimizer optimizer, List<LongToDoubleFunction> perGroup) {
        super(optimizer);
        if (perGroup.size() != optimizer.paramGroups().size()) {
            throw new IllegalArgumentException("Expected " + optimizer.paramGroups().size() + " lr_lambdas, but got " + perGroup.size());
        }
        this.factors = List.copyOf(perGroup);
        start();
    }

    @Override
    protected double lrAt(int group, double baseLr, long step) {
        return baseLr * factors.get(group).applyAsDouble(step);
    }
}
