package jllm.models.qwen2;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.io.hf.HfException;
import jllm.models.AutoModelForCausalLM;
import jllm.models.llama.HfTestDirs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Qwen2Config's defaults and the options jllm refuses instead of computing another model. */
class Qwen2ConfigTest {
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    private Path withConfig(java.util.function.Consumer<ObjectNode> edit) throws Exception {
        Path d = HfTestDirs.copy("qwen2_tiny", tmp);
        ObjectNode c = (ObjectNode) JSON.readTree(d.resolve("config.json").toFile());
        edit.accept(c);
        Files.writeString(d.resolve("config.json"), c.toPrettyString());
        return d;
    }

    @Test
    void qwen2Defaults() throws Exception {
        Qwen2ForCausalLM m = Qwen2ForCausalLM.fromPretrained(HfTestDirs.dir("qwen2_tiny"));
        assertNull(m.bosTokenId(), "Qwen2Config has no bos_token_id");
        assertEquals(List.of(7), m.eosTokenIds());
        assertTrue(m.config().tieWordEmbeddings());
        assertTrue(m.stateDict().containsKey("model.layers.0.self_attn.k_proj.bias"));
        assertTrue(!m.stateDict().containsKey("model.layers.0.self_attn.o_proj.bias"), "o_proj has no bias");
        Path d = withConfig(c -> { c.remove("num_key_value_heads"); c.put("num_attention_heads", 32); c.put("hidden_size", 64); });
        var e = assertThrows(HfException.class, () -> AutoModelForCausalLM.fromPretrained(d));
        // absent num_key_value_heads is Qwen2Config's 32 (not the head count): the k_proj in the file no longer fits
        assertTrue(e.getMessage().contains("k_proj"), e.getMessage());
    }

    @Test
    void slidingWindowShorterThanTheContextIsRefused() throws Exception {
        Path d = withConfig(c -> { c.put("use_sliding_window", true); c.put("sliding_window", 16); c.put("max_window_layers", 1); });
        String m = assertThrows(HfException.class, () -> AutoModelForCausalLM.fromPretrained(d)).getMessage();
        assertTrue(m.contains(d.resolve("config.json").toString()) && m.contains("sliding_window 16") && m.contains("not implemented"), m);
        // a window that covers every position is plain attention
        Path ok = withConfig(c -> { c.put("use_sliding_window", true); c.put("sliding_window", 64); });
        AutoModelForCausalLM.fromPretrained(ok);
    }

    @Test
    void unknownModelTypeListsTheRegistry() throws Exception {
        Path d = withConfig(c -> c.put("model_type", "falcon"));
        String m = assertThrows(HfException.class, () -> AutoModelForCausalLM.fromPretrained(d)).getMessage();
        assertTrue(m.contains(d.resolve("config.json").toString()) && m.contains("'falcon'") && m.contains("gpt2, llama, qwen2"), m);
    }
}
