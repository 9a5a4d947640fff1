package jllm.models.transformer;

import jllm.nn.Module;
import jllm.nn.UnaryModule;
import jllm.tensor.Tensor;
import java.util.Arrays;

/**
 * The seed's own layer norm, {@code a_2 * (x - mean) / (std + eps) + b_2} over the last dim. It is
 * not {@link jllm.nn.LayerNorm}: the std is the unbiased one (divides by N - 1, as
 * {@code torch.std}), eps (default 1e-6) is added to the std rather than inside a square root,
 * and the parameters are called {@code a_2} (ones) and {@code b_2} (zeros).
 */
public class LayerNorm extends Module implements UnaryModule {
    public final int features;
    public final double eps;

    public LayerNorm(int features) { this(features, 1e-6); }

    public LayerNorm(int features, double eps) {
        this.features = features;
        this.eps = eps;
        registerParameter("a_2", Tensor.ones(features));
        registerParameter("b_2", Tensor.zeros(features));
    }

    public Tensor a2() { return parameter("a_2"); }

    public Tensor b2() { return parameter("b_2"); }

    @Override
    public Tensor forward(Tensor x) {
        if (x.dim() == 0 || x.size(-1) != features) {
            throw new IllegalArgumentException("LayerNorm(" + features + ") expects a last dim of " + features + ", got shape "
                    + Arrays.toString(x.shape()));
        }
        Tensor mean = x.mean(-1, true);
        Tensor std = x.std(-1, true);
        return a2().mul(x.sub(mean)).div(std.add(eps)).add(b2());
    }
}
