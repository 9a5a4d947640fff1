package jllm.optim.lr;

import jllm.optim.Optimizer;

/**
 * Linear warmup, then the base lr: nanoGPT's warmup, {@code base * (it + 1) / (warmupIters + 1)}
 * for {@code it < warmupIters}, so the first step already has a non-zero lr.
 */
public final class LinearWarmup extends LRScheduler {
    private final long warmupIters;

    public LinearWarmup(Optimizer optimizer, long warmupIters) {
        super(optimizer);
        if (warmupIters < 0) throw new IllegalArgumentException("warmupIters must be >= 0, got " + warmupIters);
        this.warmupIters = warmupIters;
        start();
    }

    @Override
    protected double lrAt(int group, double baseLr, long it) {
        return it < warmupIters ? baseLr * (it + 1) / (warmupIters + 1) : baseLr;
    }
}
