package jllm.optim;

import jllm.tensor.Tensor;

import java.util.List;

/**
 * torch.optim.AdamW: Adam with decoupled weight decay ({@code p *= 1 - lr*wd} before the Adam
 * update). Defaults as PyTorch: lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight_decay 1e-2,
 * amsgrad false. Each parameter counts its own steps for the bias corrections.
 * Group options: {@code lr, betas, eps, weight_decay, amsgrad, maximize}.
 */
public final class AdamW extends AdamBase {
    public static final double DEFAULT_LR = 1e-3, DEFAULT_BETA1 = 0.9, DEFAULT_BETA2 = 0.999, DEFAULT_EPS = 1e-8,
            DEFAULT_WEIGHT_DECAY = 1e-2;

    public AdamW(Iterable<Tensor> params) { this(params, DEFAULT_LR); }

    public AdamW(Iterable<Tensor> params, double lr) {
        this(params, lr, DEFAULT_BETA1, DEFAULT_BETA2, DEFAULT_EPS, DEFAULT_WEIGHT_DECAY);
    }

    public AdamW(Iterable<Tensor> params, double lr, double beta1, double beta2, double eps, double weightDecay) {
        this(single(params), lr, beta1, beta2, eps, weightDecay, false);
    }

    /** Groups with PyTorch's defaults for the options they lack. */
    public AdamW(List<ParamGroup> groups) {
        this(groups, DEFAULT_LR, DEFAULT_BETA1, DEFAULT_BETA2, DEFAULT_EPS, DEFAULT_WEIGHT_DECAY, false);
    }

    /** Groups; the arguments are the defaults for options a group lacks. */
    public AdamW(List<ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad) {
        super(groups, lr, beta1, beta2, eps, weightDecay, amsgrad, true);
    }
}
