package jllm.eval;

import jllm.autograd.Grad;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.nn.functional.F;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.*;

class PerplexityTest {
    private static final int VOCAB = 40, BLOCK = 16;

    /** Dropout 0.1: a forward in training mode would be random, so equal sums also show that evaluation runs in eval mode. */
    private static GPT model() {
        GPT m = new GPT(new GPTConfig(BLOCK, VOCAB, 2, 2, 16, 0.1, true), new Generator(7));
        m.train();
        return m;
    }

    private static int[] ids(int n) {
        Random r = new Random(3);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = r.nextInt(VOCAB);
        return ids;
    }

    private static Tensor longs(int[] ids, int from, int to) {
        return Tensor.of(Arrays.stream(ids, from, to).asLongStream().toArray(), 1, to - from);
    }

    private static void assertClose(double want, double got) {
        assertEquals(want, got, 1e-5 * Math.abs(want), "want " + want + ", got " + got);
    }

    @Test
    void windowsScoreEveryTokenAfterTheFirstOnceWithAtLeastCtxMinusStrideContext() {
        for (int n : new int[] {2, 3, 16, 17, 18, 50}) {
            for (int ctx : new int[] {1, 4, 16}) {
                for (int stride = 1; stride <= ctx; stride++) {
                    List<Perplexity.Window> ws = Perplexity.windows(n, ctx, stride);
                    int[] scored = new int[n];
                    for (int i = 0; i < ws.size(); i++) {
                        Perplexity.Window w = ws.get(i);
                        assertTrue(w.length() >= 1 && w.length() <= ctx && w.begin() == i * stride, w.toString());
                        if (i < ws.size() - 1) assertEquals(ctx, w.length(), "only the last window may be short: " + ws);
                        if (i > 0) assertTrue(w.firstScored() - w.begin() >= ctx - stride || w.begin() == 0, w.toString());
                        for (int p = w.firstScored(); p < w.end(); p++) scored[p + 1]++; // input p predicts token p + 1
                    }
                    assertEquals(n - 1, ws.getLast().end(), "the last window reaches the last input");
                    int[] once = new int[n];
                    Arrays.fill(once, 1, n, 1);
                    assertArrayEquals(once, scored, "n " + n + " ctx " + ctx + " stride " + stride + ": " + ws);
                }
            }
        }
        assertEquals(List.of(new Perplexity.Window(0, 4, 0), new Perplexity.Window(2, 6, 4), new Perplexity.Window(4, 8, 6),
                new Perplexity.Window(6, 9, 8)), Perplexity.windows(10, 4, 2));
    }

    /** Non-overlapping windows: the model's own mean loss on each chunk times its length, summed. */
    @Test
    void strideEqualToCtxIsTheSumOfTheChunksLosses() {
        GPT m = model();
        int[] ids = ids(50);
        double want = 0;
        try (var g = Grad.off()) {
            m.eval();
            for (int b = 0; b < ids.length - 1; b += BLOCK) {
                int e = Math.min(b + BLOCK, ids.length - 1);
                want += m.forward(longs(ids, b, e), longs(ids, b + 1, e + 1)).loss().item() * (e - b);
            }
            m.train();
        }
        for (int batch : new int[] {1, 2, 4}) {
            Perplexity.Result r = Perplexity.evaluate(m, ids, BLOCK, BLOCK, batch);
            assertEquals(49, r.tokens());
            assertEquals(4, r.windows());
            assertClose(want, r.nllSum());
            assertClose(Math.exp(want / 49), r.perplexity());
            assertClose(want / Math.log(2) / 100, r.bitsPerByte(100));
        }
        assertTrue(m.isTraining() && m.modules().stream().allMatch(jllm.nn.Module::isTraining), "training mode is restored");
    }

    /**
     * Stride 1: after the first window, every token is predicted from exactly the ctx tokens before
     * it; by hand, one forward per token over that context, scoring its last position.
     */
    @Test
    void strideOneScoresEachTokenWithTheFullWindowBeforeIt() {
        GPT m = model();
        int ctx = 8;
        int[] ids = ids(30);
        double want = 0;
        try (var g = Grad.off()) {
            m.eval();
            want += m.forward(longs(ids, 0, ctx), longs(ids, 1, ctx + 1)).loss().item() * ctx;
            for (int p = ctx + 1; p < ids.length; p++) {
                Tensor logits = m.forward(longs(ids, p - ctx, p), null).logits();
                Tensor last = logits.narrow(1, ctx - 1, 1).reshape(1, VOCAB);
                want += F.crossEntropy(last, Tensor.of(new long[] {ids[p]}, 1)).item();
            }
        }
        for (int batch : new int[] {1, 5}) {
            Perplexity.Result r = Perplexity.evaluate(m, ids, ctx, 1, batch);
            assertEquals(29, r.tokens());
            assertEquals(30 - ctx, r.windows());
            assertClose(want, r.nllSum());
        }
    }

    /** Hugging Face's loop: targets before the last trg_len of each window are -100, the mean loss times trg_len. */
    @Test
    void aSmallerStrideMasksTheContextPositions() {
        GPT m = model();
        int[] ids = ids(41);
        int ctx = 12, stride = 5, inputs = ids.length - 1;
        double want = 0;
        long count = 0;
        try (var g = Grad.off()) {
            m.eval();
            int prevEnd = 0;
            for (int b = 0; ; b += stride) {
                int e = Math.min(b + ctx, inputs), trg = e - prevEnd;
                long[] y = Arrays.stream(ids, b + 1, e + 1).asLongStream().toArray();
                Arrays.fill(y, 0, y.length - trg, -100);
                want += m.forward(longs(ids, b, e), Tensor.of(y, 1, y.length)).loss().item() * trg;
                count += trg;
                prevEnd = e;
                if (e == inputs) break;
            }
        }
        Perplexity.Result r = Perplexity.evaluate(m, ids, ctx, stride, 3);
        assertEquals(count, r.tokens());
        assertEquals(40, r.tokens());
        assertClose(want, r.nllSum());
        assertTrue(r.nllSum() != Perplexity.evaluate(m, ids, ctx, ctx, 1).nllSum(), "more context changes the sum");
    }

    @Test
    void badArgumentsAreRefused() {
        GPT m = model();
        assertThrows(IllegalArgumentException.class, () -> Perplexity.evaluate(m, new int[] {1}, 4, 4, 1), "one token");
        var tooLong = assertThrows(IllegalArgumentException.class, () -> Perplexity.evaluate(m, ids(20), BLOCK + 1, 4, 1));
        assertEquals("a window of 17 tokens is longer than the model's context (16)", tooLong.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Perplexity.evaluate(m, ids(20), 8, 9, 1), "stride > ctx");
        assertThrows(IllegalArgumentException.class, () -> Perplexity.evaluate(m, ids(20), 8, 0, 1), "stride 0");
        assertThrows(IllegalArgumentException.class, () -> Perplexity.evaluate(m, ids(20), 8, 8, 0), "batch 0");
        int[] bad = ids(20);
        bad[11] = VOCAB;
        var e = assertThrows(IllegalArgumentException.class, () -> Perplexity.evaluate(m, bad, 8, 8, 1));
        assertEquals("token 11 has id 40, outside the model's vocabulary [0, 40)", e.getMessage());
    }
}
