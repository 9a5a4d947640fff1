package jllm.cli;

import jllm.nn.Module;
import jllm.nn.Quantize;
import jllm.tensor.DType;
import picocli.CommandLine.Option;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The {@code --dtype} option of generate and eval: the weight type a model is converted to once loaded ({@link Quantize#weights}). */
final class WeightTypeOption {
    private static final Map<String, DType> NAMES = new LinkedHashMap<>();

    static {
        NAMES.put("f32", DType.F32);
        NAMES.put("bf16", DType.BF16);
        NAMES.put("f16", DType.F16);
        NAMES.put("q8_0", DType.Q8_0);
        NAMES.put("q4_0", DType.Q4_0);
    }

    @Option(names = "--dtype", paramLabel = "TYPE", description = "Convert the weight matrices (Linear and Embedding layers) to f32, bf16, f16, "
            + "or llama.cpp's q8_0 / q4_0 blocks once loaded; norms and biases stay float32 and the arithmetic is float32 "
            + "(default: ${DEFAULT-VALUE}, as loaded).")
    String name = "f32";

    /** The type asked for; an unknown name is bad usage, found before any model is loaded. */
    DType validate(picocli.CommandLine.Model.CommandSpec spec) {
        DType t = NAMES.get(name.toLowerCase(Locale.ROOT));
        CliErrors.check(spec, t != null, "--dtype must be one of " + String.join(", ", NAMES.keySet()) + ", got '" + name + "'");
        return t;
    }

    /** Converts model's weights to t (nothing to do for f32: models load in float32) and says what was converted on stderr. */
    static void apply(Module model, DType t) {
        if (t == DType.F32) return;
        Quantize.Result r = Quantize.weights(model, t);
        String kept = "";
        if (!r.kept().isEmpty()) {
            List<String> names = r.kept().size() <= 3 ? r.kept() : List.of(r.kept().get(0), r.kept().get(1), "...");
            kept = ", " + r.kept().size() + " kept in float32 (rows not whole " + t.blockSize() + "-element blocks: " + String.join(", ", names) + ")";
        }
        System.err.printf(Locale.ROOT, "weights: %d matrices converted to %s%s%n", r.converted().size(), t.torchName(), kept);
    }
}
