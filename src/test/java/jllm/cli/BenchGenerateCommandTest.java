package jllm.cli;

import static jllm.cli.ExamplesCommandTest.run;
import static org.junit.jupiter.api.Assertions.*;

import jllm.bench.DecodeBench;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;
import jllm.nn.Quantize;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import org.junit.jupiter.api.Test;

/** `jllm bench generate` end to end on the tiny case, and the bytes it counts per decoded token. */
class BenchGenerateCommandTest {

    @Test
    void reportsEveryWeightTypeAgainstTheBandwidth() {
        var r = run("bench", "generate", "--case", "tiny", "--dtype", "f32,q4_0", "--no-torch", "--repeats", "1", "--warmup", "0",
                "--tokens", "4", "--context", "8,40", "--prompt-len", "16");
        assertEquals(0, r.rc(), r.err());
        String out = r.out();
        assertTrue(out.startsWith("machine: FMA peak"), out);
        assertTrue(out.contains("jllm    tiny float32: weights ") && out.contains("jllm    tiny q4_0: weights "), out);
        assertTrue(out.contains("prefill 16 tokens") && out.contains("decode at context 8: ") && out.contains("decode at context 40: "), out);
        assertTrue(out.contains("% of the ") && out.contains("attention over the cache"), out);
    }

    @Test
    void badSettingsAreUsageErrors() {
        var r = run("bench", "generate", "--case", "tiny", "--dtype", "q5_k", "--no-torch");
        assertEquals(2, r.rc());
        assertTrue(r.err().contains("unknown weight type 'q5_k'"), r.err());
        assertEquals(2, run("bench", "generate", "--case", "tiny", "--tokens", "0").rc());
        assertEquals(2, run("bench", "generate", "--case", "nope").rc());
    }

    @Test
    void bytesPerTokenCountOneRowOfAnUntiedEmbedding() {
        LlamaForCausalLM m = new LlamaForCausalLM(LlamaConfig.of(512, 64, 128, 1, 4, 2, 64).withTieWordEmbeddings(false), new Generator(0));
        long all = DecodeBench.weightBytes(m);
        assertEquals(all - (512 * 64 - 64) * 4L, DecodeBench.weightBytesPerToken(m));
        Quantize.weights(m, DType.Q8_0);
        long q = DecodeBench.weightBytes(m);
        // every matrix at 34 bytes per 32 weights; the 64 + 64 + 64 norm weights stay F32
        long matrices = 512 * 64 * 2 + 4 * 64 * 64 + 3 * 64 * 128 - (2 * 64 * 32); // q,o 64x64; k,v 32x64 (2 KV heads of 16)
        assertEquals(matrices / 32 * 34 + 3 * 64 * 4, q);
        LlamaForCausalLM tied = new LlamaForCausalLM(LlamaConfig.of(512, 64, 128, 1, 4, 2, 64).withTieWordEmbeddings(true), new Generator(0));
        assertEquals(DecodeBench.weightBytes(tied), DecodeBench.weightBytesPerToken(tied), "a tied table is read whole by the head");
    }
}
