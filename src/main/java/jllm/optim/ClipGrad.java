package jllm.optim;

import jllm.autograd.Grad;
import jllm.backend.ReduceOp;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/**
 * Gradient clipping, after {@code torch.nn.utils.clip_grad_norm_} and {@code clip_grad_value_}.
 * Parameters whose grad is null are ignored. Grads are changed in place.
 */
public final class ClipGrad {
    private ClipGrad() {}

    /** {@link #clipGradNorm(Iterable, double, double, boolean)} with the 2-norm. */
    public static double clipGradNorm(Iterable<Tensor> params, double maxNorm) {
        return clipGradNorm(params, maxNorm, 2.0, false);
    }

    public static double clipGradNorm(Iterable<Tensor> params, double maxNorm, double normType) {
        return clipGradNorm(params, maxNorm, normType, false);
    }

    /**
     * Scales all grads, as if concatenated into one vector, so that their norm is at most
     * {@code maxNorm}, and returns the total norm before clipping. As PyTorch 2.x:
     * {@code clip_coef = max_norm / (total_norm + 1e-6)}, clamped to at most 1, and every grad is
     * multiplied by it (a factor of exactly 1 is skipped: it changes nothing). The norm and the
     * factor are float32 values, as PyTorch's are for float32 grads.
     *
     * @param normType 2.0, {@code Double.POSITIVE_INFINITY} (max |g|) or any p &gt; 0
     * @param errorIfNonfinite throw when the total norm is nan or inf instead of scaling by it
     */
    public static double clipGradNorm(Iterable<Tensor> params, double maxNorm, double normType, boolean errorIfNonfinite) {
        List<Tensor> grads = grads(params);
        if (grads.isEmpty()) return 0.0;
        try (var g = Grad.off()) {
            float total = totalNorm(grads, normType);
            if (errorIfNonfinite && !Float.isFinite(total)) {
                throw new IllegalStateException("The total norm of order " + normType + " for gradients from `parameters` is non-finite, "
                        + "so it cannot be clipped. To disable this error and scale the gradients by the non-finite norm anyway, "
                        + "set `errorIfNonfinite=false`");
            }
            // Python: max_norm / (total_norm + 1e-6) on a float32 tensor = reciprocal(total + 1e-6) * max_norm
            float denom = total + 1e-6f;
            float coef = (1.0f / denom) * (float) maxNorm;
            float clamped = Float.isNaN(coef) ? coef : Math.min(coef, 1.0f);
            if (clamped != 1.0f) {
                for (Tensor gr : grads) gr.mul_(clamped);
            }
            return total;
        }
    }

    /** The total norm of all grads (as {@code torch.nn.utils.get_total_norm}); nothing is changed. */
    public static double gradNorm(Iterable<Tensor> params, double normType) {
        List<Tensor> grads = grads(params);
        if (grads.isEmpty()) return 0.0;
        try (var g = Grad.off()) {
            return totalNorm(grads, normType);
        }
    }

    /** Clamps every grad element into {@code [-clipValue, clipValue]}. */
    public static void clipGradValue(Iterable<Tensor> params, double clipValue) {
        if (Double.isNaN(clipValue)) throw new IllegalArgumentException("clipValue is NaN");
        try (var g = Grad.off()) {
            for (Tensor gr : grads(params)) gr.clamp_(-clipValue, clipValue);
        }
    }

    private static List<Tensor> grads(Iterable<Tensor> params) {
        List<Tensor> out = new ArrayList<>();
        for (Tensor p : params) if (p.grad() != null) out.add(p.grad());
        return out;
    }

    /** Per-grad norms in float (as torch.linalg.vector_norm gives), then the norm of those norms. */
    private static float totalNorm(List<Tensor> grads, double p) {
        if (!(p > 0)) throw new IllegalArgumentException("normType must be > 0 (2.0, inf or another p-norm), got " + p);
        if (p == Double.POSITIVE_INFINITY) {
            float m = 0;
            for (Tensor g : grads) {
                if (g.numel() == 0) continue;
                float v = (float) g.abs().max().item();
                if (Float.isNaN(v) || Float.isNaN(m)) m = Float.NaN;
                else m = Math.max(m, v);
            }
            return m;
        }
        double acc = 0;
        for (Tensor g : grads) {
            float norm;
            if (p == 2.0) {
                int[] dims = new int[g.dim()];
                for (int i = 0; i < dims.length; i++) dims[i] = i;
                double ss = g.backend().reduce(ReduceOp.SUMSQ, g, dims, false, 0).item();
                norm = (float) Math.sqrt(ss);
                acc += (double) norm * norm;
            } else if (p == 1.0) {
                norm = (float) g.abs().sum().item();
                acc += norm;
            } else {
                norm = (float) Math.pow(g.abs().pow(p).sum().item(), 1.0 / p);
                acc += Math.pow(norm, p);
            }
        }
        return (float) (p == 2.0 ? Math.sqrt(acc) : p == 1.0 ? acc : Math.pow(acc, 1.0 / p));
    }
}
