package jllm.cli;

import jllm.nn.Module;
import jllm.nn.Quantize;
import jllm.tensor.DType;
import picocli.CommandLine.Option;

import java.util.List;
import java.util.Locale;

/**
 * The {@code --dtype} option of generate and eval: the type a model's weight matrices are kept in.
 * A model directory is loaded straight into it ({@link jllm.models.AutoModelForCausalLM#fromPretrained(java.nio.file.Path, DType)},
 * no float32 copy first); a training checkpoint is converted once built ({@link Quantize#weights}).
 */
final class WeightTypeOption {
    @Option(names = "--dtype", paramLabel = "TYPE", description = "Keep the weight matrices (Linear and Embedding layers) in f32, bf16, f16, "
            + "or llama.cpp's q8_0 / q4_0 blocks; norms and biases stay float32 and the arithmetic is float32 "
            + "(default: as the model directory stores them).")
    String name;

    /** The type asked for, or null for the stored one; an unknown name is bad usage, found before any model is loaded. */
    DType validate(picocli.CommandLine.Model.CommandSpec spec) {
        return name == null ? null : CliErrors.usage(spec, () -> Quantize.parse(name));
    }

    /** Converts a model built in float32 to t (null: leave it) and reports the weights. */
    static void apply(Module model, DType t) {
        if (t == null) return;
        Quantize.weights(model, t);
        report(model, t);
    }

    /** Says on stderr what the model's weight matrices are in, naming those kept in float32 when another type was asked for. */
    static void report(Module model, DType t) {
        if (t == null || t == DType.F32) return;
        Quantize.Result r = Quantize.describe(model, t);
        List<String> kept = r.kept();
        String k = "";
        if (!kept.isEmpty()) {
            List<String> names = kept.size() <= 3 ? kept : List.of(kept.get(0), kept.get(1), "...");
            k = ", " + kept.size() + " kept in float32 (rows not whole " + t.blockSize() + "-element blocks: " + String.join(", ", names) + ")";
        }
        System.err.printf(Locale.ROOT, "weights: %d matrices in %s%s%n", r.converted().size(), t.torchName(), k);
    }
}
