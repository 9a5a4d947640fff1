package jllm.lora;

import jllm.io.TensorIO;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.testing.Fixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static jllm.lora.LoraGpt2ParityTest.adapterDir;
import static jllm.lora.LoraGpt2ParityTest.rel;
import static jllm.lora.LoraGpt2ParityTest.withPrefix;
import static jllm.lora.LoraTestModels.maxDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Parity with PEFT's LoRA formulas on a tiny Hugging Face Llama (tools/fixtures/make_lora_fixtures.py,
 * lora_llama_tiny): rsLoRA on q_proj, v_proj and down_proj, lm_head in modules_to_save. Needs
 * jllm.models.llama (the Llama branch).
 */
class LoraLlamaParityTest {
    @TempDir
    Path tmp;

    @Test
    void peftAdapterOnLlamaMatchesTorch() throws Exception {
        Fixture f = Fixture.load("lora_llama_tiny");
        LlamaForCausalLM base = new LlamaForCausalLM(LlamaConfig.of(32, 16, 32, 2, 4, 2, 16), new Generator(0));
        base.loadStateDict(withPrefix(f, "hf."));
        PeftModel m = PeftModel.fromPretrained(base, adapterDir(f, tmp.resolve("peft")), true);
        assertInstanceOf(jllm.models.CachedLanguageModel.class, m);
        assertEquals(6, m.loraLayerNames().size());
        assertEquals(List.of("lm_head"), m.modulesToSaveNames());
        assertTrue(m.namedParameters().containsKey("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"));
        assertTrue(m.namedParameters().containsKey("base_model.model.lm_head.modules_to_save.default.weight"));
        assertEquals(f.meta("trainable_line"), m.trainableParametersLine());
        m.eval();
        Tensor idx = f.get("idx");
        assertTrue(rel(f.get("logits"), m.forward(idx, null).logits()) < 1e-4, "adapted logits");

        Path again = tmp.resolve("again");
        m.savePretrained(again);
        Map<String, Tensor> mine = TensorIO.load(again.resolve("adapter_model.safetensors"));
        Map<String, Tensor> peft = withPrefix(f, "adapter.");
        assertEquals(new java.util.TreeSet<>(peft.keySet()), new java.util.TreeSet<>(mine.keySet())); // a file's key order is the writer's business
        for (String k : peft.keySet()) assertEquals(0.0, maxDiff(peft.get(k), mine.get(k)), k);

        LlamaForCausalLM merged = (LlamaForCausalLM) m.mergeAndUnload();
        for (Map.Entry<String, Tensor> e : withPrefix(f, "merged.").entrySet()) {
            assertTrue(rel(e.getValue(), merged.namedParameters().get(e.getKey())) < 1e-5, e.getKey());
        }
        assertEquals(0.0, maxDiff(peft.get("base_model.model.lm_head.weight"), merged.namedParameters().get("lm_head.weight")));
        assertTrue(rel(f.get("merged_logits"), merged.forward(idx)) < 1e-4, "merged logits");
    }
}
