package jllm.io.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.autograd.Grad;
import jllm.generate.TextGenerator;
import jllm.io.ModelSource;
import jllm.io.llama2c.Llama2cConverter;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.models.llama.HfTestDirs;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.tokenizer.ChatTemplate;
import jllm.tokenizer.HfTokenizer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A Llama written as GGUF and read back: every tensor as the file type stores it, the config, q/k
 * rows in ggml's order inside the file, the tokenizer (sentencepiece and byte-level) and the chat
 * template from the metadata, greedy generation of the trained aidreams260K model unchanged, and
 * the model-level errors (architecture, missing keys, unreadable tensor types).
 */
class GgufModelTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path shared;
    private static Path aidreams;

    @BeforeAll
    static void convert() throws IOException {
        aidreams = shared.resolve("aidreams");
        Llama2cConverter.convert(Path.of("src/test/resources/llama2c/aidreams260K.bin"), Path.of("src/test/resources/llama2c/tok512.bin"), aidreams);
    }

    private static Path write(PretrainedModel m, Path out, GgufModel.FileType type) throws IOException {
        GgufModel.write(out, m.configJson(), m.hfStateDict(), null, null, type, "test");
        return out;
    }

    /** What a stored tensor holds once read back: the value rounded through the file's type. */
    private static Tensor throughType(String key, Tensor t, GgufModel.FileType type) {
        try (var g = Grad.off()) {
            if (t.dim() < 2 || type == GgufModel.FileType.F32) return t;
            if (type == GgufModel.FileType.F16 || type == GgufModel.FileType.BF16) {
                return t.to(type == GgufModel.FileType.F16 ? DType.F16 : DType.BF16).to(DType.F32);
            }
            if (t.size(-1) % 32 != 0) return t.to(DType.F16).to(DType.F32); // stored f16, as convert_hf_to_gguf.py falls back
            return t.to(type == GgufModel.FileType.Q8_0 ? DType.Q8_0 : DType.Q4_0).to(DType.F32);
        }
    }

    @Test
    void everyFileTypeRoundTripsTensorByTensor(@TempDir Path dir) throws IOException {
        // biases on q/k/v/o and the MLP, head_dim 16 != hidden / heads, linear RoPE scaling, untied
        LlamaForCausalLM m = LlamaForCausalLM.fromPretrained(HfTestDirs.dir("llama_bias"));
        for (GgufModel.FileType type : GgufModel.FileType.values()) {
            Path f = write(m, dir.resolve(type + ".gguf"), type);
            ModelSource src = ModelSource.open(f);
            ObjectNode want = m.configJson(), got = src.config();
            for (String k : List.of("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                    "head_dim", "rms_norm_eps", "rope_theta", "rope_scaling", "max_position_embeddings", "vocab_size", "tie_word_embeddings",
                    "attention_bias", "mlp_bias", "bos_token_id", "eos_token_id")) {
                assertEquals(want.get(k), got.get(k), type + ": config field " + k);
            }
            PretrainedModel back = AutoModelForCausalLM.fromPretrained(f);
            Map<String, Tensor> a = m.hfStateDict(), b = back.hfStateDict();
            assertEquals(a.keySet(), b.keySet());
            for (String k : a.keySet()) {
                Tensor expect = throughType(k, a.get(k), type), have = b.get(k);
                boolean matrix = a.get(k).dim() == 2, blocks = type.type.quantized() && matrix && a.get(k).size(-1) % 32 == 0;
                DType stored = switch (type) {
                    case Q8_0 -> blocks ? DType.Q8_0 : DType.F32;
                    case Q4_0 -> blocks ? DType.Q4_0 : DType.F32;
                    case F16 -> matrix ? DType.F16 : DType.F32;
                    case BF16 -> matrix ? DType.BF16 : DType.F32;
                    default -> DType.F32;
                };
                assertEquals(stored, have.dtype(), type + " " + k + ": matrices keep the file's type (Q8_0/Q4_0 where rows are whole blocks), "
                        + "the rest loads as float32");
                try (var g = Grad.off()) {
                    assertTrue(expect.equal(have.to(DType.F32)), type + ": tensor " + k + " differs");
                }
            }
            if (type == GgufModel.FileType.F32) {
                Tensor idx = Tensor.of(new long[] {1, 5, 9, 3, 7}, 1, 5);
                try (var g = Grad.off()) {
                    assertTrue(m.forward(idx, null).logits().equal(((LlamaForCausalLM) back).forward(idx, null).logits()), "same logits");
                }
            }
        }
    }

    @Test
    void qAndKRowsAreInGgmlsInterleavedOrderInsideTheFile(@TempDir Path dir) throws IOException {
        LlamaForCausalLM m = new LlamaForCausalLM(LlamaConfig.of(64, 32, 64, 1, 4, 2, 64).withTieWordEmbeddings(true), new Generator(7));
        GgufFile f = GgufFile.open(write(m, dir.resolve("gqa.gguf"), GgufModel.FileType.F32));
        assertFalse(f.tensors().containsKey("output.weight"), "a tied head is not written; llama.cpp uses token_embd");
        for (String[] p : new String[][] {{"model.layers.0.self_attn.q_proj.weight", "blk.0.attn_q.weight"},
                {"model.layers.0.self_attn.k_proj.weight", "blk.0.attn_k.weight"}}) {
            float[] hf = m.hfStateDict().get(p[0]).toFloatArray();
            float[] gg = f.data(f.tensor(p[1])).toArray(GgufFile.LE_F32);
            int rows = m.hfStateDict().get(p[0]).size(0), headSize = 8;
            assertArrayEquals(new long[] {32, rows}, f.tensor(p[1]).ne(), "ne = [in, out]");
            for (int r = 0; r < rows; r++) {
                // HF row j * d/2 + i of a head is GGUF row 2i + j: convert_hf_to_gguf.py's LlamaModel.permute
                int head = r / headSize, j = (r % headSize) / (headSize / 2), i = r % (headSize / 2);
                int g = head * headSize + 2 * i + j;
                assertArrayEquals(Arrays.copyOfRange(hf, r * 32, r * 32 + 32), Arrays.copyOfRange(gg, g * 32, g * 32 + 32), p[1] + " row " + g);
            }
        }
        PretrainedModel back = AutoModelForCausalLM.fromPretrained(f.path());
        assertTrue(back.configJson().get("tie_word_embeddings").asBoolean());
        for (var e : m.hfStateDict().entrySet()) assertTrue(e.getValue().equal(back.hfStateDict().get(e.getKey())), e.getKey());
    }

    @Test
    void ropeScalingGgufCannotHoldIsRefused(@TempDir Path dir) throws IOException {
        LlamaForCausalLM m = LlamaForCausalLM.fromPretrained(HfTestDirs.dir("llama_gqa")); // llama3 RoPE scaling
        Path out = dir.resolve("x.gguf");
        GgufException e = assertThrows(GgufException.class, () -> write(m, out, GgufModel.FileType.F32));
        assertEquals(out + ": rope_scaling 'llama3' is not written to GGUF by jllm (it writes linear RoPE scaling)", e.getMessage());
        assertFalse(Files.exists(out));
    }

    private static Path ggufOf(Path hfDir, Path out, GgufModel.FileType type) throws IOException {
        ModelSource src = ModelSource.open(hfDir);
        PretrainedModel m = AutoModelForCausalLM.fromPretrained(src);
        try (HfTokenizer tok = src.tokenizer()) {
            GgufModel.write(out, m.configJson(), m.hfStateDict(), src.tokenizerJson(), tok, type, "aidreams260K");
        }
        return out;
    }

    @Test
    void greedyTokensOfTheTrainedModelAreTheSourceDirectorys(@TempDir Path dir) throws IOException {
        JsonNode ref = JSON.readTree(Path.of("src/test/resources/llama2c/aidreams260K.expected.json").toFile());
        long[] want = new long[ref.get("greedy_token_ids").size()];
        for (int i = 0; i < want.length; i++) want[i] = ref.get("greedy_token_ids").get(i).asLong();
        Path f = ggufOf(aidreams, dir.resolve("aidreams.gguf"), GgufModel.FileType.F32);
        for (Path p : List.of(aidreams, f)) {
            PretrainedModel m = AutoModelForCausalLM.fromPretrained(p);
            long[] all = TextGenerator.generate(m, Tensor.of(new long[] {1}, 1, 1), TextGenerator.Options.of(want.length).temperature(0)).toLongArray();
            assertArrayEquals(want, Arrays.copyOfRange(all, 1, all.length), p + ": greedy tokens from <s>");
        }
    }

    /**
     * llama.cpp's Q4_0 files keep some matrices in more bits (the output matrix in Q6_K): a Q4_0 model
     * whose embedding/head matrix is Q8_0 writes both block types, and reads back with each matrix in
     * its own type, bit for bit, with the same logits; --dtype still puts every matrix in one type.
     */
    @Test
    void aMixedBlockFileKeepsEachMatrixInItsOwnType(@TempDir Path dir) throws IOException {
        PretrainedModel m = jllm.nn.Init.weightsIn(DType.Q4_0, () -> AutoModelForCausalLM.fromPretrained(aidreams));
        String head = m.hfStateDict().containsKey("lm_head.weight") ? "lm_head.weight" : "model.embed_tokens.weight";
        Tensor q4 = m.hfStateDict().get(head);
        assertEquals(DType.Q4_0, q4.dtype(), head);
        for (jllm.nn.Module mod : ((jllm.nn.Module) m).namedModules().values()) {
            if (mod.hasParameter("weight") && mod.parameter("weight") == q4) {
                try (var g = Grad.off()) {
                    mod.setParameter("weight", AutoModelForCausalLM.fromPretrained(aidreams).hfStateDict().get(head).to(DType.Q8_0));
                }
            }
        }
        Tensor q8 = m.hfStateDict().get(head);
        assertEquals(DType.Q8_0, q8.dtype());
        Path f = write(m, dir.resolve("mixed.gguf"), GgufModel.FileType.Q4_0);
        GgufModel src = GgufModel.open(f);
        assertEquals(DType.Q4_0, src.weightType(), "most of the matrices are Q4_0");
        assertEquals(DType.Q8_0, src.weightType(head));
        PretrainedModel back = AutoModelForCausalLM.fromPretrained(f);
        Map<String, Tensor> a = m.hfStateDict(), b = back.hfStateDict();
        for (String k : a.keySet()) {
            assertEquals(a.get(k).dtype(), b.get(k).dtype(), k + " keeps its type");
            try (var g = Grad.off()) {
                // a float matrix whose rows are not whole blocks travels as F16, as convert_hf_to_gguf.py stores it
                Tensor want = a.get(k).dim() == 2 && a.get(k).dtype() == DType.F32 ? a.get(k).to(DType.F16).to(DType.F32) : a.get(k).to(DType.F32);
                assertTrue(want.equal(b.get(k).to(DType.F32)), k + " keeps its values");
            }
        }
        // asked for one type, every matrix is in it
        PretrainedModel all8 = jllm.nn.Init.weightsIn(DType.Q8_0, () -> AutoModelForCausalLM.fromPretrained(f));
        for (Map.Entry<String, Tensor> e : all8.hfStateDict().entrySet()) {
            if (e.getValue().dim() == 2 && e.getValue().size(-1) % 32 == 0) assertEquals(DType.Q8_0, e.getValue().dtype(), e.getKey());
        }
    }

    private static final List<String> TEXTS = List.of("Echoes of vectors unfold", "Hello, world!\nTwo  spaces and a tab\t.", " leading space",
            "unicode: café naïve 日本 😀", "", "<s> looks special </s>");

    @Test
    void sentencepieceTokenizerAndChatTemplateComeBackFromTheMetadata(@TempDir Path dir) throws IOException {
        Path withChat = dir.resolve("chat");
        Files.createDirectories(withChat);
        try (var s = Files.list(aidreams)) {
            for (Path p : s.toList()) Files.copy(p, withChat.resolve(p.getFileName()));
        }
        ObjectNode cfg = (ObjectNode) JSON.readTree(withChat.resolve("tokenizer_config.json").toFile());
        cfg.put("chat_template", "{% for m in messages %}{{ bos_token }}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}");
        JSON.writeValue(withChat.resolve("tokenizer_config.json").toFile(), cfg);
        GgufModel g = GgufModel.open(ggufOf(withChat, dir.resolve("t.gguf"), GgufModel.FileType.F16));
        GgufFile f = g.file();
        assertEquals("llama", f.string("tokenizer.ggml.model", ""));
        long[] types = f.integers("tokenizer.ggml.token_type", "");
        assertEquals(List.of(2L, 3L, 3L, 6L), List.of(types[0], types[1], types[2], types[3]), "<unk> unknown, <s> </s> control, <0x00> byte");
        try (HfTokenizer a = HfTokenizer.fromDirectory(withChat); HfTokenizer b = g.tokenizer()) {
            assertEquals(a.vocabSize(), b.vocabSize());
            for (String t : TEXTS) {
                assertArrayEquals(a.encode(t), b.encode(t), t);
                assertArrayEquals(a.encodePrompt(t), b.encodePrompt(t), t);
                assertEquals(a.decode(a.encodePrompt(t)), b.decode(b.encodePrompt(t)), t);
            }
            assertEquals(a.bosTokenId(), b.bosTokenId());
            assertEquals(a.eosTokenId(), b.eosTokenId());
            var msgs = List.of(ChatTemplate.Message.user("hi"));
            assertEquals(a.applyChatTemplate(msgs, false), b.applyChatTemplate(msgs, false));
        }
        JsonNode src = JSON.readTree(withChat.resolve("tokenizer.json").toFile()), made = g.tokenizerJson();
        assertEquals(src.path("model").path("vocab"), made.path("model").path("vocab"));
        assertEquals(src.path("model").path("merges"), made.path("model").path("merges"), "the merges derived from the written scores are the source's, in order");
    }

    @Test
    void byteLevelTokenizerComesBackFromTheMetadata(@TempDir Path dir) throws IOException {
        Path gpt2 = dir.resolve("gpt2");
        Files.createDirectories(gpt2);
        try (InputStream in = new GZIPInputStream(Files.newInputStream(Path.of("src/test/resources/tokenizers/gpt2/tokenizer.json.gz")))) {
            Files.write(gpt2.resolve("tokenizer.json"), in.readAllBytes());
        }
        Files.copy(Path.of("src/test/resources/tokenizers/gpt2/tokenizer_config.json"), gpt2.resolve("tokenizer_config.json"));
        Path f = dir.resolve("gpt2.gguf");
        try (HfTokenizer tok = HfTokenizer.fromDirectory(gpt2)) {
            GgufWriter w = new GgufWriter();
            w.putString("general.architecture", "gpt2");
            GgufTokenizer.put(w, JSON.readTree(gpt2.resolve("tokenizer.json").toFile()), tok);
            w.write(f);
        }
        GgufFile file = GgufFile.open(f);
        assertEquals("gpt2", file.string("tokenizer.ggml.model", ""));
        assertEquals("gpt-2", file.string("tokenizer.ggml.pre", ""));
        try (HfTokenizer a = HfTokenizer.fromDirectory(gpt2); HfTokenizer b = GgufTokenizer.tokenizer(file)) {
            assertEquals(a.vocabSize(), b.vocabSize());
            for (String t : TEXTS) {
                assertArrayEquals(a.encode(t), b.encode(t), t);
                assertArrayEquals(a.encodePrompt(t), b.encodePrompt(t), t);
                assertEquals(a.decode(a.encode(t)), b.decode(b.encode(t)), t);
            }
            assertEquals(a.eosTokenId(), b.eosTokenId());
        }
    }

    /** Q4_K and Q6_K blocks widen to the values llama.cpp's gguf-py computes (tools/gguf/make_kquant_fixture.py). */
    @Test
    void kQuantsDequantizeAsLlamaCppDoes() throws IOException {
        JsonNode fx = JSON.readTree(Path.of("src/test/resources/gguf/kquants.json").toFile());
        for (GgmlType t : List.of(GgmlType.Q4_K, GgmlType.Q6_K)) {
            JsonNode c = fx.get(t.name());
            byte[] blocks = java.util.Base64.getDecoder().decode(c.get("blocks").asText());
            float[] want = java.lang.foreign.MemorySegment.ofArray(java.util.Base64.getDecoder().decode(c.get("values_f32le").asText()))
                    .toArray(GgufFile.LE_F32);
            assertEquals(c.get("n").asInt(), want.length);
            float[] got = GgufModel.decode(t, java.lang.foreign.MemorySegment.ofArray(blocks), want.length).toFloatArray();
            assertArrayEquals(want, got, t.name());
        }
    }

    private static Path withKeys(Path dir, String name, java.util.function.Consumer<GgufWriter> keys, String tensorType) throws IOException {
        GgufWriter w = new GgufWriter();
        keys.accept(w);
        GgmlType t = GgmlType.valueOf(tensorType);
        w.addTensor("token_embd.weight", new long[] {256, 2}, t, t.bytes(512), (o, d) -> {});
        Path f = dir.resolve(name);
        w.write(f);
        return f;
    }

    private static void llamaKeys(GgufWriter w, String skip) {
        w.putString("general.architecture", "llama");
        for (String k : List.of("context_length", "embedding_length", "block_count", "feed_forward_length", "attention.head_count")) {
            if (!k.equals(skip)) w.putUint32("llama." + k, k.equals("block_count") ? 0 : 256);
        }
        if (!"attention.layer_norm_rms_epsilon".equals(skip)) w.putFloat32("llama.attention.layer_norm_rms_epsilon", 1e-5);
    }

    @Test
    void modelLevelErrorsNameTheFileAndTheKeyOrTensor(@TempDir Path dir) throws IOException {
        Path noArch = withKeys(dir, "noarch.gguf", w -> w.putString("general.name", "x"), "F32");
        assertEquals(noArch + ": missing metadata key 'general.architecture' (the model's architecture)",
                assertThrows(GgufException.class, () -> ModelSource.open(noArch)).getMessage());
        Path gpt2 = withKeys(dir, "gpt2.gguf", w -> w.putString("general.architecture", "gpt2"), "F32");
        assertEquals(gpt2 + ": general.architecture is 'gpt2'; jllm reads GGUF models of architecture llama",
                assertThrows(GgufException.class, () -> ModelSource.open(gpt2)).getMessage());
        for (String k : List.of("embedding_length", "feed_forward_length", "attention.layer_norm_rms_epsilon", "context_length")) {
            Path f = withKeys(dir, k + ".gguf", w -> llamaKeys(w, k), "F32");
            GgufException e = assertThrows(GgufException.class, () -> ModelSource.open(f));
            assertTrue(e.getMessage().startsWith(f + ": missing metadata key 'llama." + k + "'"), e.getMessage());
        }
        Path iq = withKeys(dir, "iq.gguf", w -> llamaKeys(w, ""), "IQ2_XXS");
        assertEquals(iq + ": tensor 'token_embd.weight' has type IQ2_XXS, which jllm does not read (it reads [F32, F16, Q4_0, Q8_0, Q4_K, Q6_K, F64, BF16])",
                assertThrows(GgufException.class, () -> ModelSource.open(iq)).getMessage());
        Path notGguf = dir.resolve("model.bin");
        Files.writeString(notGguf, "not a model");
        assertTrue(assertThrows(RuntimeException.class, () -> ModelSource.open(notGguf)).getMessage().contains("is a file but not a GGUF file"));
    }
}
