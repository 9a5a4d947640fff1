package jllm.models.gpt;

import jllm.models.LanguageModel;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CharGPTTest {
    static final CharGPTConfig TINY = new CharGPTConfig(2, 16, 65, 32, 4, 2, 0.0);

    @Test
    void seed003PresetHasTheSeedsParameterCount() {
        CharGPTConfig c = CharGPTConfig.seed003();
        assertEquals(List.of(64, 256, 65, 384, 6, 6), List.of(c.batchSize(), c.blockSize(), c.vocabSize(), c.nEmbd(), c.nHead(), c.nLayer()));
        assertEquals(0.2, c.dropout());
        CharGPT m = new CharGPT(c, new Generator(0));
        // the seed prints "10.788929 M parameters"
        assertEquals(10_788_929L, m.numParameters());
    }

    @Test
    void stateDictNamesMatchTheSeed() {
        CharGPT m = new CharGPT(TINY, new Generator(0));
        Map<String, Tensor> sd = m.stateDict();
        List<String> first = List.copyOf(sd.keySet()).subList(0, 8);
        assertEquals(List.of("token_embedding_table.weight", "position_embedding_table.weight", "blocks.0.sa.heads.0.tril",
                "blocks.0.sa.heads.0.key.weight", "blocks.0.sa.heads.0.query.weight", "blocks.0.sa.heads.0.value.weight",
                "blocks.0.sa.heads.1.tril", "blocks.0.sa.heads.1.key.weight"), first);
        for (String k : List.of("blocks.1.sa.proj.weight", "blocks.1.sa.proj.bias", "blocks.0.ffwd.net.0.weight", "blocks.0.ffwd.net.2.bias",
                "blocks.1.ln1.weight", "blocks.1.ln2.bias", "ln_f.weight", "lm_head.weight", "lm_head.bias")) {
            assertTrue(sd.containsKey(k), k);
        }
        assertEquals(List.of(16, 16), java.util.Arrays.stream(sd.get("blocks.1.sa.heads.3.tril").shape()).boxed().toList());
        assertEquals(16 * 17 / 2.0, sd.get("blocks.1.sa.heads.3.tril").sum().item());
    }

    @Test
    void printsLikeTheSeed() {
        String s = new CharGPT(new CharGPTConfig(2, 16, 65, 32, 2, 1, 0.2), new Generator(0)).toString();
        String expected = """
                GPTLanguageModel(
                  (token_embedding_table): Embedding(65, 32)
                  (position_embedding_table): Embedding(16, 32)
                  (blocks): Sequential(
                    (0): Block(
                      (sa): MultiHeadAttention(
                        (heads): ModuleList(
                          (0-1): 2 x Head(
                            (key): Linear(in_features=32, out_features=16, bias=False)
                            (query): Linear(in_features=32, out_features=16, bias=False)
                            (value): Linear(in_features=32, out_features=16, bias=False)
                            (dropout): Dropout(p=0.2, inplace=False)
                          )
                        )
                        (proj): Linear(in_features=32, out_features=32, bias=True)
                        (dropout): Dropout(p=0.2, inplace=False)
                      )
                      (ffwd): FeedFoward(
                        (net): Sequential(
                          (0): Linear(in_features=32, out_features=128, bias=True)
                          (1): ReLU()
                          (2): Linear(in_features=128, out_features=32, bias=True)
                          (3): Dropout(p=0.2, inplace=False)
                        )
                      )
                      (ln1): LayerNorm((32,), eps=1e-05, elementwise_affine=True)
                      (ln2): LayerNorm((32,), eps=1e-05, elementwise_affine=True)
                    )
                  )
                  (ln_f): LayerNorm((32,), eps=1e-05, elementwise_affine=True)
                  (lm_head): Linear(in_features=32, out_features=65, bias=True)
                )""";
        assertEquals(expected, s);
    }

    @Test
    void forwardLossAndErrors() {
        CharGPT m = new CharGPT(TINY, new Generator(0));
        Generator g = new Generator(1);
        Tensor idx = Tensor.randint(0, 65, new int[] {3, 16}, g), tgt = Tensor.randint(0, 65, new int[] {3, 16}, g);
        LanguageModel.Output out = m.forward(idx, tgt);
        assertEquals(List.of(3, 16, 65), java.util.Arrays.stream(out.logits().shape()).boxed().toList());
        // the seed's published step 0 loss is 4.22 ~ ln(65) = 4.17
        assertEquals(Math.log(65), out.loss().item(), 0.1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.forward(Tensor.randint(0, 65, new int[] {1, 17}, g), null));
        assertEquals("Cannot forward sequence of length 17, block size is only 16", e.getMessage());
    }

    @Test
    void explicitDropoutPathMatchesTheFusedKernel() {
        // training with p > 0 takes the seed's explicit masked-softmax path; with a negligible p it must equal the fused kernel
        CharGPT fused = new CharGPT(TINY, new Generator(0));
        CharGPT explicit = new CharGPT(new CharGPTConfig(2, 16, 65, 32, 4, 2, 1e-12), new Generator(0));
        explicit.loadStateDict(fused.stateDict());
        Tensor idx = Tensor.randint(0, 65, new int[] {2, 10}, new Generator(4));
        fused.eval();
        explicit.train();
        assertTrue(explicit.forward(idx, null).logits().allclose(fused.forward(idx, null).logits(), 1e-5, 1e-6));
        // a real dropout rate changes the training output, not the eval output
        CharGPT dropped = new CharGPT(new CharGPTConfig(2, 16, 65, 32, 4, 2, 0.5), new Generator(0));
        dropped.loadStateDict(fused.stateDict());
        assertNotEquals(0.0, dropped.forward(idx, null).logits().sub(fused.forward(idx, null).logits()).abs().max().item());
        dropped.eval();
        assertTrue(dropped.forward(idx, null).logits().allclose(fused.forward(idx, null).logits(), 1e-5, 1e-6));
    }

    @Test
    void cachedDecodingGivesTheUncachedLogits() {
        CharGPT m = new CharGPT(TINY, new Generator(4));
        m.eval();
        Tensor idx = Tensor.randint(0, 65, new int[] {2, 12}, new Generator(5));
        Tensor full = m.forward(idx);
        jllm.models.KVCache cache = m.newCache(2);
        // a prompt of 5, then one position at a time
        Tensor first = m.forward(idx.narrow(1, 0, 5), cache, false);
        assertTrue(first.sub(full.narrow(1, 0, 5)).abs().max().item() < 1e-5);
        for (int t = 5; t < 12; t++) {
            Tensor step = m.forward(idx.narrow(1, t, 1), cache, true);
            assertTrue(step.sub(full.narrow(1, t, 1)).abs().max().item() < 1e-5, "position " + t);
        }
        assertEquals(12, cache.length());
        var e = assertThrows(IllegalArgumentException.class, () -> m.forward(idx.narrow(1, 0, 5), cache, false));
        assertTrue(e.getMessage().contains("block size is only 16"), e.getMessage());
    }
}
