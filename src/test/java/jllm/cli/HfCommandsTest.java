package jllm.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.io.SafeTensors;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.tensor.Tensor;
import jllm.tokenizer.HfTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static jllm.cli.ExamplesCommandTest.assertHas;
import static jllm.cli.ExamplesCommandTest.run;
import static org.junit.jupiter.api.Assertions.*;

/**
 * End-to-end runs of convert, generate and finetune on the aidreams260K llama2.c model (a real,
 * trained 260K-parameter Llama with a 512-token sentencepiece vocabulary).
 */
class HfCommandsTest {
    private static final Path LLAMA2C = Path.of("src/test/resources/llama2c");
    @TempDir
    static Path shared;
    private static Path model;
    private static JsonNode expected;

    @BeforeAll
    static void convert() throws Exception {
        model = shared.resolve("aidreams");
        var r = run("convert", "llama2c", "--checkpoint", LLAMA2C.resolve("aidreams260K.bin").toString(),
                "--tokenizer", LLAMA2C.resolve("tok512.bin").toString(), "--out", model.toString());
        assertEquals(0, r.rc(), r.err() + r.out());
        assertHas(r.out(), "wrote " + model + ": 38 tensors", "tokenizer.json");
        expected = new ObjectMapper().readTree(LLAMA2C.resolve("aidreams260K.expected.json").toFile());
    }

    @Test
    void greedyGenerationReproducesTheReferenceText() {
        // an empty prompt starts from <s> (add_bos_token), as the reference did; greedy for 128 tokens: the last comes from the forward over all 128 positions
        var r = run("generate", "--model", model.toString(), "--temperature", "0", "--max-new-tokens", "128");
        assertEquals(0, r.rc(), r.err());
        String want = expected.get("greedy_text").asText();
        assertEquals(want.strip(), r.out().strip());
        assertHas(r.err(), "loaded " + model + " (llama, ", "1 prompt tokens, 128 generated in ", "tokens/s)");
    }

    @Test
    void generateStreamsAfterThePromptAndIsSeeded() {
        var a = run("generate", "--model", model.toString(), "--prompt", "Echoes of", "--max-new-tokens", "20", "--seed", "3");
        var b = run("generate", "--model", model.toString(), "--prompt", "Echoes of", "--max-new-tokens", "20", "--seed", "3");
        var c = run("generate", "--model", model.toString(), "--prompt", "Echoes of", "--max-new-tokens", "20", "--seed", "3", "--no-cache");
        assertEquals(0, a.rc(), a.err());
        assertTrue(a.out().startsWith("Echoes of") && a.out().strip().length() > "Echoes of".length() + 10, a.out());
        assertEquals(a.out(), b.out(), "same seed, same text");
        assertEquals(a.out(), c.out(), "the KV cache does not change the tokens");
        var bad = run("generate", "--model", shared.resolve("nope").toString());
        assertNotEquals(0, bad.rc());
        assertHas(bad.err(), "nope");
        var chat = run("generate", "--model", model.toString(), "--chat", "--prompt", "hi");
        assertNotEquals(0, chat.rc(), "this tokenizer has no chat template");
        assertHas(chat.err(), "chat template");
    }

    /** --dtype converts the weights once loaded; down_proj's 172-wide rows are not whole Q8_0 blocks and stay float32. */
    @Test
    void generateWithConvertedWeights() {
        var f32 = run("generate", "--model", model.toString(), "--prompt", "Echoes of", "--temperature", "0", "--max-new-tokens", "20", "--dtype", "f32");
        var plain = run("generate", "--model", model.toString(), "--prompt", "Echoes of", "--temperature", "0", "--max-new-tokens", "20");
        assertEquals(0, f32.rc(), f32.err());
        assertEquals(plain.out(), f32.out(), "f32 is how models load");
        assertFalse(f32.err().contains("weights:"), f32.err());
        var q8 = run("generate", "--model", model.toString(), "--prompt", "Echoes of", "--temperature", "0", "--max-new-tokens", "20", "--dtype", "q8_0");
        assertEquals(0, q8.rc(), q8.err());
        assertHas(q8.err(), "weights: 25 matrices in q8_0, 4 kept in float32 (rows not whole 32-element blocks: "
                + "model.layers.0.mlp.down_proj.weight, model.layers.1.mlp.down_proj.weight, ...)\n", "5 prompt tokens, 20 generated");
        assertTrue(q8.out().startsWith("Echoes of"), q8.out());
        var bad = run("generate", "--model", model.toString(), "--dtype", "int8");
        assertEquals(2, bad.rc());
        assertHas(bad.err(), "jllm generate: unknown weight type 'int8'; expected one of f32, bf16, f16, q8_0, q4_0");
    }

