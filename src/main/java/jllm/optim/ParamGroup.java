package jllm.optim;

import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One parameter group of an {@link Optimizer}: its parameters and its hyper-parameters, under
 * PyTorch's {@code param_groups} keys ({@code "lr"}, {@code "betas"}, {@code "eps"},
 * {@code "weight_decay"}, {@code "momentum"}, ...), so a saved group reads like PyTorch's.
 *
 * <p>Build a group with the options that differ from the optimizer's defaults; the optimizer
 * fills in the rest when the group is added:
 * <pre>{@code
 * var opt = new AdamW(List.of(
 *         new ParamGroup(decay).weightDecay(0.1),
 *         new ParamGroup(noDecay).weightDecay(0.0)), 6e-4, 0.9, 0.95, 1e-8, 0.1, false);
 * }</pre>
 * Options are mutable (schedulers set {@code lr} every step); the parameter list is fixed.
 */
public final class ParamGroup {
    public static final String LR = "lr";
    public static final String WEIGHT_DECAY = "weight_decay";
    public static final String BETAS = "betas";
    public static final String EPS = "eps";
    public static final String MOMENTUM = "momentum";
    public static final String DAMPENING = "dampening";
    public static final String NESTEROV = "nesterov";
    public static final String AMSGRAD = "amsgrad";
    public static final String MAXIMIZE = "maximize";
    /** Set by learning-rate schedulers to the group's lr when they were created (as PyTorch does). */
    public static final String INITIAL_LR = "initial_lr";

    private final List<Tensor> params;
    private final Map<String, Object> options = new LinkedHashMap<>();

    public ParamGroup(Iterable<Tensor> params) {
        Objects.requireNonNull(params, "params");
        List<Tensor> list = new ArrayList<>();
        for (Tensor p : params) {
            list.add(Objects.requireNonNull(p, () -> "parameter " + list.size() + " of the group is null"));
        }
        this.params = Collections.unmodifiableList(list);
    }

    public ParamGroup(Iterable<Tensor> params, Map<String, ?> options) {
        this(params);
        options.forEach(this::set);
    }

    /** The group's parameters (unmodifiable). */
    public List<Tensor> params() { return params; }

    /** The hyper-parameters, in insertion order (unmodifiable view; change them with {@link #set}). */
    public Map<String, Object> options() { return Collections.unmodifiableMap(options); }

    public boolean has(String key) { return options.containsKey(key); }

    public Object get(String key) { return options.get(key); }

    /**
     * Sets an option. Values are numbers, booleans, strings or lists of numbers (betas); a
     * {@code double[]} is stored as a list.
     */
    public ParamGroup set(String key, Object value) {
        Objects.requireNonNull(key, "option name");
        Objects.requireNonNull(value, () -> "value of option '" + key + "'");
        if (value instanceof double[] a) {
            List<Double> l = new ArrayList<>(a.length);
            for (double d : a) l.add(d);
            value = List.copyOf(l);
        } else if (value instanceof List<?> l) {
            for (Object o : l) {
                if (!(o instanceof Number)) {
                    throw new IllegalArgumentException("option '" + key + "': list values must be numbers, got " + l);
                }
            }
            value = List.copyOf(l);
        } else if (!(value instanceof Number || value instanceof Boolean || value instanceof String)) {
            throw new IllegalArgumentException("option '" + key + "': unsupported value type " + value.getClass().getName());
        }
        options.put(key, value);
        return this;
    }

    /** Sets key only when the group does not have it yet (PyTorch's {@code setdefault}). */
    ParamGroup setDefault(String key, Object value) {
        if (!options.containsKey(key)) set(key, value);
        return this;
    }

    public double getDouble(String key) {
        Object v = require(key);
        if (v instanceof Number n) return n.doubleValue();
        throw new IllegalArgumentException("option '" + key + "' is not a number: " + v);
    }

    public boolean getBoolean(String key) {
        Object v = require(key);
        if (v instanceof Boolean b) return b;
        throw new IllegalArgumentException("option '" + key + "' is not a boolean: " + v);
    }

    public double[] getDoubles(String key) {
        Object v = require(key);
        if (v instanceof List<?> l) {
            double[] out = new double[l.size()];
            for (int i = 0; i < out.length; i++) out[i] = ((Number) l.get(i)).doubleValue();
            return out;
        }
        throw new IllegalArgumentException("option '" + key + "' is not a list of numbers: " + v);
    }

    private Object require(String key) {
        Object v = options.get(key);
        if (v == null) throw new IllegalArgumentException("parameter group has no option '" + key + "' (options: " + options.keySet() + ")");
        return v;
    }

    // ---- typed conveniences ----

    public double lr() { return getDouble(LR); }

    public ParamGroup lr(double lr) { return set(LR, lr); }

    public double weightDecay() { return getDouble(WEIGHT_DECAY); }

    public ParamGroup weightDecay(double wd) { return set(WEIGHT_DECAY, wd); }

    public ParamGroup betas(double beta1, double beta2) { return set(BETAS, List.of(beta1, beta2)); }

    public ParamGroup eps(double eps) { return set(EPS, eps); }

    public ParamGroup momentum(double momentum) { return set(MOMENTUM, momentum); }

    @Override
    public String toString() {
        return "ParamGroup(" + params.size() + " params, " + options + ")";
    }
}
