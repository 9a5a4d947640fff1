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
    void slidingLayersFollowQwen2Config() throws Exception {
        Path d = withConfig(c -> { c.put("use_sliding_window", true); c.put("sliding_window", 16); c.put("max_window_layers", 1); });
        Qwen2ForCausalLM m = (Qwen2ForCausalLM) AutoModelForCausalLM.fromPretrained(d);
        assertEquals(List.of("full_attention", "sliding_attention"), m.qwenConfig().sliding().layerTypes());
        assertEquals(List.of(0, 16), java.util.Arrays.stream(m.qwenConfig().sliding().perLayer()).boxed().toList());
        // sliding_window without use_sliding_window is not used (Qwen2Config stores None)
        Path off = withConfig(c -> { c.put("sliding_window", 16); c.put("max_window_layers", 0); });
        assertEquals(List.of(0, 0), java.util.Arrays.stream(((Qwen2ForCausalLM) AutoModelForCausalLM.fromPretrained(off)).qwenConfig().sliding()
                .perLayer()).boxed().toList());
        Path bad = withConfig(c -> { c.put("use_sliding_window", true); c.putArray("layer_types").add("full_attention").add("chunked_attention"); });
        String m2 = assertThrows(HfException.class, () -> AutoModelForCausalLM.fromPretrained(bad)).getMessage();
        assertTrue(m2.contains(bad.resolve("config.json").toString()) && m2.contains("chunked_attention"), m2);
    }

    @Test
    void unknownModelTypeListsTheRegistry() throws Exception {
        Path d = withConfig(c -> c.put("model_type", "falcon"));
        String m = assertThrows(HfException.class, () -> AutoModelForCausalLM.fromPretrained(d)).getMessage();
        assertTrue(m.contains(d.resolve("config.json").toString()) && m.contains("'falcon'") && m.contains("gpt2, llama, qwen2, qwen3, mistral"), m);
    }
}
