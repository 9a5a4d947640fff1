package jllm.optim;

import jllm.backend.Backends;
import jllm.io.SafeTensors;
import jllm.io.SafeTensorsFile;
import jllm.io.TensorEntry;
import jllm.io.TensorIO;
import jllm.io.TensorSource;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * An optimizer's state in the shape of a safetensors file: tensors keyed like PyTorch's
 * optimizer {@code state_dict()} flattened ({@code state.<paramIndex>.exp_avg},
 * {@code state.<paramIndex>.step}, {@code state.<i>.momentum_buffer}), where parameters are
 * numbered in group order across all groups as PyTorch numbers them; and string metadata:
 * {@code optimizer} (the class name, e.g. {@code AdamW}) and {@code param_groups} (a JSON array
 * of each group's hyper-parameters plus {@code "params"}: its parameter indices).
 *
 * <p>{@link Optimizer#stateDict()} hands out its live state tensors (as PyTorch does); write or
 * copy them before the next step if you need a snapshot.
 */
public record OptimizerStateDict(Map<String, Tensor> tensors, Map<String, String> metadata) {
    public static final String META_OPTIMIZER = "optimizer";
    public static final String META_PARAM_GROUPS = "param_groups";

    private static final ValueLayout.OfLong LE_I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public OptimizerStateDict {
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** Writes the state to a safetensors file, atomically (temporary file + rename). */
    public void write(Path file) throws IOException {
        List<TensorSource> sources = new ArrayList<>(tensors.size());
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            boolean keep = t.dtype() == DType.I64 || t.dtype() == DType.I32 || t.dtype() == DType.F32;
            // streamed from the live state: no copy of the moments is made first
            sources.add(TensorIO.source(e.getKey(), keep ? t : t.to(DType.F32)));
        }
        SafeTensors.writeSources(file, sources, metadata);
    }

    /**
     * Reads a state written by {@link #write} (or any safetensors file of the same layout) into
     * CPU tensors: floating types become F32, I64/I32 stay integers.
     */
    public static OptimizerStateDict read(Path file) throws IOException {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        Map<String, String> metadata;
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            metadata = f.metadata() == null ? Map.of() : f.metadata();
            for (TensorEntry e : f.entries()) {
                long[] ls = e.shape();
                int[] shape = new int[ls.length];
                for (int i = 0; i < ls.length; i++) {
                    if (ls[i] > Integer.MAX_VALUE) throw new IllegalArgumentException(file + ": tensor '" + e.name() + "' is too large");
                    shape[i] = (int) ls[i];
                }
                int n = (int) e.numel();
                Tensor t = switch (e.dtype()) {
                    case F32, F16, BF16, F64 -> Tensor.fromStorage(Backends.get(Device.CPU).fromHost(DType.F32, e.toFloatArray()), shape);
                    case I64 -> {
                        long[] a = new long[n];
                        for (int i = 0; i < n; i++) a[i] = e.data().get(LE_I64, 8L * i);
                        yield Tensor.fromStorage(Backends.get(Device.CPU).fromHost(DType.I64, a), shape);
                    }
                    case I32 -> {
                        int[] a = new int[n];
                        for (int i = 0; i < n; i++) a[i] = e.data().get(LE_I32, 4L * i);
                        yield Tensor.fromStorage(Backends.get(Device.CPU).fromHost(DType.I32, a), shape);
                    }
                    default -> throw new IllegalArgumentException(file + ": tensor '" + e.name() + "' has dtype " + e.dtype()
                            + ", optimizer state must be floating point (or an integer step)");
                };
                tensors.put(e.name(), t);
            }
        }
        return new OptimizerStateDict(tensors, metadata);
    }
}
