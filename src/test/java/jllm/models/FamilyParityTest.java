package jllm.models;

import jllm.io.TensorIO;
import jllm.lora.LoraConfig;
import jllm.lora.PeftModel;
import jllm.models.llama.HfTestDirs;
import jllm.models.qwen2.Qwen2ForCausalLM;
import jllm.tensor.Tensor;
import jllm.testing.Fixture;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every model family of the {@link ModelRegistry} against its plain-torch transformers reference
 * (tools/fixtures/make_hf_fixtures.py): a tiny random model in Hugging Face key naming loads by
 * config.json alone, gives the reference logits, decodes with the KV cache to the same logits and
 * greedy ids, survives load -> save -> load bit for bit, and takes a LoRA adapter named as PEFT names it.
 */
class FamilyParityTest {
    static final double RTOL = 1e-4, ATOL = 1e-5;

    @TempDir
    Path tmp;

    /** fixture name, the class config.json must load as, one key of a default-target LoRA adapter. */
    static Stream<Arguments> families() {
        return Stream.of(
                Arguments.of("gpt2_tiny", jllm.models.gpt.GPT.class, "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight"),
                Arguments.of("llama_gqa", jllm.models.llama.LlamaForCausalLM.class, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"),
                Arguments.of("qwen2_tiny", Qwen2ForCausalLM.class, "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"),
                Arguments.of("qwen3_tiny", jllm.models.qwen3.Qwen3ForCausalLM.class, "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight"),
                Arguments.of("mistral_tiny", jllm.models.mistral.MistralForCausalLM.class, "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"),
                Arguments.of("gemma_tiny", jllm.models.gemma.GemmaForCausalLM.class, "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"),
                Arguments.of("gemma2_tiny", jllm.models.gemma.Gemma2ForCausalLM.class, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"));
    }

    private static PretrainedModel load(String name) throws Exception {
        return AutoModelForCausalLM.fromPretrained(HfTestDirs.dir(name));
    }

    @ParameterizedTest
    @MethodSource("families")
    void logitsMatchTheReference(String name, Class<?> cls) throws Exception {
        PretrainedModel m = load(name);
        assertInstanceOf(cls, m);
        Fixture f = Fixture.load("hf_" + name);
        double worst = Fixture.assertClose(f.get("logits"), m.forward(f.get("idx"), null).logits(), RTOL, ATOL, name + "/logits");
        System.out.printf("%s: worst error/tolerance %.3f%n", name, worst);
    }

    @ParameterizedTest
    @MethodSource("families")
    void cachedDecodingGivesTheSameLogitsAndGreedyIds(String name) throws Exception {
        PretrainedModel m = load(name);
        Tensor idx = Fixture.load("hf_" + name).get("idx");
        Tensor full = m.forward(idx, null).logits();
        KVCache cache = m.newCache(idx.size(0), idx.size(1));
        Tensor prefill = m.forward(idx.narrow(1, 0, 4), cache, false);
        Fixture.assertClose(full.narrow(1, 0, 4), prefill, 1e-4, 1e-5, name + " prefill");
        for (int t = 4; t < idx.size(1); t++) {
            Tensor step = m.forward(idx.narrow(1, t, 1), cache, true);
            Fixture.assertClose(full.narrow(1, t, 1), step, 1e-4, 1e-5, name + " step " + t);
            assertTrue(step.argmax(-1, false).equal(full.narrow(1, t, 1).argmax(-1, false)), name + " greedy id at " + t);
        }
    }

    @ParameterizedTest
    @MethodSource("families")
    void loadSaveLoadIsIdentical(String name) throws Exception {
        PretrainedModel m = load(name);
        Path out = tmp.resolve(name);
        m.savePretrained(out);
        PretrainedModel back = AutoModelForCausalLM.fromPretrained(out);
        assertEquals(m.getClass(), back.getClass());
        assertEquals(m.configJson(), back.configJson());
        Map<String, Tensor> a = m.asModule().stateDict(), b = back.asModule().stateDict();
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertTrue(a.get(k).equal(b.get(k)), name + ": tensor " + k + " differs");
        assertEquals(m.hfStateDict().keySet(), TensorIO.load(out.resolve("model.safetensors")).keySet());
    }

    @ParameterizedTest
    @MethodSource("families")
    void loraAdapterKeysAreNamedAsPeftNamesThem(String name, Class<?> cls, String key) throws Exception {
        PeftModel p = PeftModel.getPeftModel(load(name).asModule(), LoraConfig.of(2, 4));
        assertTrue(p.adapterStateDict().containsKey(key), p.adapterStateDict().keySet().toString());
        assertEquals(ModelRegistry.of(p.getBaseModel()).orElseThrow().fanInFanOut(), p.peftConfig().fanInFanOut());
        Path dir = tmp.resolve(name + "_adapter");
        p.savePretrained(dir);
        List<String> saved = List.copyOf(TensorIO.load(dir.resolve("adapter_model.safetensors")).keySet());
        assertTrue(saved.contains(key), saved.toString());
    }
}
