package jllm.bench;

import java.util.Arrays;

/**
 * Samples (latencies, rates) and their percentiles, by linear interpolation between the closest
 * ranks (numpy's default): the q-th percentile of n sorted samples x is x[h] + (h - floor h)
 * (x[floor h + 1] - x[floor h]) with h = (n - 1) q / 100. Not thread-safe: each client keeps its
 * own and they are {@link #addAll merged}.
 */
public final class Percentiles {
    private double[] xs = new double[16];
    private int n;
    private boolean sorted = true;

    public void add(double x) {
        if (Double.isNaN(x)) throw new IllegalArgumentException("a sample must be a number, got NaN");
        if (n == xs.length) xs = Arrays.copyOf(xs, n * 2);
        xs[n++] = x;
        sorted = false;
    }

    public void addAll(Percentiles other) {
        for (int i = 0; i < other.n; i++) add(other.xs[i]);
    }

    public int count() { return n; }

    public double mean() {
        if (n == 0) return Double.NaN;
        double s = 0;
        for (int i = 0; i < n; i++) s += xs[i];
        return s / n;
    }

    /** The q-th percentile, q in [0, 100]; NaN when there are no samples. */
    public double percentile(double q) {
        if (!(q >= 0 && q <= 100)) throw new IllegalArgumentException("a percentile must be in [0, 100], got " + q);
        if (n == 0) return Double.NaN;
        if (!sorted) {
            Arrays.sort(xs, 0, n);
            sorted = true;
        }
        double h = (n - 1) * q / 100;
        int lo = (int) Math.floor(h);
        return lo + 1 >= n ? xs[n - 1] : xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo]);
    }
}
