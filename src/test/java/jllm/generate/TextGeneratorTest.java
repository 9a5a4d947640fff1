package jllm.generate;

import jllm.models.KVCache;
import jllm.models.gpt.CharGPT;
import jllm.models.gpt.CharGPTConfig;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TextGeneratorTest {
    static final GPTConfig TINY = new GPTConfig(16, 64, 2, 4, 32);

    /** A fresh model is nearly uniform; a larger embedding scale makes greedy choices clear-cut (no near-ties). */
    static GPT tinyGpt() { return tinyGpt(10); }

    static GPT tinyGpt(double embeddingScale) {
        GPT g = new GPT(TINY, new Generator(0));
        try (var off = jllm.autograd.Grad.off()) {
            g.wte.weight().mul_(embeddingScale);
        }
        return g;
    }

    static Tensor prompt(int b, int t, long seed) { return Tensor.randint(0, 64, new int[] {b, t}, new Generator(seed)); }

    static List<Integer> shape(Tensor t) { return Arrays.stream(t.shape()).boxed().toList(); }

    // ------------------------------------------------------------------ KV cache

    @Test
    void cachedForwardEqualsUncachedLogits() {
        GPT g = tinyGpt();
        g.eval();
        Tensor idx = prompt(2, 14, 1);
        Tensor full = g.forward(idx);
        KVCache cache = g.newCache(2);
        // prefill 5, then a chunk of 4 (explicit offset mask), then single tokens
        List<Tensor> parts = new ArrayList<>();
        parts.add(g.forward(idx.narrow(1, 0, 5), cache, false));
        assertEquals(5, cache.length());
        parts.add(g.forward(idx.narrow(1, 5, 4), cache, false));
        for (int p = 9; p < 14; p++) parts.add(g.forward(idx.narrow(1, p, 1), cache, false));
        assertEquals(14, cache.length());
        Tensor cached = Tensor.cat(parts, 1);
        assertEquals(shape(full), shape(cached));
        assertTrue(cached.allclose(full, 1e-4, 1e-5), "max diff " + cached.sub(full).abs().max().item());
        // lastPositionOnly returns [B, 1, V] of the last new token
        KVCache c2 = g.newCache(2);
        Tensor last = g.forward(idx.narrow(1, 0, 9), c2, true);
        assertEquals(List.of(2, 1, 64), shape(last));
        assertTrue(last.allclose(full.narrow(1, 8, 1), 1e-4, 1e-5));
    }

    @Test
    void cacheLimitsAndErrors() {
        GPT g = tinyGpt();
        KVCache cache = g.newCache(1);
        assertEquals(16, cache.capacity());
        g.forward(prompt(1, 16, 2), cache, true);
        assertEquals(0, cache.remaining());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> g.forward(prompt(1, 1, 3), cache, true));
        assertTrue(e.getMessage().contains("block size is only 16"), e.getMessage());
        cache.reset();
        assertEquals(0, cache.length());
        g.forward(prompt(1, 3, 3), cache, true);
        assertThrows(IllegalArgumentException.class, () -> g.forward(prompt(2, 1, 3), cache, true), "batch mismatch");
        assertThrows(IllegalArgumentException.class, () -> g.forward(prompt(1, 1, 3), null, true));
        assertThrows(IllegalStateException.class, () -> cache.update(0, Tensor.zeros(1, 4, 14, 8), Tensor.zeros(1, 4, 14, 8)));
    }

    @Test
    void offsetMaskIsCausalFromThePastLength() {
        // KVCache.attention with past > 0 and several queries equals the last rows of full causal attention
        Generator gen = new Generator(11);
        Tensor q = Tensor.randn(new int[] {1, 2, 7, 8}, gen), k = Tensor.randn(new int[] {1, 2, 7, 8}, gen), v = Tensor.randn(new int[] {1, 2, 7, 8}, gen);
        Tensor full = jllm.nn.functional.F.scaledDotProductAttention(q, k, v, true);
        for (int past : new int[] {0, 1, 4, 6}) {
            Tensor part = KVCache.attention(q.narrow(2, past, 7 - past), k, v, past, false);
            assertTrue(part.allclose(full.narrow(2, past, 7 - past), 1e-5, 1e-6), "past " + past);
        }
    }

    // ------------------------------------------------------------------ generation

    @Test
    void cachedAndUncachedGenerationAgreePastTheBlockSize() {
        GPT g = tinyGpt();
        Tensor idx = prompt(2, 5, 4);
        int n = 30; // 5 + 30 > block 16: the context is cropped and the cache rebuilt
        Tensor greedyCached = TextGenerator.generate(g, idx, n, 0.0, null, null, 0, true);
        Tensor greedyPlain = TextGenerator.generate(g, idx, n, 0.0, null, null, 0, false);
        assertEquals(List.of(2, 35), shape(greedyCached));
        assertArrayEquals(greedyPlain.toLongArray(), greedyCached.toLongArray());
        assertTrue(greedyCached.narrow(1, 0, 5).equal(idx), "prompt kept");
        boolean sampledDiffersFromGreedy = false;
        for (long seed : new long[] {1, 2, 3}) {
            Tensor a = TextGenerator.generate(g, idx, n, 1.0, 20, 0.95, seed, true);
            Tensor b = TextGenerator.generate(g, idx, n, 1.0, 20, 0.95, seed, false);
            assertArrayEquals(b.toLongArray(), a.toLongArray(), "seed " + seed);
            sampledDiffersFromGreedy |= !a.equal(greedyCached);
        }
        assertTrue(sampledDiffersFromGreedy, "the sampled runs must actually sample");
    }

    @Test
    void promptLongerThanTheBlockIsCropped() {
        GPT g = tinyGpt();
        Tensor idx = prompt(1, 20, 5);
        Tensor a = TextGenerator.generate(g, idx, 4, 0.0, null, null, 0, true);
        Tensor b = TextGenerator.generate(g, idx, 4, 0.0, null, null, 0, false);
        assertEquals(List.of(1, 24), shape(a));
        assertArrayEquals(b.toLongArray(), a.toLongArray());
        // the first new token is the greedy choice over the last 16 prompt tokens
        long first = g.forward(idx.narrow(1, 4, 16)).select(1, 15).argmax(-1, false).toLongArray()[0];
        assertEquals(first, a.toLongArray()[20]);
    }

    @Test
    void greedyEqualsTopKOne() {
        GPT g = tinyGpt();
        Tensor idx = prompt(3, 4, 6);
        Tensor greedy = TextGenerator.generate(g, idx, 10, 0.0, null, null, 0, true);
        Tensor k1 = TextGenerator.generate(g, idx, 10, 1.0, 1, null, 99, true);
        Tensor k1hot = TextGenerator.generate(g, idx, 10, 0.8, 1, 0.9, 7, false);
        assertArrayEquals(greedy.toLongArray(), k1.toLongArray());
        assertArrayEquals(greedy.toLongArray(), k1hot.toLongArray());
    }

    @Test
    void sameSeedSameTextDifferentSeedDifferentText() {
        GPT g = tinyGpt(1);
        Tensor idx = prompt(2, 3, 7);
        Tensor a = TextGenerator.generate(g, idx, 20, 1.0, null, null, 1337, true);
        Tensor b = TextGenerator.generate(g, idx, 20, 1.0, null, null, 1337, true);
        Tensor c = TextGenerator.generate(g, idx, 20, 1.0, null, null, 1338, true);
        assertArrayEquals(a.toLongArray(), b.toLongArray());
        assertFalse(Arrays.equals(a.toLongArray(), c.toLongArray()));
    }

    @Test
    void numReturnSequencesStreamingAndStopToken() {
        GPT g = tinyGpt();
        Tensor idx = prompt(2, 3, 8);
        List<long[]> events = new ArrayList<>();
        TextGenerator.Options o = TextGenerator.Options.of(6).seed(5).numReturnSequences(3)
                .listener((row, token) -> events.add(new long[] {row, token}));
        Tensor out = TextGenerator.generate(g, idx, o);
        assertEquals(List.of(6, 9), shape(out));
        long[] ids = out.toLongArray();
        for (int r = 0; r < 6; r++) {
            assertArrayEquals(idx.select(0, r / 3).toLongArray(), out.select(0, r).narrow(0, 0, 3).toLongArray(), "row " + r + " prompt");
        }
        assertEquals(36, events.size());
        for (int i = 0; i < events.size(); i++) {
            int row = (int) events.get(i)[0], step = i / 6;
            assertEquals(i % 6, row);
            assertEquals(ids[row * 9 + 3 + step], events.get(i)[1]);
        }
        // stop token: take a token greedy decoding emits in row 0, rows stop at it and pad with it
        Tensor greedy = TextGenerator.generate(g, idx, 8, 0.0, null, null, 0, true);
        long stop = greedy.toLongArray()[3 + 2];
        List<long[]> ev = new ArrayList<>();
        Tensor stopped = TextGenerator.generate(g, idx, TextGenerator.Options.of(8).temperature(0).stopToken(stop)
                .listener((row, token) -> ev.add(new long[] {row, token})));
        long[] s = stopped.toLongArray();
        int len = stopped.size(1);
        assertTrue(len <= 11);
        for (int r = 0; r < 2; r++) {
            boolean seen = false;
            for (int j = 3; j < len; j++) {
                if (seen) assertEquals(stop, s[r * len + j], "padding after the stop token");
                else assertEquals(greedy.toLongArray()[r * 11 + j], s[r * len + j]);
                seen |= s[r * len + j] == stop;
            }
        }
        int firstStop = 0;
        while (greedy.toLongArray()[3 + firstStop] != stop) firstStop++;
        long row0Events = ev.stream().filter(e -> e[0] == 0).count();
        assertEquals(firstStop + 1, row0Events, "row 0 streams up to and including its stop token");
    }

    @Test
    void worksWithAnyLanguageModel() {
        CharGPT m = new CharGPT(new CharGPTConfig(1, 8, 65, 16, 2, 1, 0.2), new Generator(0));
        Tensor idx = Tensor.zeros(new int[] {1, 1}, DType.I64, Device.CPU);
        Tensor a = TextGenerator.generate(m, idx, 20, 1.0, null, null, 3, true);
        Tensor b = TextGenerator.generate(m, idx, 20, 1.0, null, null, 3, false);
        assertEquals(List.of(1, 21), shape(a));
        assertArrayEquals(a.toLongArray(), b.toLongArray());
        assertTrue(m.isTraining(), "training mode restored");
        for (long t : a.toLongArray()) assertTrue(t >= 0 && t < 65);
        // a 1-D prompt is one row
        assertEquals(List.of(1, 4), shape(TextGenerator.generate(m, Tensor.of(new long[] {1, 2}, 2), 2, 0.0, null, null, 0, true)));
    }

    @Test
    void badArguments() {
        GPT g = tinyGpt();
        assertThrows(IllegalArgumentException.class, () -> TextGenerator.generate(g, Tensor.of(new long[] {64}, 1, 1), 2, 1.0, null, null, 0, true));
        assertThrows(IllegalArgumentException.class, () -> TextGenerator.generate(g, Tensor.zeros(1, 2), 2, 1.0, null, null, 0, true));
        assertThrows(IllegalArgumentException.class, () -> TextGenerator.generate(g, prompt(1, 2, 0), -1, 1.0, null, null, 0, true));
        assertThrows(IllegalArgumentException.class, () -> TextGenerator.generate(g, prompt(1, 2, 0), 2, -1.0, null, null, 0, true));
        assertThrows(IllegalArgumentException.class, () -> TextGenerator.generate(g, prompt(1, 2, 0), 2, 1.0, 0, null, 0, true));
        assertEquals(List.of(1, 2), shape(TextGenerator.generate(g, prompt(1, 2, 0), 0, 1.0, null, null, 0, true)));
    }
}
