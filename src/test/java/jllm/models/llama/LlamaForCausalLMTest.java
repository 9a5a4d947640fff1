package jllm.models.llama;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.io.TensorIO;
import jllm.io.hf.HfException;
import jllm.io.hf.HfModelDir;
import jllm.models.AutoModelForCausalLM;
import jllm.models.KVCache;
import jllm.models.PretrainedModel;
import jllm.nn.Module;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Llama against the plain-torch transformers reference (tools/fixtures/hf_ref.py via
 * make_hf_fixtures.py): logits of the tiny HF directories, save/load round trips, KV-cache
 * decoding, the printed tree and the loading errors.
 */
class LlamaForCausalLMTest {
    static final double RTOL = 1e-4, ATOL = 1e-5;
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path tmp;

    static void checkParity(String name) throws Exception {
        PretrainedModel m = AutoModelForCausalLM.fromPretrained(HfTestDirs.dir(name).toString());
        assertInstanceOf(LlamaForCausalLM.class, m);
        Fixture f = Fixture.load("hf_" + name);
        Tensor logits = m.forward(f.get("idx"), null).logits();
        double worst = Fixture.assertClose(f.get("logits"), logits, RTOL, ATOL, name + "/logits");
        System.out.printf("%s: worst error/tolerance %.3f%n", name, worst);
    }

    @Test
    void gqaLlama3RopeTiedBf16MatchesReference() throws Exception { checkParity("llama_gqa"); }

    @Test
    void biasLinearRopeUntiedShardedMatchesReference() throws Exception { checkParity("llama_bias"); }

    @Test
    void configFromFixture() throws Exception {
        LlamaForCausalLM m = LlamaForCausalLM.fromPretrained(HfTestDirs.dir("llama_gqa"));
        LlamaConfig c = m.config();
        assertEquals(2, c.numKeyValueHeads());
        assertEquals("llama3", c.ropeScaling().ropeType());
        assertEquals(List.of(2, 3), m.eosTokenIds());
        assertEquals(1, m.bosTokenId());
        assertTrue(c.tieWordEmbeddings());
        assertTrue(m.model.embedTokens.weight() == m.module("lm_head").parameter("weight"), "tied: one tensor");
        LlamaForCausalLM b = LlamaForCausalLM.fromPretrained(HfTestDirs.dir("llama_bias"));
        assertEquals(4, b.config().numKeyValueHeads(), "num_key_value_heads defaults to num_attention_heads");
        assertEquals(16, b.config().headDim());
        assertEquals("linear", b.config().ropeScaling().ropeType());
        assertFalse(b.stateDict().keySet().stream().anyMatch(k -> k.contains("inv_freq")), "inv_freq is not persistent");
        assertTrue(b.stateDict().containsKey("lm_head.weight"));
        assertTrue(b.stateDict().containsKey("model.layers.1.mlp.down_proj.bias"));
    }

