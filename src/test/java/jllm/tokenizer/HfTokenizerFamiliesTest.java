package jllm.tokenizer;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.GptBytePairEncodingParams;
import jllm.data.Datasets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.text.Normalizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The tokenizers of the families the model registry adds, shaped as their tokenizer.json files
 * are: Qwen's byte-level BPE (NFC, its Split regex with single digits, no bos) checked against the
 * tiktoken algorithm with the same regex (JTokkit), and Gemma's sentencepiece BPE (spaces to "▁"
 * without a prepended one, byte fallback, bos from the post-processor) checked against the Llama 2
 * tokenizer it differs from only in the prefix space.
 */
class HfTokenizerFamiliesTest {
    @TempDir
    static Path tmp;

    static HfTokenizer qwen, gemma, llama2;
    static Encoding qwenReference;

    @BeforeAll
    static void load() throws Exception {
        qwen = HfTokenizer.fromDirectory(HfTestFiles.qwen2Dir(tmp));
        List<byte[]> ranks = HfTestFiles.cl100kRanks();
        Map<byte[], Integer> encoder = new HashMap<>();
        for (int r = 0; r < ranks.size(); r++) encoder.put(ranks.get(r), r);
        Map<String, Integer> specials = new HashMap<>();
        for (int i = 0; i < HfTestFiles.QWEN2_SPECIALS.length; i++) specials.put(HfTestFiles.QWEN2_SPECIALS[i], ranks.size() + i);
        var registry = Encodings.newDefaultEncodingRegistry();
        registry.registerGptBytePairEncoding(new GptBytePairEncodingParams("qwen2-style", Pattern.compile(HfTestFiles.QWEN2_REGEX), encoder, specials));
        qwenReference = registry.getEncoding("qwen2-style").orElseThrow();

        Path l2 = HfTestFiles.resourceDir("llama2-tiny", tmp.resolve("l2"), "tokenizer.json", "tokenizer_config.json");
        llama2 = HfTokenizer.fromDirectory(l2);
        gemma = HfTokenizer.fromDirectory(gemmaDir(l2, tmp.resolve("gemma")));
    }

    @AfterAll
    static void close() {
        qwen.close();
        gemma.close();
        llama2.close();
    }

    /** Llama 2's tokenizer.json reshaped as Gemma's: Replace(" ", "▁") only, no Strip in the decoder, turn markers added. */
    static Path gemmaDir(Path llama2Dir, Path dir) throws Exception {
        ObjectNode tok = (ObjectNode) HfTestFiles.JSON.readTree(llama2Dir.resolve("tokenizer.json").toFile());
        ObjectNode norm = tok.putObject("normalizer");
        norm.put("type", "Replace").putObject("pattern").put("String", " ");
        norm.put("content", "\u2581");
        ArrayNode decoders = (ArrayNode) tok.get("decoder").get("decoders");
        for (int i = decoders.size() - 1; i >= 0; i--) if (decoders.get(i).path("type").asText().equals("Strip")) decoders.remove(i);
        int next = tok.get("model").get("vocab").size();
        for (String t : List.of("<start_of_turn>", "<end_of_turn>")) {
            ((ArrayNode) tok.get("added_tokens")).addObject().put("id", next).put("content", t).put("single_word", false).put("lstrip", false)
                    .put("rstrip", false).put("normalized", false).put("special", true);
            ((ObjectNode) tok.get("model").get("vocab")).put(t, next++);
        }
        Files.createDirectories(dir);
        HfTestFiles.JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tok);
        ObjectNode config = HfTestFiles.JSON.createObjectNode();
        config.put("add_bos_token", true).put("add_eos_token", false).put("bos_token", "<s>").put("eos_token", "</s>");
        config.put("chat_template", HfTestFiles.resourceText("/tokenizers/chat/gemma_style.jinja"));
        HfTestFiles.JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
        return dir;
    }

    private static List<String> texts() {
        List<String> t = new ArrayList<>(HfTestFiles.TRICKY);
        t.add("Price: 12345 dollars, 3.14159 and 2024-12-05; caf\u0065\u0301 vs caf\u00e9");
        t.add(Datasets.tinyShakespeare().substring(0, 20_000));
        return t;
    }

    @Test
    void qwenByteLevelBpeMatchesTiktokenWithItsRegex() {
        assertEquals(HfTokenizer.Family.TIKTOKEN_BYTE_LEVEL, qwen.family());
        for (String text : texts()) {
            int[] want = qwenReference.encodeOrdinary(Normalizer.normalize(text, Normalizer.Form.NFC)).toArray();
            assertArrayEquals(want, qwen.encode(text), () -> "encoding of " + text.substring(0, Math.min(40, text.length())));
            assertEquals(Normalizer.normalize(text, Normalizer.Form.NFC), qwen.decode(qwen.encode(text)));
        }
        // Qwen's regex: one token per digit
        assertEquals(5, qwen.encode("12345").length);
        // no bos: a prompt is its text; generation stops at <|im_end|>
        assertNull(qwen.bosTokenId());
        assertNull(qwen.prependedBos());
        assertArrayEquals(qwen.encode("Hello"), qwen.encodePrompt("Hello"));
        int imStart = qwen.encode("<|im_start|>")[0], imEnd = qwen.encode("<|im_end|>")[0];
        assertEquals(imEnd, (int) qwen.eosTokenId());
        int[] chat = qwen.encodeChat(List.of(ChatTemplate.Message.user("Hi")), true);
        assertEquals(imStart, chat[0]);
        assertEquals(2, Arrays.stream(chat).filter(i -> i == imStart).count(), "user turn and generation prompt");
    }

    @Test
    void gemmaSentencePieceHasNoPrefixSpaceAndAddsBos() {
        assertEquals(HfTokenizer.Family.SENTENCEPIECE_BPE, gemma.family());
        for (String text : texts()) {
            if (text.isEmpty()) continue; // Llama 2 prepends nothing to nothing
            // Llama 2 prepends "▁"; Gemma only replaces spaces: the same pieces once the space is written out
            assertArrayEquals(llama2.encode(text), gemma.encode(" " + text), () -> "encoding of " + text.substring(0, Math.min(40, text.length())));
            assertEquals(text, gemma.decode(gemma.encode(text)), "Gemma's decoder keeps a leading space and strips nothing");
        }
        int bos = gemma.bosTokenId();
        assertEquals(bos, gemma.prependedBos());
        int[] prompt = gemma.encodePrompt("Hello");
        assertEquals(bos, prompt[0]);
        assertArrayEquals(gemma.encode("Hello"), Arrays.copyOfRange(prompt, 1, prompt.length));
        int[] chat = gemma.encodeChat(List.of(ChatTemplate.Message.user("Hi")), true);
        int turn = gemma.encode("<start_of_turn>")[0];
        assertEquals(1, gemma.encode("<start_of_turn>").length);
        assertEquals(bos, chat[0]);
        assertEquals(turn, chat[1]);
    }
}
