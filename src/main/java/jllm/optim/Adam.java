package jllm.optim;

import jllm.tensor.Tensor;

import java.util.List;

/**
 * torch.optim.Adam: weight decay is an L2 term added to the gradient ({@code g + wd*p}), not
 * decoupled as in {@link AdamW}. Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8,
 * weight_decay 0, amsgrad false.
 */
public final class Adam extends AdamBase {
    public Adam(Iterable<Tensor> params) { this(params, AdamW.DEFAULT_LR); }

    public Adam(Iterable<Tensor> params, double lr) { this(params, lr, AdamW.DEFAULT_BETA1, AdamW.DEFAULT_BETA2, AdamW.DEFAULT_EPS, 0); }

    public Adam(Iterable<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        this(single(params), lr, beta1, beta2, eps, weightDecay, false);
    }

    public Adam(List<ParamGroup> groups) {
        this(groups, AdamW.DEFAULT_LR, AdamW.DEFAULT_BETA1, AdamW.DEFAULT_BETA2, AdamW.DEFAULT_EPS, 0, false);
    }

    public Adam(List<ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad) {
        super(groups, lr, beta1, beta2, eps, weightDecay, amsgrad, false);
    }
}
