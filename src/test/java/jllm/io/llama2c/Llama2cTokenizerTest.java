package jllm.io.llama2c;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cTokenizerTest {

    static Llama2cTokenizer tok;

    @TempDir
    Path tmp;

    @BeforeAll
    static void load() throws IOException {
        tok = Llama2cTokenizer.read(Llama2cFixtures.tokenizer(), 512);
    }

    @Test
    void readsTok512() {
        assertEquals(512, tok.vocabSize());
        assertEquals(10, tok.maxTokenLength());
        assertEquals("<unk>", new String(tok.piece(0), StandardCharsets.UTF_8));
        assertEquals("\n<s>\n", new String(tok.piece(1), StandardCharsets.UTF_8));
        assertEquals("<0x00>", new String(tok.piece(3), StandardCharsets.UTF_8));
        assertEquals("in", new String(tok.piece(259), StandardCharsets.UTF_8));
        assertEquals(-1f, tok.score(260));
        assertEquals("llama2c", tok.name());
        assertEquals(2, tok.eotToken());
    }

    @Test
    void encodesAsRunC() {
        // Traced by hand through run.c's encode with tok512's pieces and scores:
        // "hi": [" "=429, "h"=439, "i"=432]; " h"=309 (score -50) is the only pair in the vocabulary,
        // and " hi" is not, so [309, 432].
        assertArrayEquals(new int[] {309, 432}, tok.encode("hi"));
        assertArrayEquals(new int[] {1, 309, 432}, tok.encode("hi", true, false));
        assertArrayEquals(new int[] {1, 309, 432, 2}, tok.encode("hi", true, true));
        // "é" (C3 A9) is no piece: byte tokens 0xC3 + 3 and 0xA9 + 3 after the dummy prefix.
        assertArrayEquals(new int[] {429, 198, 172}, tok.encode("é"));
        // "λ" is piece 510, and " λ" is not.
        assertArrayEquals(new int[] {429, 510}, tok.encode("λ"));
        // No dummy prefix for empty text.
        assertArrayEquals(new int[0], tok.encode(""));
        assertArrayEquals(new int[] {1}, tok.encode("", true, false));
        // Cross-checked with an independent Python transcription of run.c's encode.
        assertArrayEquals(new int[] {429, 303, 262, 447}, tok.encode(" I am"));
        assertArrayEquals(new int[] {388, 355, 260, 275, 429, 339, 315, 374}, tok.encode("Echoes of vectors"));
        assertArrayEquals(new int[] {429, 429, 263, 449, 437, 429, 420, 435, 404}, tok.encode("  two  spaces"));
        assertArrayEquals(new int[] {429, 480, 375, 438, 437, 446, 272, 284, 438, 441, 36, 429, 231, 192, 163, 232, 168, 192,
                429, 243, 162, 155, 131}, tok.encode("Hello, world! 你好 😀"));
    }

    @Test
    void decodesTheReferenceGreedyText() throws IOException {
        JsonNode exp = new ObjectMapper().readTree(Llama2cFixtures.expected().toFile());
        int[] ids = new int[exp.get("greedy_token_ids").size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = exp.get("greedy_token_ids").get(i).asInt();
        }
        assertEquals(128, ids.length);
        assertEquals(exp.get("greedy_text").asText(), tok.decode(ids));
        // After BOS, run.c drops the first piece's leading space.
        int[] withBos = new int[ids.length + 1];
        withBos[0] = 1;
        System.arraycopy(ids, 0, withBos, 1, ids.length);
        assertEquals(exp.get("greedy_text").asText().substring(1), tok.decode(withBos));
    }

    @Test
    void roundTrips() {
        for (String s : List.of("hi", "Echoes of vectors, a gentle hum.", "  two  spaces ", "tab\tand\nnewline",
                "Hello, world! 你好 😀", "λμε", "é")) {
            assertEquals(s, tok.decode(tok.encode(s, true, false)), s);
            assertEquals(" " + s, tok.decode(tok.encode(s)), s);
        }
        // A lone byte token decodes to its raw byte.
        assertArrayEquals(new byte[] {(byte) 0xC3}, tok.decodeBytes(new int[] {198}));
        assertEquals("", tok.decode(new int[] {1, 2}));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {512}));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {-1}));
    }

    @Test
    void badFilesAreRefused() throws IOException {
        byte[] good = Files.readAllBytes(Llama2cFixtures.tokenizer());
        Path f = tmp.resolve("t.bin");
        Files.write(f, Arrays.copyOf(good, good.length - 1));
        IOException e = assertThrows(IOException.class, () -> Llama2cTokenizer.read(f));
        assertTrue(e.getMessage().startsWith(f + ": token 511 at byte "), e.getMessage());
        assertTrue(e.getMessage().contains("needs 2 bytes, 1 left"), e.getMessage());

        Files.write(f, good);
        e = assertThrows(IOException.class, () -> Llama2cTokenizer.read(f, 32000));
        assertTrue(e.getMessage().contains("holds 512 tokens but the model's vocab_size is 32000"), e.getMessage());

        Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(4).putFloat(0f).putInt(5).array());
        e = assertThrows(IOException.class, () -> Llama2cTokenizer.read(f));
        assertTrue(e.getMessage().contains("token 0 at byte 4: length 5 outside [0, max_token_length 4]"), e.getMessage());

        Files.write(f, new byte[2]);
        e = assertThrows(IOException.class, () -> Llama2cTokenizer.read(f));
        assertTrue(e.getMessage().contains("too short"), e.getMessage());
    }

    @Test
    void tokenizerJsonHasTheLlamaConverterShape() throws IOException {
        JsonNode j = new ObjectMapper().readTree(HfTokenizerFiles.tokenizerJson(tok));
        JsonNode added = j.get("added_tokens");
        assertEquals(3, added.size());
        String[] specials = {"<unk>", "<s>", "</s>"};
        for (int i = 0; i < 3; i++) {
            assertEquals(i, added.get(i).get("id").asInt());
            assertEquals(specials[i], added.get(i).get("content").asText());
            assertTrue(added.get(i).get("special").asBoolean());
            assertEquals(false, added.get(i).get("normalized").asBoolean());
        }
        assertEquals("Prepend", j.at("/normalizer/normalizers/0/type").asText());
        assertEquals("\u2581", j.at("/normalizer/normalizers/0/prepend").asText());
        assertEquals("Replace", j.at("/normalizer/normalizers/1/type").asText());
        assertEquals(" ", j.at("/normalizer/normalizers/1/pattern/String").asText());
        assertTrue(j.get("pre_tokenizer").isNull());
        assertEquals(List.of("Replace", "ByteFallback", "Fuse", "Strip"),
                List.of(j.at("/decoder/decoders/0/type").asText(), j.at("/decoder/decoders/1/type").asText(),
                        j.at("/decoder/decoders/2/type").asText(), j.at("/decoder/decoders/3/type").asText()));
        assertEquals(1, j.at("/decoder/decoders/3/start").asInt());
        assertEquals("TemplateProcessing", j.at("/post_processor/type").asText());
        assertEquals("<s>", j.at("/post_processor/single/0/SpecialToken/id").asText());
        assertEquals("A", j.at("/post_processor/single/1/Sequence/id").asText());
        assertEquals(1, j.at("/post_processor/special_tokens/<s>/ids/0").asInt());
        JsonNode model = j.get("model");
        assertEquals("BPE", model.get("type").asText());
        assertTrue(model.get("byte_fallback").asBoolean());
        assertTrue(model.get("fuse_unk").asBoolean());
        assertEquals("<unk>", model.get("unk_token").asText());
        assertEquals(512, model.get("vocab").size());
        assertEquals(429, model.get("vocab").get("\u2581").asInt());
        assertEquals(309, model.get("vocab").get("\u2581h").asInt());
        assertEquals(1, model.get("vocab").get("<s>").asInt());
        assertEquals(198, model.get("vocab").get("<0xC3>").asInt());
        // The best-scoring piece merges first; " h" comes from splitting "▁h".
        assertEquals("i n", model.get("merges").get(0).asText());
        assertEquals("e s", model.get("merges").get(1).asText());
        boolean found = false;
        for (JsonNode m : model.get("merges")) {
            found |= m.asText().equals("\u2581 h");
        }
        assertTrue(found);
    }

    @Test
    void mergesFollowScoresThenHalfIds() {
        List<String[]> merges = HfTokenizerFiles.merges(tok);
        // Every merged pair is a piece, and ranks never go against the scores.
        var vocab = HfTokenizerFiles.vocab(tok);
        float prev = Float.POSITIVE_INFINITY;
        for (String[] m : merges) {
            Integer id = vocab.get(m[0] + m[1]);
            assertTrue(id != null && vocab.containsKey(m[0]) && vocab.containsKey(m[1]), m[0] + " " + m[1]);
            float s = tok.score(id);
            assertTrue(s <= prev, m[0] + " " + m[1]);
            prev = s;
        }
    }
}
