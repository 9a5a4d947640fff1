package jllm.io;

import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Named tensors a model loads from, read one at a time: a Hugging Face directory (single file or
 * shards, {@link jllm.io.hf.HfModelDir}) or a state dict already in memory. Shapes and dtypes can
 * be checked before any tensor is read.
 */
public interface WeightSource {
    /** Tensor names in file (or index) order. */
    List<String> keys();

    long[] shape(String key);

    /** The dtype's name as the file labels it (F32, BF16, I64, ...). */
    String dtypeName(String key);

    /** True for floating data (which converts to a floating parameter of another width). */
    boolean floating(String key);

    /** The tensor, floating data as F32. */
    Tensor tensor(String key);

    /**
     * Copies a floating tensor into dst (the same number of elements, laid out as dst's shape in row-major
     * order; dst may be a view, e.g. a transposed parameter) converting to dst's dtype. The default reads
     * it whole; a file-backed source streams it in chunks, so that loading a model never holds a second
     * copy of a large weight.
     */
    default void copyInto(String key, Tensor dst) {
        Tensor t = tensor(key);
        dst.copy_(t.reshape(dst.shape()));
    }

    /** The file holding key, or where it would be, for messages. */
    String where(String key);

    /** The whole source, for messages (a directory, a file). */
    String name();

    /** A state dict in memory, named name in messages. */
    static WeightSource of(Map<String, Tensor> tensors, String name) {
        return new WeightSource() {
            @Override public List<String> keys() { return new ArrayList<>(tensors.keySet()); }
            @Override public long[] shape(String key) { return Arrays.stream(get(key).shape()).asLongStream().toArray(); }
            @Override public String dtypeName(String key) { return get(key).dtype().torchName(); }
            @Override public boolean floating(String key) { return get(key).dtype().isFloatingPoint(); }
            @Override public Tensor tensor(String key) { return get(key); }
            @Override public String where(String key) { return name; }
            @Override public String name() { return name; }

            private Tensor get(String key) {
                Tensor t = tensors.get(key);
                if (t == null) throw new IllegalArgumentException("tensor '" + key + "' not found in " + name);
                return t;
            }
        };
    }
}
