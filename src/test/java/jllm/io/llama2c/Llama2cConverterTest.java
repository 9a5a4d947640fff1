package jllm.io.llama2c;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import jllm.io.SafeTensors;
import jllm.io.SafeTensorsFile;
import jllm.io.StDType;
import jllm.io.TensorEntry;
import jllm.io.llama2c.Llama2cCheckpoint.Part;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cConverterTest {

    @TempDir
    Path tmp;

    @Test
    void aidreamsBecomesAnHfLlamaDirectory() throws IOException {
        Path out = tmp.resolve("hf");
        Llama2cConverter.Summary s = Llama2cConverter.convert(Llama2cFixtures.model(), Llama2cFixtures.tokenizer(), out);
        assertEquals(38, s.tensorCount()); // embed + 4 layers * 9 + norm; tied, so no lm_head
        assertEquals(Files.size(Llama2cFixtures.model()) - 28 - 4L * 128 * 16, s.tensorBytes()); // minus header and RoPE tables
        assertTrue(s.withTokenizer());
        try (Stream<Path> files = Files.list(out)) {
            assertEquals(List.of("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"),
                    files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of("hf"), files.map(p -> p.getFileName().toString()).toList(), "no temporary directory left");
        }

        JsonNode cfg = new ObjectMapper().readTree(out.resolve("config.json").toFile());
        assertEquals("LlamaForCausalLM", cfg.get("architectures").get(0).asText());
        assertEquals("llama", cfg.get("model_type").asText());
        assertEquals(64, cfg.get("hidden_size").asInt());
        assertEquals(172, cfg.get("intermediate_size").asInt());
        assertEquals(4, cfg.get("num_hidden_layers").asInt());
        assertEquals(4, cfg.get("num_attention_heads").asInt());
        assertEquals(4, cfg.get("num_key_value_heads").asInt());
        assertEquals(128, cfg.get("max_position_embeddings").asInt());
        assertEquals(512, cfg.get("vocab_size").asInt());
        assertEquals(1e-5, cfg.get("rms_norm_eps").asDouble());
        assertEquals(10000.0, cfg.get("rope_theta").asDouble());
        assertTrue(cfg.get("tie_word_embeddings").asBoolean());
        assertEquals(1, cfg.get("bos_token_id").asInt());
        assertEquals(2, cfg.get("eos_token_id").asInt());
        assertEquals("silu", cfg.get("hidden_act").asText());
        assertEquals("float32", cfg.get("torch_dtype").asText());

        JsonNode tc = new ObjectMapper().readTree(out.resolve("tokenizer_config.json").toFile());
        assertEquals("LlamaTokenizerFast", tc.get("tokenizer_class").asText());
        assertTrue(tc.get("add_bos_token").asBoolean());
        assertFalse(tc.get("add_eos_token").asBoolean());
        assertEquals(128, tc.get("model_max_length").asInt());
        assertEquals("<s>", tc.get("bos_token").asText());

        List<String> want = new ArrayList<>(List.of("model.embed_tokens.weight"));
        for (int l = 0; l < 4; l++) {
            for (String k : List.of("input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                    "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")) {
                want.add("model.layers." + l + "." + k + ".weight");
            }
        }
        want.add("model.norm.weight");
        try (SafeTensorsFile st = SafeTensors.open(out.resolve("model.safetensors"));
             Llama2cCheckpoint ck = Llama2cCheckpoint.open(Llama2cFixtures.model())) {
            assertEquals(want.stream().sorted().toList(), st.names().stream().sorted().toList());
            assertEquals("pt", st.metadata().get("format"));
            for (TensorEntry e : st.entries()) {
                assertEquals(StDType.F32, e.dtype(), e.name());
            }
            assertArrayEquals(new long[] {512, 64}, st.get("model.embed_tokens.weight").shape());
            assertArrayEquals(new long[] {64, 64}, st.get("model.layers.3.self_attn.q_proj.weight").shape());
            assertArrayEquals(new long[] {172, 64}, st.get("model.layers.0.mlp.gate_proj.weight").shape());
            assertArrayEquals(new long[] {172, 64}, st.get("model.layers.0.mlp.up_proj.weight").shape());
            assertArrayEquals(new long[] {64, 172}, st.get("model.layers.0.mlp.down_proj.weight").shape());
            assertArrayEquals(new long[] {64}, st.get("model.norm.weight").shape());
            assertArrayEquals(Llama2cCheckpoint.floats(ck.layer(Part.W3, 2)),
                    st.get("model.layers.2.mlp.up_proj.weight").toFloatArray());
            assertArrayEquals(Llama2cCheckpoint.floats(ck.layer(Part.W2, 1)),
                    st.get("model.layers.1.mlp.down_proj.weight").toFloatArray());
            assertArrayEquals(Llama2cCheckpoint.floats(ck.layer(Part.RMS_FFN, 3)),
                    st.get("model.layers.3.post_attention_layernorm.weight").toFloatArray());
        }
    }

    @Test
    void qAndKRowsArePermutedPerHeadAsTransformersDoes() throws IOException {
        // head size 4: two q heads, one kv head, an untied classifier
        Path bin = Llama2cFixtures.writeV0(tmp.resolve("t.bin"), 8, 12, 2, 2, 1, 5, 3, false);
        Path out = tmp.resolve("hf");
        Llama2cConverter.convert(bin, null, out);
        assertFalse(Files.exists(out.resolve("tokenizer.json")));
        try (SafeTensorsFile st = SafeTensors.open(out.resolve("model.safetensors"));
             Llama2cCheckpoint ck = Llama2cCheckpoint.open(bin)) {
            assertTrue(st.contains("lm_head.weight"));
            assertArrayEquals(Llama2cCheckpoint.floats(ck.classifier()), st.get("lm_head.weight").toFloatArray());
            for (int l = 0; l < 2; l++) {
                float[] q = Llama2cCheckpoint.floats(ck.layer(Part.WQ, l));
                float[] k = Llama2cCheckpoint.floats(ck.layer(Part.WK, l));
                assertArrayEquals(viewTransposeReshape(q, 2, 4, 8), st.get("model.layers." + l + ".self_attn.q_proj.weight").toFloatArray());
                assertArrayEquals(viewTransposeReshape(k, 1, 4, 8), st.get("model.layers." + l + ".self_attn.k_proj.weight").toFloatArray());
                assertArrayEquals(Llama2cCheckpoint.floats(ck.layer(Part.WV, l)),
                        st.get("model.layers." + l + ".self_attn.v_proj.weight").toFloatArray());
            }
            // Hand-checked rows of head 0 (head size 4): HF rows 0,1,2,3 are llama2.c rows 0,2,1,3.
            float[] hq = st.get("model.layers.0.self_attn.q_proj.weight").toFloatArray();
            float q0 = Llama2cCheckpoint.floats(ck.layer(Part.WQ, 0))[0];
            assertEquals(q0 + 2 * 8, hq[8]);
            assertEquals(q0 + 1 * 8, hq[16]);
        }
    }

    /** transformers' permute: w.view(heads, hs/2, 2, in).transpose(1, 2).reshape(heads*hs, in), by index. */
    private static float[] viewTransposeReshape(float[] w, int heads, int hs, int in) {
        float[] out = new float[w.length];
        int n = 0;
        for (int h = 0; h < heads; h++) {
            for (int two = 0; two < 2; two++) {          // dim 1 after the transpose
                for (int i = 0; i < hs / 2; i++) {        // dim 2 after the transpose
                    int src = ((h * (hs / 2) + i) * 2 + two) * in;
                    System.arraycopy(w, src, out, n, in);
                    n += in;
                }
            }
        }
        return out;
    }

    @Test
    void rowMapsAreInversesAndRopeAgrees() {
        int hs = 8;
        for (int r = 0; r < 3 * hs; r++) {
            assertEquals(r, Llama2cConverter.llama2cRow(Llama2cConverter.hfRow(r, hs), hs));
            assertEquals(r, Llama2cConverter.hfRow(Llama2cConverter.llama2cRow(r, hs), hs));
        }
        // The point of the permutation: llama2.c's interleaved RoPE on q, then permuted, equals
        // HF's rotate-half RoPE on the permuted q.
        java.util.Random rnd = new java.util.Random(7);
        float[] q = new float[hs];
        for (int i = 0; i < hs; i++) {
            q[i] = rnd.nextFloat() - 0.5f;
        }
        int pos = 5;
        float[] l2c = q.clone();
        for (int i = 0; i < hs; i += 2) {
            double a = pos * Math.pow(10000.0, -(double) i / hs);
            float x = q[i], y = q[i + 1];
            l2c[i] = (float) (x * Math.cos(a) - y * Math.sin(a));
            l2c[i + 1] = (float) (x * Math.sin(a) + y * Math.cos(a));
        }
        float[] hq = new float[hs];
        for (int r = 0; r < hs; r++) {
            hq[r] = q[Llama2cConverter.llama2cRow(r, hs)];
        }
        float[] hf = new float[hs];
        for (int i = 0; i < hs / 2; i++) {
            double a = pos * Math.pow(10000.0, -(2.0 * i) / hs);
            hf[i] = (float) (hq[i] * Math.cos(a) - hq[i + hs / 2] * Math.sin(a));
            hf[i + hs / 2] = (float) (hq[i + hs / 2] * Math.cos(a) + hq[i] * Math.sin(a));
        }
        for (int r = 0; r < hs; r++) {
            assertEquals(l2c[r], hf[Llama2cConverter.hfRow(r, hs)], 1e-6f, "row " + r);
        }
    }

    @Test
    void existingOutputIsRefusedAndFailuresLeaveNothing() throws IOException {
        Path out = tmp.resolve("hf");
        Files.createDirectories(out);
        Files.writeString(out.resolve("keep.txt"), "x");
        assertThrows(FileAlreadyExistsException.class,
                () -> Llama2cConverter.convert(Llama2cFixtures.model(), null, out));
        assertEquals("x", Files.readString(out.resolve("keep.txt")));

        // A tokenizer with the wrong vocabulary size fails once the temporary directory exists.
        Path bin = Llama2cFixtures.writeV0(tmp.resolve("t.bin"), 8, 12, 1, 2, 2, 5, 3, true);
        Path out2 = tmp.resolve("hf2");
        IOException e = assertThrows(IOException.class,
                () -> Llama2cConverter.convert(bin, Llama2cFixtures.tokenizer(), out2));
        assertTrue(e.getMessage().contains("holds 512 tokens but the model's vocab_size is 5"), e.getMessage());
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of("hf", "t.bin"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }

        // An empty directory is fine to fill.
        Path empty = tmp.resolve("empty");
        Files.createDirectories(empty);
        Llama2cConverter.convert(bin, null, empty);
        assertTrue(Files.exists(empty.resolve("model.safetensors")));
    }
}
