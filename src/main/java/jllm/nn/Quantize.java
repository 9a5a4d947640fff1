package jllm.nn;

import jllm.autograd.Grad;
import jllm.tensor.DType;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Weight-only conversion of a model for inference (and for QLoRA-style training of adapters on a
 * frozen base), as llama.cpp's quantize and bitsandbytes do it: the weight matrices of every
 * {@link Linear} and {@link Embedding} become BF16, F16, Q8_0 or Q4_0, while norms, biases and
 * buffers stay F32, and activations are computed in F32 (the matmul kernels widen the weights in
 * registers). Converted weights are frozen (no gradient). A weight shared by two layers (a tied LM
 * head) is converted once and stays shared.
 *
 * <p>Run it before wrapping the model with LoRA adapters: the adapters' own Linear layers must stay F32.
 */
public final class Quantize {
    private Quantize() {}

    /** The weight types, by the names users write them (llama.cpp's and PyTorch's). */
    public static final java.util.List<String> NAMES = java.util.List.of("f32", "bf16", "f16", "q8_0", "q4_0");

    /** A weight type's name (f32, bf16, f16, q8_0, q4_0, or PyTorch's float32, bfloat16, float16), any case. */
    public static DType parse(String name) {
        return switch (name.toLowerCase(java.util.Locale.ROOT)) {
            case "f32", "float32" -> DType.F32;
            case "bf16", "bfloat16" -> DType.BF16;
            case "f16", "float16" -> DType.F16;
            case "q8_0" -> DType.Q8_0;
            case "q4_0" -> DType.Q4_0;
            default -> throw new IllegalArgumentException("unknown weight type '" + name + "'; expected one of " + String.join(", ", NAMES));
        };
    }

    /** Weight matrices by parameter name: those in dtype (converted) and those kept in another type (F32). */
    public record Result(DType dtype, List<String> converted, List<String> kept) {}

    /**
     * What a model's weight matrices (its 2-D parameters, a shared one once) are against dtype: those in
     * it and those not, by parameter name.
     */
    public static Result describe(Module model, DType dtype) {
        List<String> in = new ArrayList<>(), other = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : model.namedParameters().entrySet()) {
            if (e.getValue().dim() != 2) continue;
            (e.getValue().dtype() == dtype ? in : other).add(e.getKey());
        }
        return new Result(dtype, in, other);
    }

    /**
     * Converts the weights of model's Linear and Embedding layers to dtype (F32, BF16, F16, Q8_0 or
     * Q4_0). A weight whose rows are not whole 32-element blocks stays F32 (llama.cpp keeps such
     * tensors in a wider type too) and is listed in {@link Result#kept()}.
     */
    public static Result weights(Module model, DType dtype) {
        if (!(dtype == DType.F32 || dtype == DType.BF16 || dtype == DType.F16 || dtype.isQuantized())) {
            throw new IllegalArgumentException("weights can be converted to float32, bfloat16, float16, q8_0 or q4_0, not " + dtype.torchName());
        }
        List<String> converted = new ArrayList<>(), kept = new ArrayList<>();
        Map<Tensor, Tensor> done = new IdentityHashMap<>();
        try (var g = Grad.off()) {
            for (Map.Entry<String, Module> e : model.namedModules().entrySet()) {
                Module m = e.getValue();
                if (!(m instanceof Linear || m instanceof Embedding) || m.parameter("weight") == null) continue;
                Tensor w = m.parameter("weight");
                String name = e.getKey().isEmpty() ? "weight" : e.getKey() + ".weight";
                Tensor q = done.get(w);
                if (q == null) {
                    if (Init.matrixType(dtype, w.size(-1)) != dtype) {
                        kept.add(name);
                        continue;
                    }
                    q = w.dtype() == dtype ? w : w.to(dtype);
                    done.put(w, q);
                }
                m.setParameter("weight", q);
                if (q.dtype().isFloatingPoint()) m.parameter("weight").requiresGrad(false);
                converted.add(name);
            }
        }
        return new Result(dtype, converted, kept);
    }
}
