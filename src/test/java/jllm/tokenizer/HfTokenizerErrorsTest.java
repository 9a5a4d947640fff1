package jllm.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Bad tokenizer files fail with messages naming the file and what is wrong. */
class HfTokenizerErrorsTest {

    @TempDir
    Path tmp;

    @Test
    void unsupportedModelTypeNamesFileAndType() throws Exception {
        Path f = tmp.resolve("tokenizer.json");
        Files.writeString(f, """
                {"version":"1.0","truncation":null,"padding":null,"added_tokens":[],
                 "normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},
                 "pre_tokenizer":{"type":"BertPreTokenizer"},"post_processor":null,"decoder":{"type":"WordPiece","prefix":"##","cleanup":true},
                 "model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,
                          "vocab":{"[UNK]":0,"hello":1,"##s":2}}}
                """);
        var ex = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.fromFile(f));
        assertTrue(ex.getMessage().contains(f.toString()), ex.getMessage());
        assertTrue(ex.getMessage().contains("WordPiece"), ex.getMessage());
        Files.writeString(f, "{\"model\":{\"type\":\"Unigram\",\"vocab\":[[\"a\",0.0]]}}");
        ex = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.fromDirectory(tmp));
        assertTrue(ex.getMessage().contains("Unigram") && ex.getMessage().contains(f.toString()), ex.getMessage());
    }

    @Test
    void missingFileOrDirectory() {
        var ex = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.fromFile(tmp.resolve("nope.json")));
        assertTrue(ex.getMessage().contains("nope.json") && ex.getMessage().contains("does not exist"), ex.getMessage());
        ex = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.fromDirectory(tmp));
        assertTrue(ex.getMessage().contains("tokenizer.json") && ex.getMessage().contains("does not exist"), ex.getMessage());
        ex = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.fromDirectory(tmp.resolve("no-dir")));
        assertTrue(ex.getMessage().contains("no-dir"), ex.getMessage());
    }

    @Test
    void malformedJsonNamesTheFile() throws Exception {
        Path f = tmp.resolve("tokenizer.json");
        Files.writeString(f, "{\"model\": {\"type\": \"BPE\", ");
        var ex = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.fromFile(f));
        assertTrue(ex.getMessage().contains(f.toString()) && ex.getMessage().contains("not valid JSON"), ex.getMessage());

        // valid JSON but not a usable BPE tokenizer: the library's complaint, with the file name
        Files.writeString(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0}, \"merges\": [\"a b c d\"]}}");
        ex = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.fromFile(f));
        assertTrue(ex.getMessage().contains(f.toString()), ex.getMessage());

        // a broken tokenizer_config.json beside a good file is named too
        Files.writeString(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}}");
        Files.writeString(tmp.resolve("tokenizer_config.json"), "[1, 2");
        ex = assertThrows(IllegalArgumentException.class, () -> HfTokenizer.fromFile(f));
        assertTrue(ex.getMessage().contains("tokenizer_config.json"), ex.getMessage());
    }

    @Test
    void minimalBpeWithoutConfigWorks() throws Exception {
        Path f = tmp.resolve("tokenizer.json");
        Files.writeString(f, "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2}, \"merges\": [\"a b\"]}}");
        try (HfTokenizer t = HfTokenizer.fromFile(f)) {
            assertArrayEquals(new int[] {2, 0}, t.encode("aba"));
            assertEquals(3, t.vocabSize());
            assertNull(t.eosTokenId());
            assertFalse(t.hasChatTemplate());
            assertEquals(HfTokenizer.Family.OTHER_BPE, t.family());
        }
    }
}
