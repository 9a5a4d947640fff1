package jllm.optim.lr;

import jllm.optim.Optimizer;

/**
 * {@code torch.optim.lr_scheduler.ConstantLR}: base lr times {@code factor} for the first
 * {@code totalIters} steps, then the base lr. With factor 1 the lr is simply constant.
 */
public final class ConstantLR extends LRScheduler {
    private final double factor;
    private final long totalIters;

    /** PyTorch's defaults: factor 1/3 for 5 steps. */
    public ConstantLR(Optimizer optimizer) { this(optimizer, 1.0 / 3, 5); }

    public ConstantLR(Optimizer optimizer, double factor, long totalIters) {
        super(optimizer);
        if (!(factor >= 0 && factor <= 1)) throw new IllegalArgumentException("Constant multiplicative factor expected to be between 0 and 1, got " + factor);
        if (totalIters < 0) throw new IllegalArgumentException("totalIters must be >= 0, got " + totalIters);
        this.factor = factor;
        this.totalIters = totalIters;
        start();
    }

    /** A schedule that keeps every group's base lr. */
    public static ConstantLR constant(Optimizer optimizer) { return new ConstantLR(optimizer, 1.0, 0); }

    @Override
    protected double lrAt(int group, double baseLr, long step) {
        // PyTorch's closed form
        return baseLr * (factor + (step >= totalIters ? 1 - factor : 0));
    }
}
