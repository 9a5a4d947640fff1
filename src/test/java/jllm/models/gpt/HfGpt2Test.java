package jllm.models.gpt;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.io.TensorIO;
import jllm.io.hf.HfException;
import jllm.models.AutoModelForCausalLM;
import jllm.models.KVCache;
import jllm.models.PretrainedModel;
import jllm.models.llama.HfTestDirs;
import jllm.tensor.Tensor;
import jllm.testing.Fixture;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GPT-2 from and to Hugging Face directories, against the plain-torch modeling_gpt2 reference (tools/fixtures/hf_ref.py). */
class HfGpt2Test {
    @TempDir
    Path tmp;

    @Test
    void logitsMatchReference() throws Exception {
        PretrainedModel m = AutoModelForCausalLM.fromPretrained(HfTestDirs.dir("gpt2_tiny").toString());
        assertInstanceOf(GPT.class, m);
        Fixture f = Fixture.load("hf_gpt2_tiny");
        Tensor logits = m.forward(f.get("idx"), null).logits();
        double w = Fixture.assertClose(f.get("logits"), logits, 1e-4, 1e-5, "hf_gpt2_tiny/logits");
        System.out.printf("hf_gpt2_tiny: worst error/tolerance %.3f%n", w);
        assertEquals(63, m.bosTokenId());
        assertEquals(List.of(63), m.eosTokenIds());
        assertEquals(32, m.blockSize());
        KVCache c = m.newCache(2, 9);
        Tensor step = m.forward(f.get("idx"), c, true);
        Fixture.assertClose(logits.narrow(1, 8, 1), step, 1e-4, 1e-5, "cached");
    }

    @Test
    void saveWritesWhatTransformersWritesAndLoadsBack() throws Exception {
        GPT m = GPT.fromPretrained(HfTestDirs.dir("gpt2_tiny"));
        Path out = tmp.resolve("out");
        m.savePretrained(out);
        LinkedHashMap<String, Tensor> saved = TensorIO.load(out.resolve("model.safetensors"));
        assertFalse(saved.containsKey("lm_head.weight"), "tied lm_head is not saved");
        assertFalse(saved.keySet().stream().anyMatch(k -> k.endsWith(".attn.bias")), "mask buffers are not saved");
        assertEquals(List.of(32, 96), List.of(saved.get("transformer.h.0.attn.c_attn.weight").size(0),
                saved.get("transformer.h.0.attn.c_attn.weight").size(1)), "Conv1D [in, out]");
        Map<String, Tensor> orig = TensorIO.loadAsF32(HfTestDirs.dir("gpt2_tiny").resolve("model.safetensors"));
        for (Map.Entry<String, Tensor> e : saved.entrySet()) {
            Tensor o = orig.get(e.getKey().substring("transformer.".length()));
            assertTrue(o.equal(e.getValue()), e.getKey());
        }
        ObjectNode cfg = (ObjectNode) new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals("gpt2", cfg.get("model_type").asText());
        assertEquals("GPT2LMHeadModel", cfg.get("architectures").get(0).asText());
        assertEquals("gelu_new", cfg.get("activation_function").asText());
        assertEquals(32, cfg.get("n_ctx").asInt());
        assertEquals(63, cfg.get("eos_token_id").asInt());
        GPT back = GPT.fromPretrained(out);
        assertEquals(m.config(), back.config());
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) assertTrue(e.getValue().equal(back.stateDict().get(e.getKey())), e.getKey());

        Path sharded = tmp.resolve("sharded");
        m.savePretrained(sharded, 30_000);
        assertTrue(Files.isRegularFile(sharded.resolve("model.safetensors.index.json")));
        assertFalse(Files.exists(sharded.resolve("model.safetensors")));
        GPT again = (GPT) AutoModelForCausalLM.fromPretrained(sharded);
        for (Map.Entry<String, Tensor> e : m.stateDict().entrySet()) assertTrue(e.getValue().equal(again.stateDict().get(e.getKey())), e.getKey());
    }

    @Test
    void errorsNameTheFile() throws Exception {
        Path d = HfTestDirs.copy("gpt2_tiny", tmp);
        Path w = d.resolve("model.safetensors");
        LinkedHashMap<String, Tensor> sd = TensorIO.load(w);
        sd.remove("h.1.mlp.c_fc.bias");
        TensorIO.save(w, sd, Map.of("format", "pt"));
        String m = assertThrows(HfException.class, () -> GPT.fromPretrained(d)).getMessage();
        assertTrue(m.contains(w.toString()) && m.contains("transformer.h.1.mlp.c_fc.bias"), m);
        Files.writeString(d.resolve("config.json"), Files.readString(d.resolve("config.json")).replace("gelu_new", "relu"));
        m = assertThrows(HfException.class, () -> GPT.fromPretrained(d)).getMessage();
        assertTrue(m.contains(d.resolve("config.json").toString()) && m.contains("relu"), m);
    }
}
