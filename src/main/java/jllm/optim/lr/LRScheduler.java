package jllm.optim.lr;

import jllm.optim.Optimizer;
import jllm.optim.ParamGroup;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A learning-rate schedule driving an optimizer's groups, after
 * {@code torch.optim.lr_scheduler.LRScheduler}. Each group has a base lr: its
 * {@code initial_lr} option, set to its {@code lr} when the first scheduler is created (as
 * PyTorch does, so a loaded optimizer state carries it). Creating a scheduler sets every group's
 * lr for step 0; each {@link #step()} (call it after {@code optimizer.step()}) advances one step
 * and sets the lr for it. So during iteration {@code it} of a loop the groups hold
 * {@code lr(it)}, as nanoGPT's {@code get_lr(iter_num)} does.
 *
 * <p>Subclasses implement {@link #lrAt(int, double, long)} and call {@link #start()} at the end of
 * their constructor (after their own fields are set).
 */
public abstract class LRScheduler {
    protected final Optimizer optimizer;
    private final double[] baseLrs;
    private double[] lastLrs;
    private long lastStep = -1;

    protected LRScheduler(Optimizer optimizer) {
        this.optimizer = optimizer;
        List<ParamGroup> groups = optimizer.paramGroups();
        baseLrs = new double[groups.size()];
        for (int i = 0; i < baseLrs.length; i++) {
            ParamGroup g = groups.get(i);
            if (!g.has(ParamGroup.INITIAL_LR)) g.set(ParamGroup.INITIAL_LR, g.lr());
            baseLrs[i] = g.getDouble(ParamGroup.INITIAL_LR);
        }
        lastLrs = baseLrs.clone();
    }

    /** Applies step 0; subclasses call this last in their constructor. */
    protected final void start() {
        if (lastStep != -1) throw new IllegalStateException("scheduler already started");
        step();
    }

    /** The lr at {@code step} of group {@code group}, whose base lr is {@code baseLr}. */
    protected abstract double lrAt(int group, double baseLr, long step);

    /** The lr of the first group at {@code step} (a pure function: nothing changes). */
    public double lr(long step) { return lrAt(0, baseLrs[0], step); }

    /** The lr of every group at {@code step}. */
    public double[] lrs(long step) {
        double[] out = new double[baseLrs.length];
        for (int i = 0; i < out.length; i++) out[i] = lrAt(i, baseLrs[i], step);
        return out;
    }

    /** Advances one step and sets each group's lr. */
    public void step() { setStep(lastStep + 1); }

    /** Jumps to {@code step} (e.g. when resuming at an iteration) and sets each group's lr. */
    public void setStep(long step) {
        if (step < 0) throw new IllegalArgumentException("scheduler step must be >= 0, got " + step);
        lastStep = step;
        double[] lrs = lrs(step);
        List<ParamGroup> groups = optimizer.paramGroups();
        for (int i = 0; i < lrs.length; i++) groups.get(i).lr(lrs[i]);
        lastLrs = lrs;
    }

    /** The current step (PyTorch's {@code last_epoch}); -1 before {@link #start()}. */
    public long lastStep() { return lastStep; }

    /** The lrs last set ({@code get_last_lr()}). */
    public double[] lastLr() { return lastLrs.clone(); }

    public double[] baseLrs() { return baseLrs.clone(); }

    /** {@code {"last_epoch": long, "base_lrs": [..], "_last_lr": [..]}}, JSON-friendly. */
    public Map<String, Object> stateDict() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("last_epoch", lastStep);
        m.put("base_lrs", toList(baseLrs));
        m.put("_last_lr", toList(lastLrs));
        return m;
    }

    /** Restores {@link #stateDict()} output and sets the groups' lrs for the restored step. */
    public void loadStateDict(Map<String, ?> state) {
        Object le = state.get("last_epoch");
        if (!(le instanceof Number n)) throw new IllegalArgumentException("scheduler state has no numeric 'last_epoch': " + le);
        Object bl = state.get("base_lrs");
        if (bl != null) {
            if (!(bl instanceof List<?> l) || l.size() != baseLrs.length) {
                throw new IllegalArgumentException("scheduler state 'base_lrs' " + bl + " does not match the optimizer's "
                        + baseLrs.length + " parameter groups");
            }
            for (int i = 0; i < baseLrs.length; i++) baseLrs[i] = ((Number) l.get(i)).doubleValue();
        }
        setStep(n.longValue());
    }

    private static List<Double> toList(double[] a) {
        List<Double> l = new ArrayList<>(a.length);
        for (double d : a) l.add(d);
        return l;
    }
}