    /**
     * eval on text the model sampled itself (temperature 1, so its perplexity is about the model's
     * own, ~4.8): bf16 and f16 weights within 1% of f32, q8_0 within 3%, q4_0 worse than q8_0.
     */
    @Test
    void evalPerplexityOfConvertedWeights(@TempDir Path dir) throws Exception {
        var sampled = run("generate", "--model", model.toString(), "--temperature", "1", "--max-new-tokens", "127", "--seed", "5");
        assertEquals(0, sampled.rc(), sampled.err());
        Path text = dir.resolve("sampled.txt");
        Files.writeString(text, sampled.out());
        java.util.Map<String, Double> ppl = new java.util.LinkedHashMap<>();
        for (String t : new String[] {"f32", "bf16", "f16", "q8_0", "q4_0"}) {
            var r = run("eval", "--model", model.toString(), "--data", text.toString(), "--dtype", t, "--json");
            assertEquals(0, r.rc(), r.err());
            JsonNode j = new ObjectMapper().readTree(r.out());
            assertTrue(j.get("bos").asBoolean() && j.get("tokens").asInt() > 100, r.out());
            ppl.put(t, j.get("perplexity").asDouble());
        }
        double f32 = ppl.get("f32");
        assertTrue(f32 > 1.5 && f32 < 20, "the model predicts its own text well: " + ppl);
        for (String t : new String[] {"bf16", "f16"}) assertTrue(Math.abs(ppl.get(t) / f32 - 1) <= 0.01, t + ": " + ppl);
        assertTrue(Math.abs(ppl.get("q8_0") / f32 - 1) <= 0.03, "q8_0: " + ppl);
        assertTrue(Math.abs(ppl.get("q4_0") / f32 - 1) > Math.abs(ppl.get("q8_0") / f32 - 1), "4 bits cost more than 8: " + ppl);
    }

    @Test
    void chatFormatsThePromptWithTheTemplate(@TempDir Path dir) throws Exception {
        Path copy = dir.resolve("chat");
        Files.createDirectories(copy);
        try (var files = Files.list(model)) {
            for (Path f : files.toList()) Files.copy(f, copy.resolve(f.getFileName()));
        }
        var cfg = (com.fasterxml.jackson.databind.node.ObjectNode) new ObjectMapper().readTree(copy.resolve("tokenizer_config.json").toFile());
        cfg.put("chat_template", "{% for m in messages %}{{ bos_token }}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
                + "{% if add_generation_prompt %}[assistant] {% endif %}");
        new ObjectMapper().writeValue(copy.resolve("tokenizer_config.json").toFile(), cfg);
        int promptTokens;
        try (HfTokenizer tok = HfTokenizer.fromDirectory(copy)) {
            var msgs = List.of(jllm.tokenizer.ChatTemplate.Message.system("Be brief."), jllm.tokenizer.ChatTemplate.Message.user("hi"));
            assertEquals("<s>[system] Be brief.\n<s>[user] hi\n[assistant] ", tok.applyChatTemplate(msgs, true));
            promptTokens = tok.encodeChat(msgs, true).length;
        }
        var r = run("generate", "--model", copy.toString(), "--chat", "--system", "Be brief.", "--prompt", "hi", "--temperature", "0",
                "--max-new-tokens", "5");
        assertEquals(0, r.rc(), r.err());
        assertHas(r.err(), promptTokens + " prompt tokens, 5 generated");
        assertFalse(r.out().contains("[user]"), "with --chat only the reply is printed: " + r.out());
    }

