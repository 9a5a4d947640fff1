package jllm.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.util.List;

import org.junit.jupiter.api.Test;

import jllm.data.Datasets;

class CharTokenizerTest {

    @Test
    void tinyShakespeareVocabularyMatchesThePythonSeed() {
        String text = Datasets.tinyShakespeare();
        CharTokenizer tok = CharTokenizer.fromText(text);
        assertEquals(65, tok.vocabSize());
        List<String> chars = tok.chars();
        // sorted(list(set(text))) from the seed / nanoGPT prepare.py
        assertEquals("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", String.join("", chars));
        assertEquals("\n", chars.get(0));
        assertArrayEquals(new int[] {46, 47, 47, 1, 58, 46, 43, 56, 43}, tok.encode("hii there"));
        assertEquals("hii there", tok.decode(tok.encode("hii there")));
        String first = text.substring(0, 1000);
        assertEquals(first, tok.decode(tok.encode(first)));
        assertEquals("char", tok.name());
        assertNull(tok.eotToken());
        assertEquals("h", tok.decode(46));
    }

    @Test
    void unknownCharacterErrorNamesItAndItsIndex() {
        CharTokenizer tok = CharTokenizer.fromText("abc");
        var e = assertThrows(IllegalArgumentException.class, () -> tok.encode("abxc"));
        assertTrue(e.getMessage().contains("'x'"), e.getMessage());
        assertTrue(e.getMessage().contains("U+0078"), e.getMessage());
        assertTrue(e.getMessage().contains("index 2"), e.getMessage());
        var d = assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[] {0, 3}));
        assertTrue(d.getMessage().contains("token id 3 at index 1"), d.getMessage());
        assertThrows(IllegalArgumentException.class, () -> tok.decode(-1));
    }

    @Test
    void codePointsOutsideTheBmpAreSingleTokens() {
        String text = "a\uD83D\uDE00b\u00e9a"; // a 😀 b é a
        CharTokenizer tok = CharTokenizer.fromText(text);
        assertEquals(List.of("a", "b", "\u00e9", "\uD83D\uDE00"), tok.chars());
        int[] ids = tok.encode(text);
        assertArrayEquals(new int[] {0, 3, 1, 2, 0}, ids);
        assertEquals(text, tok.decode(ids));
        var e = assertThrows(IllegalArgumentException.class, () -> tok.encode("a\uD83D\uDE01"));
        assertTrue(e.getMessage().contains("U+1F601") && e.getMessage().contains("index 1"), e.getMessage());
    }

    @Test
    void jsonRoundTrip() {
        CharTokenizer tok = CharTokenizer.fromText("hello\nworld\u00e9\uD83D\uDE00\"\\");
        String json = tok.toJson();
        assertTrue(json.startsWith("{\"type\":\"char\",\"chars\":["), json);
        CharTokenizer back = CharTokenizer.fromJson(json);
        assertEquals(tok.chars(), back.chars());
        assertEquals(tok.chars(), ((CharTokenizer) Tokenizers.fromJson(Tokenizers.toJson(tok))).chars());
        // fromChars keeps the given order
        assertArrayEquals(new int[] {1, 0}, CharTokenizer.fromChars(List.of("b", "a")).encode("ab"));
    }

    @Test
    void badJsonIsRejectedClearly() {
        assertThrows(IllegalArgumentException.class, () -> CharTokenizer.fromJson("{\"type\":\"gpt2\",\"chars\":[\"a\"]}"));
        assertThrows(IllegalArgumentException.class, () -> CharTokenizer.fromJson("{\"type\":\"char\"}"));
        var e = assertThrows(IllegalArgumentException.class, () -> CharTokenizer.fromJson("{\"chars\":[\"a\",\"bc\"]}"));
        assertTrue(e.getMessage().contains("entry 1"), e.getMessage());
        var d = assertThrows(IllegalArgumentException.class, () -> CharTokenizer.fromJson("{\"chars\":[\"a\",\"a\"]}"));
        assertTrue(d.getMessage().contains("more than once"), d.getMessage());
        assertThrows(IllegalArgumentException.class, () -> CharTokenizer.fromJson("not json"));
        assertThrows(IllegalArgumentException.class, () -> CharTokenizer.fromText(""));
    }

    @Test
    void fromName() {
        assertEquals(3, Tokenizers.fromName("char", "abcab").vocabSize());
        assertSame(Gpt2Tokenizer.get(), Tokenizers.fromName("gpt2"));
        assertThrows(IllegalArgumentException.class, () -> Tokenizers.fromName("char"));
        var e = assertThrows(IllegalArgumentException.class, () -> Tokenizers.fromName("bpe", "x"));
        assertTrue(e.getMessage().contains("bpe"), e.getMessage());
    }
}
