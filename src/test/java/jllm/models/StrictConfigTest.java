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
}