    static void assertSameTensors(Map<String, Tensor> a, Map<String, Tensor> b) {
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) assertTrue(a.get(k).equal(b.get(k)), "tensor " + k + " differs");
    }

    @Test
    void saveLoadRoundTripSingleAndSharded() throws Exception {
        for (String name : List.of("llama_gqa", "llama_bias")) {
            LlamaForCausalLM m = LlamaForCausalLM.fromPretrained(HfTestDirs.dir(name));
            Path out = tmp.resolve(name + "_out");
            m.savePretrained(out);
            assertTrue(Files.isRegularFile(out.resolve("model.safetensors")));
            assertEquals(Map.of("format", "pt"), TensorIO.metadata(out.resolve("model.safetensors")));
            LlamaForCausalLM back = LlamaForCausalLM.fromPretrained(out);
            assertEquals(m.config(), back.config());
            assertSameTensors(m.stateDict(), back.stateDict());
            Map<String, Tensor> saved = TensorIO.load(out.resolve("model.safetensors"));
            assertEquals(m.config().tieWordEmbeddings(), !saved.containsKey("lm_head.weight"), "lm_head.weight saved only when untied");

            Path sharded = tmp.resolve(name + "_sharded");
            m.savePretrained(sharded, 20_000);
            ObjectNode index = (ObjectNode) JSON.readTree(sharded.resolve(HfModelDir.INDEX).toFile());
            long total = saved.values().stream().mapToLong(t -> t.numel() * 4L).sum();
            assertEquals(total, index.get("metadata").get("total_size").asLong());
            assertTrue(index.get("weight_map").size() == saved.size());
            assertTrue(Files.list(sharded).filter(p -> p.getFileName().toString().matches("model-\\d{5}-of-\\d{5}\\.safetensors")).count() > 1);
            assertSameTensors(m.stateDict(), LlamaForCausalLM.fromPretrained(sharded).stateDict());

            // saving again over the directory keeps other files and drops the previous shards
            Files.writeString(sharded.resolve("tokenizer.json"), "{}");
            m.savePretrained(sharded);
            assertTrue(Files.isRegularFile(sharded.resolve("tokenizer.json")));
            assertFalse(Files.exists(sharded.resolve(HfModelDir.INDEX)));
            assertSameTensors(m.stateDict(), LlamaForCausalLM.fromPretrained(sharded).stateDict());
        }
    }

    @Test
    void kvCacheDecodingEqualsFullForward() throws Exception {
        for (String name : List.of("llama_gqa", "llama_bias")) {
            LlamaForCausalLM m = LlamaForCausalLM.fromPretrained(HfTestDirs.dir(name));
            Tensor idx = Fixture.load("hf_" + name).get("idx");
            Tensor full = m.forward(idx);
            KVCache cache = m.newCache(idx.size(0), 16);
            assertEquals(m.config().numKeyValueHeads(), cache.numHeads());
            Tensor first = m.forward(idx.narrow(1, 0, 5), cache, false);
            Fixture.assertClose(full.narrow(1, 0, 5), first, 1e-5, 1e-5, name + " prefill");
            Tensor two = m.forward(idx.narrow(1, 5, 2), cache, false);
            Fixture.assertClose(full.narrow(1, 5, 2), two, 1e-4, 1e-5, name + " two tokens at once");
            for (int t = 7; t < idx.size(1); t++) {
                Tensor step = m.forward(idx.narrow(1, t, 1), cache, true);
                Fixture.assertClose(full.narrow(1, t, 1), step, 1e-4, 1e-5, name + " step " + t);
            }
            assertEquals(idx.size(1), cache.length());
        }
    }

    @Test
    void lossAndBackward() throws Exception {
        LlamaForCausalLM m = LlamaForCausalLM.fromPretrained(HfTestDirs.dir("llama_bias"));
        Tensor idx = Fixture.load("hf_llama_bias").get("idx");
        var out = m.forward(idx, idx);
        assertTrue(Double.isFinite(out.loss().item()) && out.loss().item() > 0);
        out.loss().backward();
        assertNotNull(m.layer(0).selfAttn.module("q_proj").parameter("weight").grad());
        assertNotNull(m.layer(1).mlp.module("up_proj").parameter("bias").grad());
    }

    @Test
    void printsLikeTransformers() {
        LlamaConfig c = new LlamaConfig(256, 64, 224, 2, 4, 2, 16, 1e-5, 500000.0, null, 128, false, false, false, 0.02, 1, List.of(2));
        String expected = """
                LlamaForCausalLM(
                  (model): LlamaModel(
                    (embed_tokens): Embedding(256, 64)
                    (layers): ModuleList(
                      (0-1): 2 x LlamaDecoderLayer(
                        (self_attn): LlamaSdpaAttention(
                          (q_proj): Linear(in_features=64, out_features=64, bias=False)
                          (k_proj): Linear(in_features=64, out_features=32, bias=False)
                          (v_proj): Linear(in_features=64, out_features=32, bias=False)
                          (o_proj): Linear(in_features=64, out_features=64, bias=False)
                          (rotary_emb): LlamaRotaryEmbedding()
                        )
                        (mlp): LlamaMLP(
                          (gate_proj): Linear(in_features=64, out_features=224, bias=False)
                          (up_proj): Linear(in_features=64, out_features=224, bias=False)
                          (down_proj): Linear(in_features=224, out_features=64, bias=False)
                          (act_fn): SiLU()
                        )
                        (input_layernorm): LlamaRMSNorm((64,), eps=1e-05)
                        (post_attention_layernorm): LlamaRMSNorm((64,), eps=1e-05)
                      )
                    )
                    (norm): LlamaRMSNorm((64,), eps=1e-05)
                    (rotary_emb): LlamaRotaryEmbedding()
                  )
                  (lm_head): Linear(in_features=64, out_features=256, bias=False)
                )""";
        LlamaForCausalLM m = new LlamaForCausalLM(c, new Generator(0));
        assertEquals(expected, m.toString());
        List<String> keys = List.copyOf(m.stateDict().keySet());
        assertEquals("model.embed_tokens.weight", keys.get(0));
        assertEquals("model.layers.0.self_attn.q_proj.weight", keys.get(1));
        assertEquals("model.layers.0.post_attention_layernorm.weight", keys.get(9));
        assertEquals(List.of("model.norm.weight", "lm_head.weight"), keys.subList(keys.size() - 2, keys.size()));
        // HF's _init_weights: N(0, 0.02), RMSNorm ones
        double std = Math.sqrt(m.model.embedTokens.weight().pow(2).mean().item());
        assertEquals(0.02, std, 0.002);
        assertEquals(1.0, m.layer(0).module("input_layernorm").parameter("weight").mean().item(), 0);
    }

    // ------------------------------------------------------------------------------- config

    @Test
    void configJsonRoundTripAndRopeForms() throws Exception {
        LlamaConfig c = new LlamaConfig(256, 64, 224, 2, 4, 2, 16, 1e-5, 500000.0, LlamaConfig.RopeScaling.llama3(8, 1, 4, 8192),
                131072, true, false, false, 0.02, 128000, List.of(128001, 128008));
        assertEquals(c, LlamaConfig.fromJson(c.toJson(), "x"));
        ObjectNode n = (ObjectNode) JSON.readTree("""
                {"hidden_size": 64, "num_attention_heads": 4, "intermediate_size": 128, "num_hidden_layers": 1, "vocab_size": 100,
                 "rope_parameters": {"rope_type": "linear", "factor": 4.0, "rope_theta": 1234.0}}""");
        LlamaConfig p = LlamaConfig.fromJson(n, "cfg.json");
        assertEquals(1234.0, p.ropeTheta());
        assertEquals("linear", p.ropeScaling().ropeType());
        assertEquals(4, p.numKeyValueHeads());
        assertEquals(16, p.headDim());
        assertFalse(p.tieWordEmbeddings());
        String sizes = "\"hidden_size\": 64, \"num_attention_heads\": 4, \"intermediate_size\": 128, \"num_hidden_layers\": 1, \"vocab_size\": 100";
        n = (ObjectNode) JSON.readTree("{" + sizes + ", \"rope_scaling\": {\"type\": \"linear\", \"factor\": 2.0}}");
        assertEquals(2.0, LlamaConfig.fromJson(n, "c").ropeScaling().factor());
        n = (ObjectNode) JSON.readTree("{" + sizes + ", \"rope_scaling\": {\"rope_type\": \"default\"}}");
        assertNull(LlamaConfig.fromJson(n, "c").ropeScaling());
    }

    @Test
    void ropeInvFreqMatchesTransformers() throws Exception {
        // values of hf_ref.rope_inv_freq (modeling_rope_utils) for the two fixture configs; llama3: kept, smoothed, divided, divided
        float[] gqa = LlamaForCausalLM.fromPretrained(HfTestDirs.dir("llama_gqa")).config().ropeInvFreq();
        float[] want = {1.0f, 0.005265670828521252f, 0.00017677668074611574f, 6.647869668086059e-06f};
        for (int i = 0; i < want.length; i++) assertEquals(want[i], gqa[i], Math.ulp(want[i]) * 2, "llama3 inv_freq[" + i + "]");
        float[] lin = LlamaForCausalLM.fromPretrained(HfTestDirs.dir("llama_bias")).config().ropeInvFreq();
        float[] wantLin = {0.5f, 0.15811388194561005f, 0.05000000074505806f, 0.015811389312148094f, 0.004999999888241291f,
                0.0015811389312148094f, 0.0005000000237487257f, 0.00015811389312148094f};
        for (int i = 0; i < wantLin.length; i++) assertEquals(wantLin[i], lin[i], Math.ulp(wantLin[i]) * 2, "linear inv_freq[" + i + "]");
    }

    /** The error for a config; the sizes it does not give are filled in (a config must give them, see StrictConfigTest). */
    static String error(String json) throws Exception {
        ObjectNode c = (ObjectNode) JSON.readTree(json);
        for (var e : java.util.Map.of("vocab_size", 32, "hidden_size", 48, "intermediate_size", 64, "num_hidden_layers", 1,
                "num_attention_heads", 6).entrySet()) {
            if (!c.has(e.getKey())) c.put(e.getKey(), e.getValue());
        }
        return assertThrows(IllegalArgumentException.class, () -> LlamaConfig.fromJson(c, "/x/config.json")).getMessage();
    }

    @Test
    void configErrors() throws Exception {
        String m = error("{\"num_attention_heads\": 6, \"num_key_value_heads\": 4, \"hidden_size\": 48}");
        assertTrue(m.contains("/x/config.json") && m.contains("divisible"), m);
        m = error("{\"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 4.0}}");
        assertTrue(m.contains("/x/config.json") && m.contains("unsupported rope type 'yarn'"), m);
        m = error("{\"hidden_act\": \"gelu\"}");
        assertTrue(m.contains("unsupported hidden_act 'gelu'"), m);
        m = error("{\"architectures\": [\"MistralForCausalLM\"]}");
        assertTrue(m.contains("MistralForCausalLM"), m);
        m = error("{\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0}}");
        assertTrue(m.contains("low_freq_factor"), m);
    }

    // ------------------------------------------------------------------------------- loading errors

    static void editConfig(Path dir, String key, Object value) throws Exception {
        ObjectNode c = (ObjectNode) JSON.readTree(dir.resolve("config.json").toFile());
        c.set(key, JSON.valueToTree(value));
        Files.writeString(dir.resolve("config.json"), JSON.writeValueAsString(c));
    }

    @Test
    void unsupportedArchitectureNamesFileAndArchitecture() throws Exception {
        Path d = HfTestDirs.copy("llama_gqa", tmp);
        editConfig(d, "architectures", List.of("MixtralForCausalLM"));
        editConfig(d, "model_type", "mixtral");
        String m = assertThrows(HfException.class, () -> AutoModelForCausalLM.fromPretrained(d)).getMessage();
        assertTrue(m.contains(d.resolve("config.json").toString()) && m.contains("MixtralForCausalLM") && m.contains("mixtral"), m);
    }

    @Test
    void missingShardNamesIndexAndShard() throws Exception {
        Path d = HfTestDirs.copy("llama_bias", tmp);
        Files.delete(d.resolve("model-00002-of-00002.safetensors"));
        String m = assertThrows(HfException.class, () -> LlamaForCausalLM.fromPretrained(d)).getMessage();
        assertTrue(m.contains(HfModelDir.INDEX) && m.contains("model-00002-of-00002.safetensors") && m.contains("does not exist"), m);
    }

    @Test
    void missingKeyNamesKeyAndFile() throws Exception {
        Path d = HfTestDirs.copy("llama_gqa", tmp);
        Path w = d.resolve("model.safetensors");
        LinkedHashMap<String, Tensor> sd = TensorIO.load(w);
        sd.remove("model.layers.1.mlp.up_proj.weight");
        TensorIO.save(w, sd, Map.of("format", "pt"));
        String m = assertThrows(HfException.class, () -> LlamaForCausalLM.fromPretrained(d)).getMessage();
        assertTrue(m.contains("missing tensor 'model.layers.1.mlp.up_proj.weight'") && m.contains(w.toString()), m);
    }

    @Test
    void wrongShapeNamesKeyShapesAndFile() throws Exception {
        Path d = HfTestDirs.copy("llama_gqa", tmp);
        editConfig(d, "intermediate_size", 48);
        String m = assertThrows(HfException.class, () -> LlamaForCausalLM.fromPretrained(d)).getMessage();
        assertTrue(m.contains("'model.layers.0.mlp.gate_proj.weight'") && m.contains("[64, 32]") && m.contains("[48, 32]")
                && m.contains(d.resolve("model.safetensors").toString()), m);
    }

    @Test
    void unexpectedKeysAreErrorsButOldInvFreqIsIgnored() throws Exception {
        Path d = HfTestDirs.copy("llama_gqa", tmp);
        Path w = d.resolve("model.safetensors");
        LinkedHashMap<String, Tensor> sd = TensorIO.load(w);
        sd.put("model.layers.0.self_attn.rotary_emb.inv_freq", Tensor.ones(4));
        TensorIO.save(w, sd, Map.of("format", "pt"));
        LlamaForCausalLM.fromPretrained(d);
        sd.put("model.layers.0.self_attn.extra.weight", Tensor.ones(4));
        TensorIO.save(w, sd, Map.of("format", "pt"));
        String m = assertThrows(HfException.class, () -> LlamaForCausalLM.fromPretrained(d)).getMessage();
        assertTrue(m.contains("unexpected tensors [model.layers.0.self_attn.extra.weight]") && m.contains(w.toString()), m);
    }

    @Test
    void loraStyleReplacementRuns() {
        // a module registered in a projection's place is the one that runs
        LlamaConfig c = LlamaConfig.of(32, 16, 32, 1, 2, 1, 16);
        LlamaForCausalLM m = new LlamaForCausalLM(c, new Generator(0));
        Tensor idx = Tensor.of(new long[] {1, 2, 3}, 1, 3);
        Tensor before = m.forward(idx);
        Module attn = m.layer(0).selfAttn;
        attn.registerModule("v_proj", new jllm.nn.Linear(16, 8, false));
        assertFalse(before.equal(m.forward(idx)));
    }
}
