package jllm.optim;

import jllm.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * torch.optim.SGD: {@code d = g + wd*p}; with momentum {@code buf = d} on the first step, then
 * {@code buf = momentum*buf + (1-dampening)*d}; {@code d = nesterov ? d + momentum*buf : buf};
 * {@code p -= lr*d}. Defaults: lr 1e-3, momentum 0, dampening 0, weight_decay 0, nesterov false.
 * Nesterov needs momentum &gt; 0 and dampening 0. State: {@code momentum_buffer} (only with momentum).
 */
public final class SGD extends Optimizer {
    public static final double DEFAULT_LR = 1e-3;
    static final String MOMENTUM_BUFFER = "momentum_buffer";

    public SGD(Iterable<Tensor> params, double lr) { this(params, lr, 0, 0, 0, false); }

    public SGD(Iterable<Tensor> params, double lr, double momentum) { this(params, lr, momentum, 0, 0, false); }

    public SGD(Iterable<Tensor> params, double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        this(single(params), lr, momentum, dampening, weightDecay, nesterov);
    }

    /** Groups; the arguments are the defaults for options a group lacks. */
    public SGD(List<ParamGroup> groups, double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        super(groups, defaults(lr, momentum, dampening, weightDecay, nesterov));
    }

    private static Map<String, Object> defaults(double lr, double momentum, double dampening, double weightDecay, boolean nesterov) {
        Map<String, Object> d = new LinkedHashMap<>();
        d.put(ParamGroup.LR, lr);
        d.put(ParamGroup.MOMENTUM, momentum);
        d.put(ParamGroup.DAMPENING, dampening);
        d.put(ParamGroup.WEIGHT_DECAY, weightDecay);
        d.put(ParamGroup.NESTEROV, nesterov);
        d.put(ParamGroup.MAXIMIZE, false);
        return d;
    }

    @Override
    protected void validateGroup(ParamGroup g) {
        double lr = g.getDouble(ParamGroup.LR), momentum = g.getDouble(ParamGroup.MOMENTUM);
        double dampening = g.getDouble(ParamGroup.DAMPENING), wd = g.getDouble(ParamGroup.WEIGHT_DECAY);
        boolean nesterov = g.getBoolean(ParamGroup.NESTEROV);
        g.getBoolean(ParamGroup.MAXIMIZE);
        if (!(lr >= 0)) throw new IllegalArgumentException("Invalid learning rate: " + lr);
        if (!(momentum >= 0)) throw new IllegalArgumentException("Invalid momentum value: " + momentum);
        if (!(wd >= 0)) throw new IllegalArgumentException("Invalid weight_decay value: " + wd);
        if (Double.isNaN(dampening)) throw new IllegalArgumentException("Invalid dampening value: " + dampening);
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("Nesterov momentum requires a momentum and zero dampening (got momentum="
                    + momentum + ", dampening=" + dampening + ")");
        }
    }

    @Override
    protected List<String> stateKeys(ParamGroup g) {
        return g.getDouble(ParamGroup.MOMENTUM) != 0 ? List.of(MOMENTUM_BUFFER) : List.of();
    }

    @Override
    protected boolean hasStepCounter() { return false; }

    @Override
    protected void stepGroup(ParamGroup g) {
        double lr = g.getDouble(ParamGroup.LR), momentum = g.getDouble(ParamGroup.MOMENTUM);
        double dampening = g.getDouble(ParamGroup.DAMPENING), wd = g.getDouble(ParamGroup.WEIGHT_DECAY);
        boolean nesterov = g.getBoolean(ParamGroup.NESTEROV), maximize = g.getBoolean(ParamGroup.MAXIMIZE);
        for (Tensor p : g.params()) {
            Tensor grad = p.grad();
            if (grad == null) continue;
            if (maximize) grad = grad.neg();
            if (momentum != 0) {
                ParamState s = stateFor(p);
                Tensor buf = s.get(MOMENTUM_BUFFER);
                Tensor nb = p.backend().sgdStep(p, grad, buf, lr, momentum, dampening, wd, nesterov);
                if (buf == null) putBuffer(s, MOMENTUM_BUFFER, nb);
            } else {
                p.backend().sgdStep(p, grad, null, lr, 0, dampening, wd, nesterov);
            }
            p.storage().bumpVersion();
        }
    }
}
