package jllm.tokenizer;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;

import jllm.data.Datasets;

/**
 * Byte-level BPE parity: our GPT-2 tokenizer.json (built by tools/tokenizers/make_gpt2_tokenizer_json.py)
 * and a Llama-3-shaped tokenizer.json built from cl100k ranks, run by the HF library, against
 * tiktoken's algorithm as JTokkit implements it.
 */
class HfTokenizerByteLevelTest {

    @TempDir
    static Path tmp;

    static HfTokenizer gpt2;
    static HfTokenizer llama3;
    static final Encoding CL100K = Encodings.newDefaultEncodingRegistry().getEncoding(EncodingType.CL100K_BASE);

    @BeforeAll
    static void load() throws Exception {
        gpt2 = HfTokenizer.fromDirectory(HfTestFiles.resourceDir("gpt2", tmp, "tokenizer.json.gz", "tokenizer_config.json"));
        llama3 = HfTokenizer.fromDirectory(HfTestFiles.llama3Dir(tmp));
    }

    @AfterAll
    static void close() {
        gpt2.close();
        llama3.close();
    }

    private static List<String> shakespeareAndTricky() {
        List<String> texts = new ArrayList<>(HfTestFiles.TRICKY);
        texts.add(Datasets.tinyShakespeare());
        return texts;
    }

    @Test
    void gpt2MatchesTiktokenGpt2() {
        assertEquals(HfTokenizer.Family.GPT2_BYTE_LEVEL, gpt2.family());
        assertEquals(50257, gpt2.vocabSize());
        assertEquals(50256, gpt2.eosTokenId());
        assertEquals(50256, gpt2.eotToken());
        assertEquals(1024, gpt2.modelMaxLength());
        for (String s : shakespeareAndTricky()) {
            int[] want = Gpt2Tokenizer.get().encode(s);
            assertArrayEquals(want, gpt2.encode(s), () -> "text " + HfTestFiles.JSON.valueToTree(s.length() > 80 ? s.substring(0, 80) : s));
            // GPT-2 adds nothing even when asked (its post-processor is ByteLevel only, add_bos_token false).
            assertArrayEquals(want, gpt2.encode(s, true));
            assertEquals(s, gpt2.decode(want));
        }
        assertArrayEquals(new int[] {15496, 11, 995, 13, 1148, 428, 438, 257, 1332, 30}, gpt2.encode("Hello, world. Is this-- a test?"));
    }

    @Test
    void gpt2EndOfTextIsOneSpecialToken() {
        String s = "one<|endoftext|>two <|endoftext|> three";
        assertArrayEquals(Gpt2Tokenizer.get().encodeWithSpecial(s), gpt2.encode(s));
        assertEquals(s, gpt2.decode(gpt2.encode(s)));
        assertEquals("onetwo  three", gpt2.decode(gpt2.encode(s), true));
        assertEquals(50256, gpt2.tokenToId("<|endoftext|>"));
        assertEquals(262, gpt2.tokenToId("\u0120the")); // "Ġthe"
        assertEquals("\u0120the", gpt2.idToToken(262));
        assertEquals(-1, gpt2.tokenToId("no such token"));
    }

    @Test
    void llama3MatchesCl100k() {
        assertEquals(HfTokenizer.Family.TIKTOKEN_BYTE_LEVEL, llama3.family());
        assertEquals(100256 + 5, llama3.vocabSize());
        for (String s : shakespeareAndTricky()) {
            int[] want = CL100K.encodeOrdinary(s).toArray();
            assertArrayEquals(want, llama3.encode(s), () -> "text " + HfTestFiles.JSON.valueToTree(s.length() > 80 ? s.substring(0, 80) : s));
            assertEquals(s, llama3.decode(want));
        }
    }

    @Test
    void llama3SpecialsAreSingleIdsAndBosIsAddedWhenAsked() {
        int bot = llama3.tokenToId("<|begin_of_text|>"), eot = llama3.tokenToId("<|eot_id|>");
        assertEquals(100256, bot);
        assertEquals(100260, eot);
        assertEquals(bot, llama3.bosTokenId());
        assertEquals(eot, llama3.eosTokenId()); // tokenizer_config gives it in AddedToken form
        assertEquals(eot, llama3.eotToken());

        int[] hello = CL100K.encodeOrdinary("Hello world").toArray();
        int[] withBos = llama3.encode("Hello world", true);
        assertEquals(bot, withBos[0]);
        assertArrayEquals(hello, java.util.Arrays.copyOfRange(withBos, 1, withBos.length));
        assertArrayEquals(withBos, llama3.encodePrompt("Hello world"));
        assertArrayEquals(hello, llama3.encode("Hello world"));

        String s = "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>";
        int[] ids = llama3.encode(s);
        assertEquals(llama3.tokenToId("<|start_header_id|>"), ids[0]);
        assertEquals(eot, ids[ids.length - 1]);
        assertEquals(s, llama3.decode(ids));
        assertEquals("user\n\nHi", llama3.decode(ids, true));
    }

    @Test
    void chatEncodingHasExactlyOneBos() {
        var msgs = List.of(ChatTemplate.Message.system("Be brief."), ChatTemplate.Message.user("Hi there"));
        String text = llama3.applyChatTemplate(msgs, true);
        assertEquals("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", text);
        int[] ids = llama3.encodeChat(msgs, true);
        assertEquals(llama3.bosTokenId(), ids[0]);
        assertNotEquals(llama3.bosTokenId(), ids[1]);
        assertEquals(text, llama3.decode(ids));
        // gpt2 config has no template
        var ex = assertThrows(IllegalStateException.class, () -> gpt2.applyChatTemplate(msgs, true));
        assertTrue(ex.getMessage().contains("no chat template"), ex.getMessage());
    }

    @Test
    void streamingDecodeEmitsOnlyWholeCharacters() {
        String s = "Caf\u00e9 \u4f60\u597d\uD83D\uDE00\uD83D\uDC68\u200D\uD83D\uDC69 ok\n" + Datasets.tinyShakespeare().substring(0, 2000);
        for (HfTokenizer t : List.of(gpt2, llama3)) {
            StreamDecoder sd = t.streamDecoder();
            StringBuilder out = new StringBuilder();
            for (int id : t.encode(s)) {
                String piece = sd.push(id);
                assertFalse(piece.contains("\uFFFD"), "partial character emitted: " + piece);
                out.append(piece);
            }
            out.append(sd.flush());
            assertEquals(s, out.toString());
            // next(idsSoFar) form
            StreamDecoder sd2 = t.streamDecoder();
            int[] ids = t.encode(s);
            String a = sd2.next(java.util.Arrays.copyOf(ids, ids.length / 2));
            String b = sd2.next(ids);
            assertEquals(s, a + b + sd2.flush());
        }
    }

    @Test
    void outOfRangeIdIsRejected() {
        var ex = assertThrows(IllegalArgumentException.class, () -> gpt2.decode(new int[] {1, 50257}));
        assertTrue(ex.getMessage().contains("50257") && ex.getMessage().contains("index 1"), ex.getMessage());
    }
}
