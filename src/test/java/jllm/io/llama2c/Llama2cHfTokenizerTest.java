package jllm.io.llama2c;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The converted tokenizer.json, run by Hugging Face's own tokenizers library (through DJL), encodes
 * like run.c and decodes like sentencepiece.
 */
class Llama2cHfTokenizerTest {

    @TempDir
    Path tmp;

    @Test
    void hfTokenizersAgreesWithRunC() throws IOException {
        Path out = tmp.resolve("hf");
        Llama2cConverter.convert(Llama2cFixtures.model(), Llama2cFixtures.tokenizer(), out);
        Llama2cTokenizer tok = Llama2cTokenizer.read(Llama2cFixtures.tokenizer());
        try (HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(out.resolve("tokenizer.json"),
                Map.of("addSpecialTokens", "true", "truncation", "false", "padding", "false"))) {
            for (String s : List.of("hi", "Echoes of vectors, a gentle hum of precision.", "  two  spaces",
                    "tab\tand\nnewline", "Hello, world! 你好 😀", "λμε é", "I adjust my surface. Contrast bloom")) {
                long[] hfIds = hf.encode(s).getIds();
                int[] want = tok.encode(s, true, false);
                assertArrayEquals(Arrays.stream(want).asLongStream().toArray(), hfIds, s);
                // sentencepiece's decode: specials skipped, the dummy-prefix space stripped
                assertEquals(s, hf.decode(hfIds, true), s);
            }
            JsonNode exp = new ObjectMapper().readTree(Llama2cFixtures.expected().toFile());
            long[] ids = new long[exp.get("greedy_token_ids").size()];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = exp.get("greedy_token_ids").get(i).asLong();
            }
            assertEquals(exp.get("greedy_text").asText().substring(1), hf.decode(ids, true));
        }
    }
}
