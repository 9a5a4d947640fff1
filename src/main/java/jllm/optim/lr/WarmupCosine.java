package jllm.optim.lr;

import jllm.optim.Optimizer;

/**
 * nanoGPT's {@code get_lr}: linear warmup to the base lr over {@code warmupIters}, cosine decay
 * to {@code minLr} at {@code lrDecayIters}, then {@code minLr}. The first group's base lr is
 * nanoGPT's {@code learning_rate}; a group with another base lr decays to
 * {@code minLr * base / firstBase}, keeping the same ratio.
 */
public final class WarmupCosine extends LRScheduler {
    private final long warmupIters, lrDecayIters;
    private final double minLr, refLr;

    public WarmupCosine(Optimizer optimizer, long warmupIters, long lrDecayIters, double minLr) {
        super(optimizer);
        if (warmupIters < 0) throw new IllegalArgumentException("warmupIters must be >= 0, got " + warmupIters);
        if (lrDecayIters < warmupIters) {
            throw new IllegalArgumentException("lrDecayIters (" + lrDecayIters + ") must be >= warmupIters (" + warmupIters + ")");
        }
        if (!(minLr >= 0)) throw new IllegalArgumentException("minLr must be >= 0, got " + minLr);
        this.warmupIters = warmupIters;
        this.lrDecayIters = lrDecayIters;
        this.minLr = minLr;
        this.refLr = baseLrs()[0];
        start();
    }

    @Override
    protected double lrAt(int group, double baseLr, long it) {
        double min = baseLr == refLr ? minLr : minLr * (baseLr / refLr);
        return lr(it, baseLr, min, warmupIters, lrDecayIters);
    }

    /** nanoGPT's {@code get_lr(it)} with the given settings, operation for operation. */
    public static double lr(long it, double learningRate, double minLr, long warmupIters, long lrDecayIters) {
        // 1) linear warmup for warmup_iters steps
        if (it < warmupIters) return learningRate * (it + 1) / (warmupIters + 1);
        // 2) if it > lr_decay_iters, return min learning rate
        if (it > lrDecayIters) return minLr;
        // 3) in between, use cosine decay down to min learning rate (nanoGPT divides by zero when the two are equal)
        double decayRatio = lrDecayIters == warmupIters ? 0.0 : (double) (it - warmupIters) / (lrDecayIters - warmupIters);
        double coeff = 0.5 * (1.0 + Math.cos(Math.PI * decayRatio));
        return minLr + coeff * (learningRate - minLr);
    }
}
