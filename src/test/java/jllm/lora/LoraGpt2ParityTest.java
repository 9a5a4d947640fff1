package jllm.lora;

import jllm.io.TensorIO;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.testing.Fixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static jllm.lora.LoraTestModels.maxDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parity with PEFT's LoRA formulas on a tiny Hugging Face GPT-2 (tools/fixtures/make_lora_fixtures.py):
 * a PEFT-format adapter directory (Conv1D model, fan_in_fan_out=true) loads onto jllm's GPT, whose
 * outputs, merged weights (compared in HF's [in, out] orientation), parameter line and re-saved
 * adapter match.
 */
class LoraGpt2ParityTest {
    @TempDir
    Path tmp;

    static Map<String, Tensor> withPrefix(Fixture f, String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        f.tensors.forEach((k, v) -> { if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), v); });
        return out;
    }

    static Path adapterDir(Fixture f, Path dir) throws Exception {
        Files.createDirectories(dir);
        TensorIO.save(dir.resolve("adapter_model.safetensors"), withPrefix(f, "adapter."), Map.of("format", "pt"));
        Files.writeString(dir.resolve("adapter_config.json"), f.meta("adapter_config"));
        return dir;
    }

    static double rel(Tensor want, Tensor got) { return maxDiff(want, got) / Math.max(1e-6, want.abs().max().item()); }

    private GPT base(Fixture f) {
        GPT g = new GPT(new GPTConfig(8, 16, 2, 2, 8), new Generator(0));
        g.loadHuggingFace(withPrefix(f, "hf."));
        return g;
    }

    @Test
    void peftAdapterOnGpt2MatchesTorch() throws Exception {
        Fixture f = Fixture.load("lora_gpt2_tiny");
        Path dir = adapterDir(f, tmp.resolve("peft"));
        PeftModel m = PeftModel.fromPretrained(base(f), dir, true);
        assertTrue(m.peftConfig().fanInFanOut());
        assertEquals(f.meta("trainable_line"), m.trainableParametersLine());
        m.eval();
        Tensor idx = f.get("idx");
        assertTrue(rel(f.get("logits"), m.forward(idx, null).logits()) < 1e-4, "adapted logits");

        // re-saved by jllm: the same keys and values as PEFT's file
        Path again = tmp.resolve("again");
        m.savePretrained(again);
        Map<String, Tensor> mine = TensorIO.load(again.resolve("adapter_model.safetensors"));
        Map<String, Tensor> peft = withPrefix(f, "adapter.");
        assertEquals(new java.util.TreeSet<>(peft.keySet()), new java.util.TreeSet<>(mine.keySet())); // a file's key order is the writer's business
        for (String k : peft.keySet()) assertEquals(0.0, maxDiff(peft.get(k), mine.get(k)), k);
        LoraConfig back = LoraConfig.load(again.resolve("adapter_config.json"));
        assertEquals(LoraConfig.fromJson(f.meta("adapter_config")).withInferenceMode(true), back);

        // merge: HF keeps these weights as Conv1D [in, out]; ours are [out, in]
        GPT merged = (GPT) m.mergeAndUnload();
        for (Map.Entry<String, Tensor> e : withPrefix(f, "merged.").entrySet()) {
            if (!e.getKey().endsWith("weight") || e.getKey().equals("logits")) continue;
            Tensor ours = merged.namedParameters().get(e.getKey());
            assertTrue(rel(e.getValue(), ours.t()) < 1e-5, e.getKey());
        }
        assertTrue(rel(f.get("merged_logits"), merged.forward(idx)) < 1e-4, "merged logits");
    }
}
