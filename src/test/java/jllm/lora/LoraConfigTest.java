package jllm.lora;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraConfigTest {
    /** adapter_config.json as a recent PEFT writes it for Llama (fields jllm does not know included). */
    static final String PEFT_LLAMA = """
            {
              "alpha_pattern": {},
              "auto_mapping": null,
              "base_model_name_or_path": "meta-llama/Meta-Llama-3.1-8B-Instruct",
              "bias": "none",
              "corda_config": null,
              "eva_config": null,
              "exclude_modules": null,
              "fan_in_fan_out": false,
              "inference_mode": true,
              "init_lora_weights": true,
              "layer_replication": null,
              "layers_pattern": null,
              "layers_to_transform": null,
              "loftq_config": {},
              "lora_alpha": 32,
              "lora_bias": false,
              "lora_dropout": 0.1,
              "megatron_config": null,
              "megatron_core": "megatron.core",
              "modules_to_save": null,
              "peft_type": "LORA",
              "peft_version": "0.17.1",
              "r": 8,
              "rank_pattern": {},
              "revision": null,
              "target_modules": [
                "v_proj",
                "q_proj"
              ],
              "target_parameters": null,
              "task_type": "CAUSAL_LM",
              "trainable_token_indices": null,
              "use_dora": false,
              "use_qalora": false,
              "use_rslora": false
            }""";

    @Test
    void readsPeftsFileIgnoringUnknownFields() {
        LoraConfig c = LoraConfig.fromJson(PEFT_LLAMA);
        assertEquals(8, c.r());
        assertEquals(32.0, c.loraAlpha());
        assertEquals(0.1, c.loraDropout());
        assertEquals(List.of("v_proj", "q_proj"), c.targetModules().names());
        assertEquals("none", c.bias());
        assertFalse(c.fanInFanOut());
        assertFalse(c.useRslora());
        assertNull(c.modulesToSave());
        assertEquals("CAUSAL_LM", c.taskType());
        assertTrue(c.inferenceMode());
        assertEquals("meta-llama/Meta-Llama-3.1-8B-Instruct", c.baseModelNameOrPath());
        assertEquals(4.0, c.scaling());
    }

    @Test
    void roundTripsThroughJson() {
        LoraConfig c = LoraConfig.of(16, 8.5).withDropout(0.05).withTargetModules(LoraConfig.TargetModules.regex(".*\\.(q|v)_proj"))
                .withBias("lora_only").withRslora(true).withModulesToSave(List.of("lm_head", "embed_tokens")).withBaseModelNameOrPath("x");
        assertEquals(c, LoraConfig.fromJson(c.toJson()));
        assertTrue(c.toJson().contains("\"target_modules\" : \".*\\\\.(q|v)_proj\""), c.toJson());
        LoraConfig d = LoraConfig.of(4, 8).withTargetModules("q_proj");
        assertEquals(d, LoraConfig.fromJson(d.toJson()));
        assertTrue(d.toJson().contains("\"lora_alpha\" : 8,"), "an integral alpha is written as an int, as PEFT's type says");
    }

    @Test
    void whatJllmCannotDoIsAnErrorNotASilentlyDifferentAdapter() {
        for (String bad : List.of("\"use_dora\": true", "\"rank_pattern\": {\"q_proj\": 4}", "\"layers_to_transform\": [0]",
                "\"peft_type\": \"IA3\"", "\"task_type\": \"SEQ_CLS\"", "\"lora_bias\": true",
                "\"trainable_token_indices\": [1, 2]", "\"use_qalora\": true", "\"exclude_modules\": \"lm_head\"", "\"r\": 0", "\"r\": 2.5", "\"bias\": \"some\"", "\"target_modules\": 3", "\"lora_dropout\": 1.5")) {
            String json = "{\"r\": 8, \"lora_alpha\": 16, " + bad + "}";
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LoraConfig.fromJson(json, "dir/adapter_config.json"), bad);
            assertTrue(e.getMessage().startsWith("dir/adapter_config.json: "), e.getMessage());
        }
    }

    @Test
    void initialisationFieldsLoadAndUnknownKeysWarn() throws Exception {
        String json = "{\"r\": 8, \"lora_alpha\": 16, \"init_lora_weights\": \"gaussian\", \"loftq_config\": {\"loftq_bits\": 4},"
                + " \"use_dora\": false, \"lora_bias\": false, \"exclude_modules\": null, \"task_type\": null, \"frobnicate\": 1}";
        String err = jllm.testing.StdErr.capture(() -> {
            LoraConfig c = LoraConfig.fromJson(json, "dir/adapter_config.json");
            assertEquals("CAUSAL_LM", c.taskType());
            assertEquals(8, c.r());
        });
        assertEquals("warning: dir/adapter_config.json: [frobnicate] are not LoraConfig fields; ignored (as PEFT ignores them)\n", err);
    }

    @Test
    void modelTypeDefaults() {
        assertEquals(List.of("q_proj", "v_proj"), LoraConfig.defaultTargetModules("llama").names());
        assertEquals(List.of("c_attn"), LoraConfig.defaultTargetModules("gpt2").names());
        assertThrows(IllegalArgumentException.class, () -> LoraConfig.defaultTargetModules("bert"));
    }

    @Test
    void targetMatchingIsPefts() {
        LoraConfig.TargetModules t = LoraConfig.TargetModules.names("q_proj", "self_attn.v_proj");
        assertTrue(t.matches("q_proj"));
        assertTrue(t.matches("model.layers.0.self_attn.q_proj"));
        assertTrue(t.matches("model.layers.0.self_attn.v_proj"));
        assertFalse(t.matches("model.layers.0.self_attn.xq_proj"));
        assertFalse(t.matches("model.layers.0.self_attn.q_proj.base_layer"));
        LoraConfig.TargetModules r = LoraConfig.TargetModules.regex("layers\\.0\\..*_proj");
        assertFalse(r.matches("model.layers.0.self_attn.q_proj"), "re.fullmatch: the whole name");
        assertTrue(LoraConfig.TargetModules.regex(".*layers\\.0\\..*_proj").matches("model.layers.0.self_attn.q_proj"));
        assertThrows(IllegalArgumentException.class, () -> LoraConfig.TargetModules.regex("(("));
        assertEquals(LoraConfig.TargetModules.regex(".*proj"), LoraConfig.TargetModules.parse(".*proj"));
    }
}