    /**
     * The same trained weights as a Qwen2 directory (zero q/k/v biases compute exactly Llama's
     * attention): generate and finetune run through the qwen2 family's loader, and greedy text is
     * the Llama model's.
     */
    @Test
    void aQwen2DirectoryGeneratesAndFinetunes(@TempDir Path dir) throws Exception {
        var llama = jllm.models.llama.LlamaForCausalLM.fromPretrained(model);
        var qc = new jllm.models.qwen2.Qwen2Config(llama.config(), jllm.models.llama.SlidingWindows.none(llama.config().numHiddenLayers()));
        var qwen = new jllm.models.qwen2.Qwen2ForCausalLM(qc, null);
        try (var g = jllm.autograd.Grad.off()) {
            var q = qwen.stateDict();
            llama.stateDict().forEach((k, v) -> q.get(k).copy_(v));
            q.forEach((k, v) -> { if (k.endsWith("_proj.bias")) v.zero_(); });
        }
        Path qdir = dir.resolve("qwen2");
        qwen.savePretrained(qdir);
        try (var files = Files.list(model)) {
            for (Path f : files.filter(f -> f.getFileName().toString().startsWith("tokenizer")).toList()) Files.copy(f, qdir.resolve(f.getFileName()));
        }
        var a = run("generate", "--model", model.toString(), "--prompt", "Echoes of", "--temperature", "0", "--max-new-tokens", "24");
        var b = run("generate", "--model", qdir.toString(), "--prompt", "Echoes of", "--temperature", "0", "--max-new-tokens", "24");
        assertEquals(0, b.rc(), b.err());
        assertHas(b.err(), "loaded " + qdir + " (qwen2, ");
        assertEquals(a.out(), b.out());

        Path data = dir.resolve("pairs.jsonl");
        Files.write(data, List.of("{\"prompt\": \"Q: what hums?\", \"response\": \" Vectors.\"}", "{\"prompt\": \"Q: who sings?\", \"response\": \" Birds.\"}",
                "{\"prompt\": \"Q: what glows?\", \"response\": \" Stars.\"}"));
        var f = run("finetune", "--model", qdir.toString(), "--data", data.toString(), "--out", dir.resolve("ft").toString(), "--progress", "plain",
                "--max-iters", "3", "--batch-size", "2", "--eval-interval", "3", "--eval-iters", "1", "--lora-r", "2");
        assertEquals(0, f.rc(), f.err() + f.out());
        Set<String> keys;
        try (var st = SafeTensors.open(dir.resolve("ft").resolve("adapter").resolve("adapter_model.safetensors"))) {
            keys = Set.copyOf(st.names());
        }
        assertTrue(keys.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), "qwen2's default targets: " + keys);
        assertEquals(4 * 2 * 2, keys.size(), keys.toString());
    }

    @Test
    void finetuneThenGenerateWithTheAdapterThenMerge(@TempDir Path dir) throws Exception {
        Path data = dir.resolve("pairs.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 12; i++) lines.add("{\"prompt\": \"Question " + i + ": what hums?\", \"response\": \" The gentle vectors hum.\"}");
        Files.write(data, lines);
        Path out = dir.resolve("ft");
        var f = run("finetune", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(), "--progress", "plain",
                "--max-iters", "12", "--batch-size", "4", "--eval-interval", "6", "--eval-iters", "2", "--learning-rate", "1e-2",
                "--lora-r", "4", "--lora-alpha", "8", "--target-modules", "q_proj,v_proj,down_proj");
        assertEquals(0, f.rc(), f.err() + f.out());
        assertHas(f.out(), "trainable params: ", " || all params: ", " || trainable%: ", "12 prompt/response examples (train 10, val 2)",
                "adapter:   " + out.resolve("adapter"), "generate with: ./jllm generate --model ");
        Path adapter = out.resolve("adapter");
        JsonNode cfg = new ObjectMapper().readTree(adapter.resolve("adapter_config.json").toFile());
        assertEquals("LORA", cfg.get("peft_type").asText());
        assertEquals(4, cfg.get("r").asInt());
        Set<String> keys;
        try (var st = SafeTensors.open(adapter.resolve("adapter_model.safetensors"))) {
            keys = Set.copyOf(st.names());
        }
        assertTrue(keys.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"), keys.toString());
        assertTrue(keys.contains("base_model.model.model.layers.3.mlp.down_proj.lora_B.weight"), keys.toString());
        assertEquals(4 * 3 * 2, keys.size(), keys.toString());
        assertTrue(Files.size(out.resolve("loss.png")) > 1000);
        try (var st = SafeTensors.open(out.resolve("ckpt_last").resolve("model.safetensors"))) {
            assertEquals(keys, Set.copyOf(st.names()), "training checkpoints hold the adapter, not the frozen base");
        }
        var resumed = run("finetune", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(), "--progress", "plain",
                "--max-iters", "14", "--batch-size", "4", "--eval-interval", "6", "--eval-iters", "2", "--learning-rate", "1e-2",
                "--lora-r", "4", "--lora-alpha", "8", "--target-modules", "q_proj,v_proj,down_proj", "--set", "init_from=resume");
        assertEquals(0, resumed.rc(), resumed.err() + resumed.out());
        assertHas(resumed.out(), "resuming training from " + out.resolve("ckpt_last") + " at iter 12", "step 14: train loss");

        // training on the response lowered its loss: the adapted model prefers the taught answer
        var g = run("generate", "--model", model.toString(), "--adapter", adapter.toString(), "--prompt", "Question 3: what hums?",
                "--temperature", "0", "--max-new-tokens", "12");
        assertEquals(0, g.rc(), g.err());
        assertHas(g.err(), "adapter " + adapter + ": 12 LoRA layers (r=4)");

        Path merged = dir.resolve("merged");
        var m = run("convert", "merge-lora", "--model", model.toString(), "--adapter", adapter.toString(), "--out", merged.toString());
        assertEquals(0, m.rc(), m.err() + m.out());
        assertTrue(Files.isRegularFile(merged.resolve("tokenizer.json")), "tokenizer files travel with the weights");
        var gm = run("generate", "--model", merged.toString(), "--prompt", "Question 3: what hums?", "--temperature", "0", "--max-new-tokens", "12");
        assertEquals(g.out(), gm.out(), "the merged model generates what the adapted one does");
    }

    @Test
    void convertHfReshardsAndRoundTrips(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("sharded");
        var r = run("convert", "hf", "--model", model.toString(), "--out", out.toString(), "--max-shard-size", "300KB");
        assertEquals(0, r.rc(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("model.safetensors.index.json")));
        try (var files = Files.list(out)) {
            assertTrue(files.filter(p -> p.getFileName().toString().matches("model-\\d{5}-of-\\d{5}\\.safetensors")).count() >= 3);
        }
        PretrainedModel a = AutoModelForCausalLM.fromPretrained(model), b = AutoModelForCausalLM.fromPretrained(out);
        var sa = a.asModule().stateDict();
        var sb = b.asModule().stateDict();
        assertEquals(sa.keySet(), sb.keySet());
        for (String k : sa.keySet()) assertTrue(sa.get(k).equal(sb.get(k)), k);
        try (HfTokenizer t = HfTokenizer.fromDirectory(out)) {
            assertEquals(512, t.vocabSize());
        }
        var bad = run("convert", "hf", "--model", model.toString(), "--out", dir.resolve("x").toString(), "--max-shard-size", "lots");
        assertNotEquals(0, bad.rc());
        assertHas(bad.err(), "--max-shard-size: expected a size like 2GB");
    }

    @Test
    void convertATrainedGptCheckpointToHuggingFace(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        var t = run("train", "--progress", "off", "--final-eval-iters", "1", "--sample-tokens", "0", "--set", "out_dir=" + run,
                "--set", "max_iters=2", "--set", "eval_interval=2", "--set", "eval_iters=1", "--set", "batch_size=2", "--set", "block_size=8",
                "--set", "warmup_iters=1", "--set", "lr_decay_iters=2", "--set", "model.type=gpt", "--set", "model.n_layer=1",
                "--set", "model.n_head=2", "--set", "model.n_embd=16", "--set", "model.bias=true", "--set", "always_save_checkpoint=true");
        assertEquals(0, t.rc(), t.err() + t.out());
        Path hf = dir.resolve("hf");
        var c = run("convert", "checkpoint", "--checkpoint", run.toString(), "--out", hf.toString());
        assertEquals(0, c.rc(), c.err() + c.out());
        JsonNode cfg = new ObjectMapper().readTree(hf.resolve("config.json").toFile());
        assertEquals("gpt2", cfg.get("model_type").asText());
        PretrainedModel back = AutoModelForCausalLM.fromPretrained(hf);
        var saved = jllm.train.SavedModel.load(run);
        Tensor idx = Tensor.of(new long[] {1, 2, 3, 4, 5}, 1, 5);
        Tensor want = saved.model().forward(idx, null).logits(), got = back.forward(idx, null).logits();
        assertTrue(want.sub(got).abs().max().item() < 1e-6);
    }
}
