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
                Arguments.of("gemma2_tiny", jllm.models.gemma.Gemma2ForCausalLM.class, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"),
                // PEFT has no default targets for phi3: the fused layers are named
                Arguments.of("phi3_tiny", jllm.models.phi3.Phi3ForCausalLM.class, "base_model.model.model.layers.1.mlp.gate_up_proj.lora_A.weight"));
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
        LoraConfig cfg = LoraConfig.of(2, 4);
        if (ModelRegistry.byModelType(load(name).modelType()).orElseThrow().loraTargets().isEmpty()) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> PeftModel.getPeftModel(load(name).asModule(), LoraConfig.of(2, 4)));
            assertTrue(e.getMessage().contains("Please specify `target_modules`"), e.getMessage());
            cfg = cfg.withTargetModules("qkv_proj", "gate_up_proj");
        }
        PeftModel p = PeftModel.getPeftModel(load(name).asModule(), cfg);
        assertTrue(p.adapterStateDict().containsKey(key), p.adapterStateDict().keySet().toString());
        assertEquals(ModelRegistry.of(p.getBaseModel()).orElseThrow().fanInFanOut(), p.peftConfig().fanInFanOut());
        Path dir = tmp.resolve(name + "_adapter");
        p.savePretrained(dir);
        List<String> saved = List.copyOf(TensorIO.load(dir.resolve("adapter_model.safetensors")).keySet());
        assertTrue(saved.contains(key), saved.toString());
    }

    /** SmolLM2 and TinyLlama are Llama configs: their config.json files read as such, with the parameter counts they publish. */
    @org.junit.jupiter.api.Test
    void smolLm2AndTinyLlamaReadAsLlama() throws Exception {
        var json = new com.fasterxml.jackson.databind.ObjectMapper();
        var smol = jllm.models.llama.LlamaConfig.fromJson(json.readTree("""
                {"architectures": ["LlamaForCausalLM"], "attention_bias": false, "bos_token_id": 0, "eos_token_id": 0, "hidden_act": "silu",
                 "hidden_size": 576, "initializer_range": 0.041666666666666664, "intermediate_size": 1536, "is_llama_config": true,
                 "max_position_embeddings": 8192, "model_type": "llama", "num_attention_heads": 9, "num_hidden_layers": 30,
                 "num_key_value_heads": 3, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_interleaved": false, "rope_scaling": null,
                 "rope_theta": 100000, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "use_cache": true, "vocab_size": 49152}"""),
                "SmolLM2-135M/config.json");
        assertEquals(134_515_008L, smol.numParameters());
        assertEquals(64, smol.headDim());
        assertTrue(smol.tieWordEmbeddings());
        var tiny = jllm.models.llama.LlamaConfig.fromJson(json.readTree("""
                {"architectures": ["LlamaForCausalLM"], "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 2048,
                 "initializer_range": 0.02, "intermediate_size": 5632, "max_position_embeddings": 2048, "model_type": "llama",
                 "num_attention_heads": 32, "num_hidden_layers": 22, "num_key_value_heads": 4, "pretraining_tp": 1, "rms_norm_eps": 1e-05,
                 "rope_scaling": null, "rope_theta": 10000.0, "tie_word_embeddings": false, "torch_dtype": "bfloat16", "use_cache": true,
                 "vocab_size": 32000}"""), "TinyLlama-1.1B/config.json");
        assertEquals(1_100_048_384L, tiny.numParameters());
        assertEquals(4, tiny.numKeyValueHeads());
    }
}
