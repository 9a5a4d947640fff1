package jllm.nn;

import jllm.models.AutoModelForCausalLM;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loaded tensors are never silently converted from integers, and NaN/Inf weights are named. */
class LoadChecksTest {
    @TempDir
    Path tmp;

    @Test
    void integerDataForAFloatParameterIsAnErrorNamingTheKey() {
        Linear l = new Linear(2, 3);
        var sd = new LinkedHashMap<>(l.stateDict());
        sd.put("weight", Tensor.zeros(3, 2).to(DType.I32));
        var e = assertThrows(IllegalArgumentException.class, () -> l.loadStateDict(sd, true));
        assertTrue(e.getMessage().contains("dtype mismatch for weight: the checkpoint has int32 but the model's tensor is float32"), e.getMessage());
        sd.put("weight", Tensor.zeros(3, 2).to(DType.F16)); // floating types convert
        l.loadStateDict(sd, true);
    }

    @Test
    void nonFiniteWeightsAreNamedWhenLoaded() throws Exception {
        Generator.manualSeed(0);
        GPT g = new GPT(new GPTConfig(16, 50, 1, 2, 8, 0.0, true));
        try (var off = jllm.autograd.Grad.off()) {
            g.namedParameters().get("transformer.h.0.mlp.c_fc.weight").view(-1).narrow(0, 0, 3).fill_(Float.NaN);
        }
        Path dir = tmp.resolve("nan");
        g.savePretrained(dir);
        String w = jllm.testing.StdErr.capture(() -> AutoModelForCausalLM.fromPretrained(dir));
        assertTrue(w.contains("warning: " + dir) && w.contains("tensor transformer.h.0.mlp.c_fc.weight has 3 NaN or infinite value(s)"), w);
    }
}
