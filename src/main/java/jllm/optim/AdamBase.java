package jllm.optim;

import jllm.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The shared Adam/AdamW step; {@code decoupled} selects AdamW's weight decay. */
abstract sealed class AdamBase extends Optimizer permits Adam, AdamW {
    static final String EXP_AVG = "exp_avg";
    static final String EXP_AVG_SQ = "exp_avg_sq";
    static final String MAX_EXP_AVG_SQ = "max_exp_avg_sq";

    private final boolean decoupled;

    AdamBase(List<ParamGroup> groups, double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad,
             boolean decoupled) {
        super(groups, defaults(lr, beta1, beta2, eps, weightDecay, amsgrad));
        this.decoupled = decoupled;
    }

    private static Map<String, Object> defaults(double lr, double beta1, double beta2, double eps, double weightDecay, boolean amsgrad) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put(ParamGroup.LR, lr);
        d.put(ParamGroup.BETAS, List.of(beta1, beta2));
        d.put(ParamGroup.EPS, eps);
        d.put(ParamGroup.WEIGHT_DECAY, weightDecay);
        d.put(ParamGroup.AMSGRAD, amsgrad);
        d.put(ParamGroup.MAXIMIZE, false);
        return d;
    }

    @Override
    protected void validateGroup(ParamGroup g) {
        double lr = g.getDouble(ParamGroup.LR), eps = g.getDouble(ParamGroup.EPS), wd = g.getDouble(ParamGroup.WEIGHT_DECAY);
        double[] betas = g.getDoubles(ParamGroup.BETAS);
        if (!(lr >= 0)) throw new IllegalArgumentException("Invalid learning rate: " + lr);
        if (!(eps >= 0)) throw new IllegalArgumentException("Invalid epsilon value: " + eps);
        if (betas.length != 2) throw new IllegalArgumentException("betas must hold two values, got " + betas.length);
        if (!(betas[0] >= 0 && betas[0] < 1)) throw new IllegalArgumentException("Invalid beta parameter at index 0: " + betas[0]);
        if (!(betas[1] >= 0 && betas[1] < 1)) throw new IllegalArgumentException("Invalid beta parameter at index 1: " + betas[1]);
        if (!(wd >= 0)) throw new IllegalArgumentException("Invalid weight_decay value: " + wd);
        g.getBoolean(ParamGroup.AMSGRAD);
        g.getBoolean(ParamGroup.MAXIMIZE);
    }

    @Override
    protected List<String> stateKeys(ParamGroup g) {
        return g.getBoolean(ParamGroup.AMSGRAD) ? List.of(EXP_AVG, EXP_AVG_SQ, MAX_EXP_AVG_SQ) : List.of(EXP_AVG, EXP_AVG_SQ);
    }

    @Override
    protected boolean hasStepCounter() { return true; }

    @Override
    protected void stepGroup(ParamGroup g) {
        double lr = g.getDouble(ParamGroup.LR), eps = g.getDouble(ParamGroup.EPS), wd = g.getDouble(ParamGroup.WEIGHT_DECAY);
        double[] betas = g.getDoubles(ParamGroup.BETAS);
        double b1 = betas[0], b2 = betas[1];
        boolean amsgrad = g.getBoolean(ParamGroup.AMSGRAD), maximize = g.getBoolean(ParamGroup.MAXIMIZE);
        for (Tensor p : g.params()) {
            Tensor grad = p.grad();
            if (grad == null) continue;
            if (maximize) grad = grad.neg();
            ParamState s = stateFor(p);
            if (s.get(EXP_AVG) == null) {
                putBuffer(s, EXP_AVG, Tensor.zerosLike(p));
                putBuffer(s, EXP_AVG_SQ, Tensor.zerosLike(p));
            }
            if (amsgrad && s.get(MAX_EXP_AVG_SQ) == null) putBuffer(s, MAX_EXP_AVG_SQ, Tensor.zerosLike(p));
            long step = incrementStep(s);
            Tensor m = s.get(EXP_AVG), v = s.get(EXP_AVG_SQ);
            if (!amsgrad) {
                if (decoupled || wd == 0) {
                    p.backend().adamwStep(p, grad, m, v, lr, b1, b2, eps, decoupled ? wd : 0, step);
                } else {
                    p.backend().adamwStep(p, grad.add(p.mul(wd)), m, v, lr, b1, b2, eps, 0, step);
                }
            } else {
                amsgradStep(p, grad, m, v, s.get(MAX_EXP_AVG_SQ), lr, b1, b2, eps, wd, step);
            }
            p.storage().bumpVersion();
        }
    }

    /** torch.optim's single-tensor amsgrad path, written with tensor ops (no fused kernel for it). */
    private void amsgradStep(Tensor p, Tensor grad, Tensor m, Tensor v, Tensor vmax, double lr, double b1, double b2,
                             double eps, double wd, long step) {
        if (wd != 0) {
            if (decoupled) p.mul_(1 - lr * wd);
            else grad = grad.add(p.mul(wd));
        }
        m.add_(grad.sub(m).mul(1 - b1));
        v.mul_(b2).add_(grad.mul(grad).mul(1 - b2));
        double bc1 = 1 - Math.pow(b1, step), bc2 = 1 - Math.pow(b2, step);
        vmax.copy_(vmax.maximum(v));
        Tensor denom = vmax.sqrt().div(Math.sqrt(bc2)).add(eps);
        p.add_(m.div(denom).mul(-(lr / bc1)));
    }
}
