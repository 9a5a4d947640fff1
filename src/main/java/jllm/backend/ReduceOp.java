package jllm.backend;

/** Reductions over a set of dims. */
public enum ReduceOp {
    SUM, MEAN, MAX, MIN, PROD, VAR, SUMSQ, ANY, ALL;

    /**
     * What the reduction of no elements gives, as PyTorch defines it (0 for sums, 1 for products, NaN
     * for mean and variance); max and min of nothing are PyTorch's error.
     */
    public double ofNothing() {
        return switch (this) {
            case SUM, SUMSQ, ANY -> 0;
            case PROD, ALL -> 1;
            case MEAN, VAR -> Double.NaN;
            case MAX, MIN -> throw new IllegalArgumentException(name().toLowerCase()
                    + "(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument.");
        };
    }
}
