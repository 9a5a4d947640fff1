package jllm.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Llama-2-style sentencepiece BPE with byte fallback: a tiny model trained and converted to
 * tokenizer.json by tools/tokenizers/make_llama2_tiny.py (as transformers' LlamaConverter does),
 * against ids and decodings that sentencepiece itself produced.
 */
class HfTokenizerSentencePieceTest {

    @TempDir
    static Path tmp;

    static HfTokenizer tok;
    static JsonNode ref;

    @BeforeAll
    static void load() throws Exception {
        tok = HfTokenizer.fromDirectory(HfTestFiles.resourceDir("llama2-tiny", tmp, "tokenizer.json", "tokenizer_config.json"));
        ref = HfTestFiles.JSON.readTree(HfTestFiles.resourceText("/tokenizers/llama2-tiny/reference.json"));
    }

    @AfterAll
    static void close() {
        tok.close();
    }

    private static int[] ints(JsonNode arr) {
        int[] out = new int[arr.size()];
        for (int i = 0; i < out.length; i++) out[i] = arr.get(i).asInt();
        return out;
    }

    @Test
    void metadata() {
        assertEquals(HfTokenizer.Family.SENTENCEPIECE_BPE, tok.family());
        assertEquals(ref.get("vocab_size").asInt(), tok.vocabSize());
        assertEquals(1, tok.bosTokenId());
        assertEquals(2, tok.eosTokenId());
        assertEquals(0, tok.tokenToId("<unk>"));
        assertEquals(4096, tok.modelMaxLength());
        assertEquals("hf-llama2", tok.name());
        assertEquals("<0x0A>", tok.idToToken(tok.encode("\n")[1])); // "▁" then the newline byte
    }

    @Test
    void idsAndDecodingMatchSentencepiece() {
        List<String> failures = new ArrayList<>();
        int n = 0;
        for (JsonNode c : ref.get("cases")) {
            n++;
            String text = c.get("text").asText();
            int[] want = ints(c.get("ids"));
            int[] got = tok.encode(text);
            if (!java.util.Arrays.equals(want, got)) {
                failures.add(HfTestFiles.JSON.valueToTree(text) + ": want " + java.util.Arrays.toString(want) + " got " + java.util.Arrays.toString(got));
                continue;
            }
            // add_bos_token true in tokenizer_config.json: BOS first, as LlamaTokenizer does
            int[] withBos = tok.encode(text, true);
            assertEquals(want.length + 1, withBos.length);
            assertEquals(1, withBos[0]);
            String decoded = tok.decode(want);
            if (!c.get("decoded").asText().equals(decoded)) {
                failures.add(HfTestFiles.JSON.valueToTree(text) + ": decode want " + c.get("decoded") + " got " + HfTestFiles.JSON.valueToTree(decoded));
            }
            assertEquals(decoded, tok.decode(withBos, true));
        }
        assertTrue(n > 300, "cases: " + n);
        assertTrue(failures.isEmpty(), failures.size() + " of " + n + " differ:\n" + String.join("\n", failures));
    }

    @Test
    void specialTokenTextIsOneId() {
        // As in transformers (sentencepiece itself would spell "<s>" out as ordinary pieces).
        int[] ids = tok.encode("<s>hi</s>");
        assertEquals(1, ids[0]);
        assertEquals(2, ids[ids.length - 1]);
        assertEquals(0, tok.encode("<unk>")[0]);
        assertEquals("hi", tok.decode(ids, true));
    }

    @Test
    void byteFallbackStreamsWholeCharacters() {
        String s = "Caf\u00e9 \u4f60\u597d \uD83D\uDE00! ROMEO:\nO, she doth teach the torches to burn bright!";
        StreamDecoder sd = tok.streamDecoder();
        StringBuilder out = new StringBuilder();
        for (int id : tok.encode(s, true)) {
            String piece = sd.push(id);
            assertFalse(piece.contains("\uFFFD"), piece);
            out.append(piece);
        }
        out.append(sd.flush());
        assertEquals(tok.decode(tok.encode(s, true)), out.toString());
    }

    @Test
    void chatTemplateFromListForm() {
        var msgs = List.of(ChatTemplate.Message.system("Be brief."), ChatTemplate.Message.user("Hi"),
                ChatTemplate.Message.assistant("Hello."), ChatTemplate.Message.user("Bye"));
        String text = tok.applyChatTemplate(msgs, true);
        assertEquals("<s>[INST] <<SYS>>\nBe brief.\n<</SYS>>\n\nHi [/INST] Hello. </s><s>[INST] Bye [/INST]", text);
        int[] ids = tok.encodeChat(msgs, true);
        assertEquals(1, ids[0]);
        assertNotEquals(1, ids[1]); // no second BOS: the template wrote it, encoding adds none
        var ex = assertThrows(ChatTemplate.TemplateException.class,
                () -> tok.applyChatTemplate(List.of(ChatTemplate.Message.assistant("first")), false));
        assertTrue(ex.getMessage().contains("roles must alternate"), ex.getMessage());
    }
}
