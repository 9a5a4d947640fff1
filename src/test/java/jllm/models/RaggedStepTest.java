package jllm.models;

import jllm.autograd.Grad;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The ragged step of continuous batching computes, for every sequence, what that sequence's own
 * cached forward computes: sequences at different positions, joining at different steps, one
 * prefilling while others decode.
 */
class RaggedStepTest {

    @Test
    void gptRaggedStepsEqualEachSequenceAlone() {
        check(new GPT(new GPTConfig(32, 40, 2, 2, 16), new Generator(3)));
    }

    @Test
    void llamaWithGroupedQueryAttentionRaggedStepsEqualEachSequenceAlone() {
        check(new LlamaForCausalLM(LlamaConfig.of(40, 32, 48, 2, 4, 2, 64), new Generator(4)));
    }

    /** Sequence i has prompt prompts[i]; it joins at step joins[i]; each then decodes token (7 * step + i) % V. */
    private static void check(CausalLM m) {
        m.eval();
        int[][] prompts = {{1, 2, 3}, {4, 5, 6, 7, 8}, {9}};
        int[] joins = {0, 0, 2};
        int steps = 5, v = m.vocabSize();
        List<List<float[]>> want = new ArrayList<>();
        for (int i = 0; i < prompts.length; i++) {
            List<float[]> rows = new ArrayList<>();
            KVCache c = m.newCache(1);
            Tensor idx = Tensor.of(prompts[i], 1, prompts[i].length).to(jllm.tensor.DType.I64);
            rows.add(m.forward(idx, c, true).reshape(-1).toFloatArray());
            for (int s = joins[i] + 1; s < steps; s++) {
                rows.add(m.forward(Tensor.of(new long[] {(7L * s + i) % v}, 1, 1), c, true).reshape(-1).toFloatArray());
            }
            want.add(rows);
        }
        KVCache[] caches = new KVCache[prompts.length];
        List<List<float[]>> got = new ArrayList<>();
        for (int i = 0; i < prompts.length; i++) {
            caches[i] = new KVCache(2, 1, m.geometry().kvHeads(), 1, m.geometry().headDim());
            got.add(new ArrayList<>());
        }
        for (int s = 0; s < steps; s++) {
            List<Integer> live = new ArrayList<>();
            List<Long> toks = new ArrayList<>();
            for (int i = 0; i < prompts.length; i++) {
                if (s < joins[i]) continue;
                live.add(i);
                if (s == joins[i]) for (int t : prompts[i]) toks.add((long) t);
                else toks.add((7L * s + i) % v);
            }
            KVCache[] cs = live.stream().map(i -> caches[i]).toArray(KVCache[]::new);
            int step = s;
            int[] counts = live.stream().mapToInt(i -> step == joins[i] ? prompts[i].length : 1).toArray();
            Tensor logits = m.forwardRagged(toks.stream().mapToLong(Long::longValue).toArray(), cs, counts);
            assertArrayEquals(new int[] {live.size(), v}, logits.shape());
            for (int r = 0; r < live.size(); r++) got.get(live.get(r)).add(logits.select(0, r).toFloatArray());
        }
        for (int i = 0; i < prompts.length; i++) {
            assertEquals(want.get(i).size(), got.get(i).size());
            for (int s = 0; s < want.get(i).size(); s++) assertArrayEquals(want.get(i).get(s), got.get(i).get(s), 1e-5f, "sequence " + i + " step " + s);
            assertTrue(caches[i].capacity() < m.blockSize(), "a cache grows with its sequence, not to the block size: " + caches[i].capacity());
        }
    }

    @Test
    void badRaggedStepsAreRefused() {
        GPT m = new GPT(new GPTConfig(8, 40, 1, 2, 16), new Generator(3));
        KVCache c = m.newCache(1, 1);
        var e = assertThrows(IllegalArgumentException.class, () -> m.forwardRagged(new long[] {1, 2}, new KVCache[] {c}, new int[] {1}));
        assertTrue(e.getMessage().contains("2 tokens for counts adding up to 1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> m.forwardRagged(new long[9], new KVCache[] {c}, new int[] {9}));
        assertTrue(e.getMessage().contains("at most 8"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> m.forwardRagged(new long[] {40}, new KVCache[] {c}, new int[] {1}));
        assertTrue(e.getMessage().contains("token id 40"), e.getMessage());
        assertEquals(0, c.length(), "a refused step changes nothing");
        try (var g = Grad.off()) {
            assertEquals(1, m.forwardRagged(new long[] {3}, new KVCache[] {c}, new int[] {1}).size(0));
        }
    }
}
