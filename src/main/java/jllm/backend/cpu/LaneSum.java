package jllm.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * The sum of a vector's lanes in one fixed order. {@code reduceLanes(ADD)} leaves the order of
 * the additions to the implementation: the interpreter, C1 and C2's intrinsic add in different
 * orders, so a kernel's result would depend on when the JIT compiled it, and two runs of the
 * same training with the same seed would drift apart in the last bits. Here the lanes are folded
 * in halves with lane-wise adds (exact IEEE operations, the same in every tier): lane i plus lane
 * i + L/2, and so on down to one lane. Costs the same as the intrinsic (log2 L shuffles and adds).
 */
final class LaneSum {
    private LaneSum() {}

    static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /*
     * One constant per level, not an array of them: a shuffle read from an array is not of a type
     * C2 can see, and then rearrange is not intrinsified inside a large compiled kernel (it falls
     * back to Java code that allocates arrays and boxes: measured 1 GB/s of garbage while serving
     * an F16 model, 10 young GCs a second).
     */
    private static final VectorShuffle<Float> SWAP1 = swap(1), SWAP2 = swap(2), SWAP4 = swap(4), SWAP8 = swap(8);

    private static VectorShuffle<Float> swap(int bit) {
        return bit < L ? VectorShuffle.fromOp(S, i -> i ^ bit) : VectorShuffle.iota(S, 0, 1, false);
    }

    /** The lanes' sum, the same in every JIT tier. {@code v} must be of {@link #S}. */
    static float sum(FloatVector v) {
        if (L > 16) return wide(v);
        if (L > 8) v = v.add(v.rearrange(SWAP8));
        if (L > 4) v = v.add(v.rearrange(SWAP4));
        if (L > 2) v = v.add(v.rearrange(SWAP2));
        if (L > 1) v = v.add(v.rearrange(SWAP1));
        return v.lane(0);
    }

    /** Vectors wider than 16 lanes: the same halving order, on the lanes in an array. */
    private static float wide(FloatVector v) {
        float[] a = v.toArray();
        for (int h = a.length / 2; h >= 1; h /= 2) {
            for (int i = 0; i < h; i++) a[i] += a[i + h];
        }
        return a[0];
    }
}
