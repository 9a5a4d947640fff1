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
    /** SWAP[k] exchanges lane i with lane i ^ 2^k. */
    private static final VectorShuffle<Float>[] SWAP = swaps();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] swaps() {
        int levels = Integer.numberOfTrailingZeros(S.length());
        VectorShuffle<Float>[] s = new VectorShuffle[levels];
        for (int k = 0; k < levels; k++) {
            int bit = 1 << k;
            s[k] = VectorShuffle.fromOp(S, i -> i ^ bit);
        }
        return s;
    }

    /** The lanes' sum, the same in every JIT tier. {@code v} must be of {@link #S}. */
    static float sum(FloatVector v) {
        for (int k = SWAP.length - 1; k >= 0; k--) v = v.add(v.rearrange(SWAP[k]));
        return v.lane(0);
    }
}
