package jllm.models;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.autograd.Node;
import jllm.io.StrictJson;
import jllm.lora.LoraConfig;
import jllm.lora.PeftModel;
import jllm.models.gpt.CharGPT;
import jllm.models.gpt.CharGPTConfig;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;
import jllm.nn.Module;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The launcher's heap comes from these counts: they must be what jllm's models really hold. */
class MemoryFootprintTest {

    /** Bytes of the distinct storages a training forward's graph saves for backward, parameters and buffers left out. */
    private static long savedBytes(Module model, int vocab, int batch, int seq) {
        model.train();
        Generator g = new Generator(1);
        Tensor x = Tensor.randint(0, vocab, new int[] {batch, seq}, g), y = Tensor.randint(0, vocab, new int[] {batch, seq}, g);
        Tensor loss = ((LanguageModel) model).forward(x, y).loss();
        Set<Object> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Tensor p : model.parameters()) seen.add(p.storage());
        for (Tensor b : model.namedBuffers().values()) seen.add(b.storage());
        Set<Node> visited = Collections.newSetFromMap(new IdentityHashMap<>());
        Deque<Node> todo = new ArrayDeque<>();
        todo.push(loss.gradFn());
        long bytes = 0;
        while (!todo.isEmpty()) {
            Node n = todo.pop();
            if (!visited.add(n)) continue;
            for (Tensor t : n.savedTensors()) {
                if (seen.add(t.storage())) bytes += (long) t.storage().size() * t.dtype().itemSize();
            }
            for (Node m : n.nextFunctions()) if (m != null) todo.push(m);
        }
        return bytes;
    }

    private static void assertWithin(long actual, long estimate, double tolerance, String what) {
        double r = estimate / (double) actual;
        assertTrue(r >= 1 - tolerance && r <= 1 + tolerance, what + ": estimate " + estimate + " vs saved " + actual + " (ratio " + r + ")");
    }

    private static Map<String, Object> section(String type, int layers, int heads, int width, double dropout) {
        Map<String, Object> s = new LinkedHashMap<>(Map.of("type", type, "n_layer", layers, "n_head", heads, "n_embd", width, "dropout", dropout));
        if (type.equals(ModelFactory.GPT_TYPE)) s.put("bias", false);
        return s;
    }

    @Test
    void gptAndCharGptActivationsMatchTheirGraphs() {
        // {type, layers, heads, width, vocab, batch, seq, dropout}: the main job's shape, a long sequence, with and without dropout
        Object[][] cases = {
                {"gpt", 4, 4, 128, 65, 12, 64, 0.0}, {"gpt", 2, 2, 64, 65, 4, 256, 0.0}, {"gpt", 2, 4, 128, 300, 2, 128, 0.2},
                {"char_gpt", 2, 4, 128, 65, 4, 64, 0.0}, {"char_gpt", 2, 2, 64, 65, 2, 256, 0.2}};
        for (Object[] c : cases) {
            Map<String, Object> s = section((String) c[0], (int) c[1], (int) c[2], (int) c[3], (double) c[7]);
            int vocab = (int) c[4], batch = (int) c[5], seq = (int) c[6];
            Generator.manualSeed(0);
            Module m = ModelFactory.build(s, vocab, seq);
            MemoryFootprint fp = ModelFactory.footprint(s, vocab, seq);
            assertEquals(m.numParameters(), fp.parameters(), "parameters of " + s);
            assertWithin(savedBytes(m, vocab, batch, seq), fp.savedActivationBytes(batch, seq), 0.10, s.toString());
        }
    }

    @Test
    void llamaActivationsMatchItsGraphAndBoundLoras() {
        LlamaConfig cfg = LlamaConfig.of(500, 96, 256, 2, 4, 2, 128);
        ObjectNode json = cfg.toJson();
        Generator.manualSeed(0);
        LlamaForCausalLM model = new LlamaForCausalLM(cfg);
        MemoryFootprint fp = MemoryFootprint.ofHuggingFace(json, model.numParameters());
        long full = savedBytes(model, 500, 2, 64);
        assertWithin(full, fp.savedActivationBytes(2, 64), 0.10, "llama");
        long lora = savedBytes(PeftModel.getPeftModel(model, LoraConfig.of(4, 8)), 500, 2, 64);
        assertTrue(lora < full && fp.savedActivationBytes(2, 64) > lora, "LoRA saves less than full training: " + lora + " vs " + full);
        assertEquals(2L * 2 * 2 * (96 / 4) * Float.BYTES, fp.kvCacheBytesPerPosition(), "2 layers of keys and values for 2 KV heads of 24");
        assertEquals(model.newCache(1, 10).numHeads() * model.newCache(1, 10).headDim(), fp.kvWidth());
    }

    /**
     * The Hugging Face families built on Llama's decoder, at a shape where their differences show
     * (Gemma's 32-wide heads times 4 are not its width; Qwen3's q/k norms; Gemma 2's extra norms and
     * soft-capped logits): the estimate the launcher sizes their fine-tuning from holds for each.
     */
    @Test
    void everyHuggingFaceFamilyMatchesItsGraph() throws Exception {
        String common = "\"vocab_size\": 500, \"hidden_size\": 96, \"intermediate_size\": 256, \"num_hidden_layers\": 2, "
                + "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"max_position_embeddings\": 128, \"rms_norm_eps\": 1e-6";
        Map<String, java.util.function.Function<ObjectNode, Module>> build = new LinkedHashMap<>();
        build.put("mistral", j -> new jllm.models.mistral.MistralForCausalLM(jllm.models.mistral.MistralConfig.fromJson(j, "m"), null));
        build.put("qwen2", j -> new jllm.models.qwen2.Qwen2ForCausalLM(jllm.models.qwen2.Qwen2Config.fromJson(j, "q"), null));
        build.put("qwen3", j -> new jllm.models.qwen3.Qwen3ForCausalLM(jllm.models.qwen3.Qwen3Config.fromJson(j, "q"), null));
        build.put("phi3", j -> new jllm.models.phi3.Phi3ForCausalLM(jllm.models.phi3.Phi3Config.fromJson(j, "p"), null));
        build.put("gemma", j -> new jllm.models.gemma.GemmaForCausalLM(jllm.models.gemma.GemmaConfig.fromJson(j, "g"), null));
        build.put("gemma2", j -> new jllm.models.gemma.Gemma2ForCausalLM(jllm.models.gemma.Gemma2Config.fromJson(j, "g"), null));
        for (var e : build.entrySet()) {
            for (String extra : new String[] {"", ", \"head_dim\": 32", ", \"attn_logit_softcapping\": null, \"final_logit_softcapping\": null"}) {
                ObjectNode json = (ObjectNode) StrictJson.MAPPER.readTree("{\"model_type\": \"" + e.getKey() + "\", " + common + extra + "}");
                Generator.manualSeed(0);
                Module model = e.getValue().apply(json);
                MemoryFootprint fp = MemoryFootprint.ofHuggingFace(json, model.numParameters());
                assertWithin(savedBytes(model, 500, 2, 64), fp.savedActivationBytes(2, 64), 0.05, e.getKey() + extra);
            }
        }
    }

    @Test
    void weightMatricesAreTheLargeParameters() {
        Map<String, Object> s = section("gpt", 3, 4, 64, 0.0);
        MemoryFootprint fp = ModelFactory.footprint(s, 100, 32);
        long sum = 0;
        for (long n : fp.weightMatrices()) sum += n;
        // everything but the LayerNorms' weights
        assertEquals(fp.parameters() - (2L * 3 + 1) * 64, sum);
    }

    @Test
    void charGptCountsItsParametersWithoutBeingBuilt() {
        assertEquals(10_788_929L, CharGPTConfig.SEED003.numParameters());
        CharGPTConfig small = new CharGPTConfig(4, 16, 30, 32, 4, 2, 0.1);
        assertEquals(new CharGPT(small).numParameters(), small.numParameters());
    }

    @Test
    void huggingFaceConfigsAreReadByTheirCommonNames() throws Exception {
        ObjectNode gpt2 = (ObjectNode) StrictJson.MAPPER.readTree(
                "{\"model_type\": \"gpt2\", \"n_embd\": 64, \"n_layer\": 2, \"n_head\": 4, \"vocab_size\": 100, \"n_positions\": 32}");
        MemoryFootprint g = MemoryFootprint.ofHuggingFace(gpt2, 1000);
        assertEquals(MemoryFootprint.Kind.GPT, g.kind());
        assertEquals(256, g.mlpWidth());
        assertEquals(32, g.context());
        ObjectNode bad = gpt2.deepCopy().put("n_layer", "2");
        var e = assertThrows(IllegalArgumentException.class, () -> MemoryFootprint.ofHuggingFace(bad, 1000));
        assertTrue(e.getMessage().contains("config.json: 'num_hidden_layers' (or 'n_layer') must be a positive integer"), e.getMessage());
    }
}
