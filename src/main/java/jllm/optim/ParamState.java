package jllm.optim;

import jllm.tensor.Tensor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An optimizer's state for one parameter: a step counter (Adam/AdamW count updates per
 * parameter, as PyTorch does) and named buffers such as {@code exp_avg}, {@code exp_avg_sq}
 * or {@code momentum_buffer}, each shaped like the parameter and on its device.
 */
public final class ParamState {
    long step;
    final Map<String, Tensor> buffers = new LinkedHashMap<>();

    ParamState() {}

    /** Updates applied to this parameter so far. */
    public long step() { return step; }

    /** A buffer by PyTorch's state key, or null. */
    public Tensor get(String key) { return buffers.get(key); }

    /** All buffers (unmodifiable view). */
    public Map<String, Tensor> buffers() { return Collections.unmodifiableMap(buffers); }

    @Override
    public String toString() { return "ParamState(step=" + step + ", buffers=" + buffers.keySet() + ")"; }
}
