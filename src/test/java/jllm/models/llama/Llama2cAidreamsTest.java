package jllm.models.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.generate.TextGenerator;
import jllm.io.llama2c.Llama2cConverter;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The acceptance check: Karpathy's aidreams260K (llama2.c format) converted to a Hugging
 * Face Llama directory and decoded greedily from BOS reproduces the 128 token ids an independent
 * implementation produced. Any slip in the q/k permutation (interleaved vs rotate-half RoPE),
 * RMSNorm, SwiGLU or the tied classifier changes these ids within a few steps.
 */
class Llama2cAidreamsTest {
    private static final Path DIR = Path.of("src/test/resources/llama2c");

    @Test
    void convertedModelReproducesTheReferenceGreedyIds(@TempDir Path tmp) throws Exception {
        JsonNode expected = new ObjectMapper().readTree(DIR.resolve("aidreams260K.expected.json").toFile());
        long[] want = new long[expected.get("greedy_token_ids").size()];
        for (int i = 0; i < want.length; i++) want[i] = expected.get("greedy_token_ids").get(i).asLong();

        Path hf = tmp.resolve("hf");
        Llama2cConverter.convert(DIR.resolve("aidreams260K.bin"), DIR.resolve("tok512.bin"), hf);
        LlamaForCausalLM model = LlamaForCausalLM.fromPretrained(hf);
        long start = expected.get("start_token").asLong();
        for (boolean cache : new boolean[] {true, false}) {
            Tensor out = TextGenerator.generate(model, Tensor.of(new long[] {start}, 1, 1),
                    TextGenerator.Options.of(want.length).temperature(0).useCache(cache));
            assertArrayEquals(want, out.narrow(1, 1, want.length).contiguous().toLongArray(), "KV cache " + cache);
        }
    }
}
