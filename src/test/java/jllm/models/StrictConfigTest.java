package jllm.models;

import jllm.models.llama.LlamaConfig;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Integer config fields are exact integers: no string coercion, no truncated floats, no 32-bit wrap-around. */
class StrictConfigTest {
    private static Map<String, Object> gpt(String key, Object value) {
        Map<String, Object> m = new LinkedHashMap<>(Map.of("type", "gpt", "n_layer", 1, "n_head", 2, "n_embd", 32, "dropout", 0));
        m.put(key, value);
        return m;
    }

    @Test
    void gptModelSectionsRejectWrongTypes() {
        assertEquals(32, ((jllm.models.gpt.GPT) ModelFactory.build(gpt("n_embd", 32), 65, 16)).config().nEmbd());
        var s = assertThrows(IllegalArgumentException.class, () -> ModelFactory.build(gpt("n_embd", "128"), 65, 16));
        assertTrue(s.getMessage().contains("n_embd") || s.getMessage().contains("nEmbd"), s.getMessage());
        var f = assertThrows(IllegalArgumentException.class, () -> ModelFactory.build(gpt("n_layer", 1.5), 65, 16));
        assertTrue(f.getMessage().contains("invalid model section"), f.getMessage());
        var big = assertThrows(IllegalArgumentException.class, () -> ModelFactory.build(gpt("n_embd", (1L << 32) + 64), 65, 16));
        assertTrue(big.getMessage().contains("out of range"), big.getMessage());
    }

    @Test
    void llamaSizesBeyond32BitsAreNamed() {
        String json = "{\"model_type\": \"llama\", \"hidden_size\": 4294967360, \"num_attention_heads\": 2, \"num_hidden_layers\": 1,"
                + " \"intermediate_size\": 8, \"vocab_size\": 10}";
        var e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(new com.fasterxml.jackson.databind.ObjectMapper().readTree(json), "config.json"));
        assertTrue(e.getMessage().contains("config.json: hidden_size must fit in 32 bits, got 4294967360"), e.getMessage());
        var s = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(new com.fasterxml.jackson.databind.ObjectMapper().readTree(json.replace("4294967360", "\"64\"")), "config.json"));
        assertTrue(s.getMessage().contains("hidden_size must be an integer"), s.getMessage());
    }

    @Test
    void llamaConfigsMustGiveTheirSizesAndTheParameterCountIsExact() throws Exception {
        var om = new com.fasterxml.jackson.databind.ObjectMapper();
        var e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(om.readTree("{\"model_type\": \"llama\"}"), "c.json"));
        assertTrue(e.getMessage().contains("c.json: missing 'vocab_size' (the model's sizes must be given)"), e.getMessage());
        for (boolean tied : new boolean[] {true, false}) {
            String json = "{\"model_type\": \"llama\", \"hidden_size\": 16, \"num_attention_heads\": 4, \"num_key_value_heads\": 2,"
                    + " \"num_hidden_layers\": 2, \"intermediate_size\": 24, \"vocab_size\": 50, \"attention_bias\": true,"
                    + " \"tie_word_embeddings\": " + tied + "}";
            LlamaConfig c = LlamaConfig.fromJson(om.readTree(json), "c.json");
            assertEquals(new jllm.models.llama.LlamaForCausalLM(c, null).numParameters(), c.numParameters(), "tied=" + tied);
        }
    }

    @Test
    void aConfigTooLargeForTheHeapIsRefusedBeforeAllocating(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Files.writeString(dir.resolve("config.json"), "{\"model_type\": \"llama\", \"architectures\": [\"LlamaForCausalLM\"],"
                + " \"hidden_size\": 16384, \"num_attention_heads\": 128, \"num_hidden_layers\": 400, \"intermediate_size\": 65536,"
                + " \"vocab_size\": 128000}");
        jllm.io.TensorIO.save(dir.resolve("model.safetensors"), Map.of("x", jllm.tensor.Tensor.zeros(1)));
        var e = assertThrows(jllm.io.hf.HfException.class, () -> AutoModelForCausalLM.fromPretrained(dir));
        assertTrue(e.getMessage().contains("config.json: the model has ") && e.getMessage().contains("but this JVM may use at most"),
                e.getMessage());
    }

    @Test
    void aModelSectionTooLargeForTheHeapIsRefusedBeforeAllocating() {
        var e = assertThrows(IllegalArgumentException.class, () -> ModelFactory.build(gpt("n_layer", 2_000_000), 65, 16));
        assertTrue(e.getMessage().contains("the model section (type gpt): the model has ") && e.getMessage().contains("GB of heap"), e.getMessage());
    }
}
