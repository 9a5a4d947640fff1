package jllm.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

class Gpt2TokenizerTest {

    private final Gpt2Tokenizer tok = Gpt2Tokenizer.get();

    @Test
    void knownEncoding() {
        // tiktoken.get_encoding("gpt2").encode("Hello, world. Is this-- a test?")
        int[] ids = tok.encode("Hello, world. Is this-- a test?");
        assertArrayEquals(new int[] {15496, 11, 995, 13, 1148, 428, 438, 257, 1332, 30}, ids);
        assertEquals("Hello, world. Is this-- a test?", tok.decode(ids));
        assertEquals(50257, tok.vocabSize());
        assertEquals(50256, tok.eotToken());
        assertEquals("gpt2", tok.name());
        assertEquals("Hello", tok.decode(15496));
    }

    @Test
    void roundTripsArbitraryText() {
        String s = "First Citizen:\nBefore we proceed any further, hear me speak.\n\n  tabs\tand unicode: caf\u00e9 \u4f60\u597d \uD83D\uDE00 <|endoftext|>";
        assertEquals(s, tok.decode(tok.encode(s)));
        assertArrayEquals(s.getBytes(StandardCharsets.UTF_8), tok.decodeBytes(tok.encode(s)));
    }

    @Test
    void specialTokensOnlyWhenAsked() {
        String s = "a<|endoftext|>b<|endoftext|>";
        int[] ordinary = tok.encode(s);
        assertFalse(Arrays.stream(ordinary).anyMatch(i -> i == 50256), Arrays.toString(ordinary));
        int[] special = tok.encodeWithSpecial(s);
        int[] a = tok.encode("a"), b = tok.encode("b");
        int[] expected = new int[a.length + b.length + 2];
        System.arraycopy(a, 0, expected, 0, a.length);
        expected[a.length] = 50256;
        System.arraycopy(b, 0, expected, a.length + 1, b.length);
        expected[expected.length - 1] = 50256;
        assertArrayEquals(expected, special);
        assertEquals(s, tok.decode(special));
        assertArrayEquals(new int[] {50256}, tok.encodeWithSpecial("<|endoftext|>"));
        assertArrayEquals(new int[0], tok.encode(""));
    }

    @Test
    void outOfRangeIdsAreRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {1, 50257}));
        assertTrue(e.getMessage().contains("50257") && e.getMessage().contains("index 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tok.decode(-1));
    }

    /** Checks JTokkit's vocabulary against OpenAI's encoder.json when the shared copy is present. */
    @Test
    void agreesWithOpenAiEncoderJson() throws IOException {
        Path file = Path.of("..", "shared", "data", "gpt2", "encoder.json");
        Assumptions.assumeTrue(Files.isRegularFile(file), "no " + file.toAbsolutePath());
        JsonNode enc = new ObjectMapper().readTree(file.toFile());
        assertEquals(50257, enc.size());
        Map<Integer, String> byId = new HashMap<>();
        enc.fields().forEachRemaining(e -> byId.put(e.getValue().asInt(), e.getKey()));
        int[] unicodeToByte = byteDecoder();

        List<Integer> ids = new ArrayList<>();
        for (int i = 0; i < 200; i++) ids.add((int) ((i * 251L + 7) % 50256));
        ids.addAll(List.of(0, 255, 256, 50255));
        for (int id : ids) {
            String key = byId.get(id);
            assertNotNull(key, "encoder.json has no id " + id);
            byte[] expected = new byte[key.length()];
            for (int k = 0; k < key.length(); k++) expected[k] = (byte) unicodeToByte[key.charAt(k)];
            assertArrayEquals(expected, tok.decodeBytes(new int[] {id}), "token " + id + " (" + key + ")");
        }
        assertEquals(50256, enc.get("<|endoftext|>").asInt());
        assertEquals("<|endoftext|>", tok.decode(50256));
    }

    /** Inverse of GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to 256+n. */
    private static int[] byteDecoder() {
        int[] table = new int[512];
        Arrays.fill(table, -1);
        boolean[] printable = new boolean[256];
        for (int b = '!'; b <= '~'; b++) printable[b] = true;
        for (int b = 0xA1; b <= 0xAC; b++) printable[b] = true;
        for (int b = 0xAE; b <= 0xFF; b++) printable[b] = true;
        int n = 0;
        for (int b = 0; b < 256; b++) table[printable[b] ? b : 256 + n++] = b;
        return table;
    }
}
