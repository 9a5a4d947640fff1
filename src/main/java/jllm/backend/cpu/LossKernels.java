package jllm.backend.cpu;

import static jllm.backend.cpu.FusedKernels.L;
import static jllm.backend.cpu.FusedKernels.S;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import java.util.Arrays;

/**
 * Cross-entropy over logits [N, V] (row-major, row r at {@code off + r*V}) with int class targets,
 * PyTorch's ignore_index and label_smoothing semantics. Reduction is the caller's: forward writes
 * per-row losses, backward takes per-row upstream gradients.
 */
public final class LossKernels {
    private LossKernels() {}

    /** Number of targets in {@code t[off, off+n)} that are not {@code ignoreIndex} (the 'mean' divisor). */
    public static int countValidTargets(int[] targets, int tOff, int n, int ignoreIndex) {
        int c = 0;
        for (int i = 0; i < n; i++) if (targets[tOff + i] != ignoreIndex) c++;
        return c;
    }

    /**
     * Cross-entropy forward, rows [rowStart,rowEnd): with lse = logsumexp(x_row) and eps the label
     * smoothing, loss[r] = (1-eps)*(lse - x[t]) + eps*(lse - mean_j x[j]); loss[r] = 0 and
     * lse[r] = 0 for rows whose target equals ignoreIndex. lse may be null (not saved).
     *
     * @throws IllegalArgumentException for a target outside [0,V) that is not ignoreIndex
     */
    public static void crossEntropyForward(float[] logits, int lOff, int[] targets, int tOff,
                                           float[] loss, int lossOff, float[] lse, int lseOff,
                                           int V, int ignoreIndex, float labelSmoothing,
                                           int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int t = targets[tOff + r];
            if (t == ignoreIndex) {
                loss[lossOff + r] = 0f;
                if (lse != null) lse[lseOff + r] = 0f;
                continue;
            }
            checkTarget(r, t, V);
            int xo = lOff + r * V;
            float m = FusedKernels.max(logits, xo, V);
            double l = m + Math.log(FusedKernels.expShiftSum(logits, xo, V, m));
            double nll = l - logits[xo + t];
            double v = nll;
            if (labelSmoothing != 0f) {
                double smooth = l - FusedKernels.sum(logits, xo, V) / V;
                v = (1.0 - labelSmoothing) * nll + labelSmoothing * smooth;
            }
            loss[lossOff + r] = (float) v;
            if (lse != null) lse[lseOff + r] = (float) l;
        }
    }

    /**
     * Cross-entropy backward, rows [rowStart,rowEnd): dlogits = g[r] * (softmax(x) - (1-eps)*onehot(t)
     * - eps/V) using the saved lse; zero rows where the target is ignoreIndex. g[r] is read at
     * {@code gOff + r*gStride} (gStride 0 broadcasts one scalar, e.g. 1/count for 'mean').
     * dlogits may alias logits.
     */
    public static void crossEntropyBackward(float[] logits, int lOff, int[] targets, int tOff,
                                            float[] lse, int lseOff, float[] g, int gOff, int gStride,
                                            float[] dlogits, int dOff, int V, int ignoreIndex, float labelSmoothing,
                                            int rowStart, int rowEnd) {
        for (int r = rowStart; r < rowEnd; r++) {
            int t = targets[tOff + r];
            int xo = lOff + r * V, dxo = dOff + r * V;
            if (t == ignoreIndex) {
                Arrays.fill(dlogits, dxo, dxo + V, 0f);
                continue;
            }
            checkTarget(r, t, V);
            float gr = g[gOff + r * gStride];
            float l = lse[lseOff + r];
            float off = labelSmoothing / V;
            float pt = (float) Math.exp(logits[xo + t] - l); // read before an aliased dlogits overwrites it
            FloatVector lv = FloatVector.broadcast(S, l), gv = FloatVector.broadcast(S, gr);
            FloatVector ov = FloatVector.broadcast(S, off);
            int i = 0;
            for (int ub = S.loopBound(V); i < ub; i += L) {
                FloatVector p = VecMath.exp(FloatVector.fromArray(S, logits, xo + i).sub(lv));
                p.sub(ov).mul(gv).intoArray(dlogits, dxo + i);
            }
            for (; i < V; i++) dlogits[dxo + i] = ((float) Math.exp(logits[xo + i] - l) - off) * gr;
            dlogits[dxo + t] = (pt - off - (1f - labelSmoothing)) * gr;
        }
    }

    private static void checkTarget(int row, int t, int V) {
        if (t < 0 || t >= V) {
            throw new IllegalArgumentException("cross_entropy: target " + t + " at row " + row
                    + " is out of bounds for " + V + " classes");
        }
    }
}
