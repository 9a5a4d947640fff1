package jllm.serve;

import jllm.generate.SpecialTokens;
import jllm.generate.TextGenerator;
import jllm.generate.TextStream;
import jllm.lora.MultiLora;
import jllm.lora.PeftModel;
import jllm.models.AutoModelForCausalLM;
import jllm.models.CausalLM;
import jllm.models.LanguageModel;
import jllm.models.PretrainedModel;
import jllm.tensor.Tensor;
import jllm.tokenizer.HfTokenizer;
import jllm.tokenizer.StreamDecoder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The continuous-batching scheduler on a real trained 260K Llama: admission, eviction, cancellation, and batched == alone. */
class EngineTest {
    private static HfTokenizer tok;
    private static Set<Long> eos;
    private static final String[] PROMPTS = {"Once upon a time", "The little dog", "Tom and Lily were playing in the park with a big red ball", "A"};

    @BeforeAll
    static void load() {
        tok = HfTokenizer.fromDirectory(ServeFixtures.MODEL);
        eos = new HashSet<>(SpecialTokens.of(base(), tok).stopTokens());
    }

    @AfterAll
    static void close() { tok.close(); }

    private static PretrainedModel base() {
        try {
            return AutoModelForCausalLM.fromPretrained(ServeFixtures.MODEL);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** What the sink saw: the text, and how it ended. */
    static class Collect implements Sink {
        final StringBuilder text = new StringBuilder();
        final CompletableFuture<String> done = new CompletableFuture<>();
        volatile Finish finish;
        volatile int completionTokens;
        final CountDownLatch firstText = new CountDownLatch(1);

        @Override
        public synchronized void text(String delta) {
            text.append(delta);
            firstText.countDown();
        }

        @Override
        public void finish(Finish reason, int promptTokens, int completion) {
            finish = reason;
            completionTokens = completion;
            done.complete(text.toString());
        }

        @Override
        public void error(String message) { done.completeExceptionally(new IllegalStateException(message)); }

        String get() throws Exception { return done.get(60, TimeUnit.SECONDS); }
    }

    private static Engine engine(CausalLM m, MultiLora lora, int maxBatch, int maxQueue, int chunk) {
        return new Engine(m, lora, tok, eos, maxBatch, maxQueue, chunk, new Metrics());
    }

    private static Engine.Request greedy(String prompt, int adapter, int max) {
        return new Engine.Request(tok.encodePrompt(prompt), adapter, max, 0, null, 0, List.of());
    }

    /** `jllm generate`'s path: TextGenerator over the model's own KV cache, greedy, text as TextStream prints it. */
    private static String generateAlone(LanguageModel lm, String prompt, int max) {
        int[] ids = tok.encodePrompt(prompt);
        var o = TextGenerator.Options.of(max).temperature(0).stopTokens(List.copyOf(eos));
        Tensor out = TextGenerator.generate(lm, TextStream.ids(ids), o);
        StreamDecoder d = new StreamDecoder(tok, ids);
        StringBuilder b = new StringBuilder();
        for (int i = ids.length; i < out.size(1); i++) {
            long t = out.select(0, 0).toLongArray()[i];
            if (eos.contains(t)) break;
            b.append(d.push((int) t));
        }
        return b.append(d.flush()).toString();
    }

    @Test
    void greedyBatchedWithChunkedPrefillEqualsGenerateAlone() throws Exception {
        PretrainedModel m = base();
        List<String> want = new ArrayList<>();
        for (String p : PROMPTS) want.add(generateAlone(m, p, 40));
        Metrics metrics = new Metrics();
        try (Engine e = new Engine((CausalLM) m, null, tok, eos, 3, 16, 5, metrics)) {
            List<Collect> cs = new ArrayList<>();
            for (String p : PROMPTS) {
                Collect c = new Collect();
                e.submit(greedy(p, -1, 40), c);
                cs.add(c);
            }
            for (int i = 0; i < PROMPTS.length; i++) assertEquals(want.get(i), cs.get(i).get(), "prompt " + i);
            assertTrue(want.get(2).length() > 20, want.get(2));
            // all done: the gauge says so once the engine is idle (it used to keep the last step's count)
            for (int i = 0; i < 100 && !metrics.render().contains("\njllm_running_sequences 0\n"); i++) Thread.sleep(20);
            assertTrue(metrics.render().contains("\njllm_running_sequences 0\n"), metrics.render());
        }
        String text = metrics.render();
        assertTrue(text.contains("jllm_generation_tokens_total "), text);
        double mean = Double.parseDouble(text.lines().filter(l -> l.startsWith("jllm_batch_size_mean ")).findFirst().orElseThrow().split(" ")[1]);
        assertTrue(mean > 1.5 && mean <= 3, "the requests ran together, at most 3 at a time: " + mean);
    }

    @Test
    void seededSamplingGivesTheSameTextAloneOrBatched() throws Exception {
        CausalLM m = (CausalLM) base();
        var r = new Engine.Request(tok.encodePrompt("Once upon a time"), -1, 50, 0.9, 0.95, 7, List.of());
        String alone, batched, otherSeed;
        try (Engine e = engine(m, null, 8, 16, 64)) {
            Collect c = new Collect();
            e.submit(r, c);
            alone = c.get();
        }
        try (Engine e = engine(m, null, 8, 16, 64)) {
            List<Collect> others = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Collect o = new Collect();
                e.submit(new Engine.Request(tok.encodePrompt(PROMPTS[i + 1]), -1, 50, 1.0, null, 100 + i, List.of()), o);
                others.add(o);
            }
            Collect c = new Collect(), d = new Collect();
            e.submit(r, c);
            e.submit(new Engine.Request(r.prompt(), -1, 50, 0.9, 0.95, 8, List.of()), d);
            batched = c.get();
            otherSeed = d.get();
            for (Collect o : others) o.get();
        }
        assertEquals(alone, batched);
        assertNotEquals(alone, otherSeed, "the seed matters");
    }

    @Test
    void adaptersInOneBatchEqualEachAdapterServedAlone() throws Exception {
        Map<String, Path> dirs = new LinkedHashMap<>();
        dirs.put("a", ServeFixtures.ADAPTER_A);
        dirs.put("b", ServeFixtures.ADAPTER_B);
        PretrainedModel shared = base();
        MultiLora lora = MultiLora.load(shared.asModule(), dirs);
        assertEquals(List.of("a", "b"), lora.names());
        String prompt = "The little dog";
        String wantBase = generateAlone(base(), prompt, 30);
        String wantA = generateAlone(PeftModel.fromPretrained(base().asModule(), ServeFixtures.ADAPTER_A), prompt, 30);
        String wantB = generateAlone(PeftModel.fromPretrained(base().asModule(), ServeFixtures.ADAPTER_B), prompt, 30);
        assertNotEquals(wantBase, wantA);
        assertNotEquals(wantA, wantB);
        try (Engine e = engine((CausalLM) shared, lora, 8, 16, 64)) {
            Collect cb = new Collect(), ca = new Collect(), cb2 = new Collect(), ca2 = new Collect();
            e.submit(greedy(prompt, 0, 30), ca);
            e.submit(greedy(prompt, -1, 30), cb);
            e.submit(greedy(prompt, 1, 30), cb2);
            e.submit(greedy("Once upon a time", 0, 30), ca2);
            assertEquals(wantA, ca.get());
            assertEquals(wantBase, cb.get());
            assertEquals(wantB, cb2.get());
            ca2.get();
        }
    }

    @Test
    void aStopSequenceEndsTheTextBeforeIt() throws Exception {
        CausalLM m = (CausalLM) base();
        String full = generateAlone(m, PROMPTS[0], 40);
        String stop = full.substring(10, 14);
        int at = full.indexOf(stop);
        try (Engine e = engine(m, null, 4, 4, 64)) {
            Collect c = new Collect(), l = new Collect();
            e.submit(new Engine.Request(tok.encodePrompt(PROMPTS[0]), -1, 40, 0, null, 0, List.of("zzz", stop)), c);
            e.submit(greedy(PROMPTS[0], -1, 3), l);
            assertEquals(full.substring(0, at), c.get());
            assertEquals(Sink.Finish.STOP, c.finish);
            l.get();
            assertEquals(Sink.Finish.LENGTH, l.finish);
            assertEquals(3, l.completionTokens);
        }
    }

    @Test
    void aCancelledSequenceLeavesTheBatchAndOthersGoOn() throws Exception {
        Metrics metrics = new Metrics();
        try (Engine e = new Engine((CausalLM) base(), null, tok, eos, 1, 4, 64, metrics)) {
            // the client goes away at its first text, as a server's write to a closed connection finds out
            Engine.Handle[] h = new Engine.Handle[1];
            CountDownLatch submitted = new CountDownLatch(1);
            Collect c = new Collect() {
                @Override
                public synchronized void text(String delta) {
                    super.text(delta);
                    try {
                        submitted.await();
                    } catch (InterruptedException ex) {
                        throw new AssertionError(ex);
                    }
                    h[0].cancel();
                }
            };
            h[0] = e.submit(greedy(PROMPTS[0], -1, 100), c);
            submitted.countDown();
            assertTrue(c.firstText.await(30, TimeUnit.SECONDS));
            Collect next = new Collect();
            e.submit(greedy(PROMPTS[1], -1, 5), next);
            next.get(); // with max-batch 1 this runs only once the cancelled sequence has left
            assertFalse(c.done.isDone(), "a cancelled sequence is not finished for its (gone) client");
            assertTrue(metrics.render().contains("jllm_cancelled_sequences_total 1\n"), metrics.render());
        }
    }

    @Test
    void aFullQueueRefusesAndShutdownFailsWhatIsLeft() throws Exception {
        Engine e = engine((CausalLM) base(), null, 1, 2, 64);
        List<Collect> cs = new ArrayList<>();
        var busy = assertThrows(Engine.QueueFullException.class, () -> {
            for (int i = 0; i < 50; i++) {
                Collect c = new Collect();
                e.submit(new Engine.Request(tok.encodePrompt("A"), -1, 100, 1.0, null, i, List.of()), c);
                cs.add(c);
            }
        });
        assertTrue(busy.getMessage().contains("2 requests are already waiting"), busy.getMessage());
        e.shutdown(0);
        int failed = 0;
        for (Collect c : cs) {
            try {
                c.get(); // finished before the shutdown
            } catch (java.util.concurrent.ExecutionException ex) {
                assertTrue(ex.getCause().getMessage().contains("shutting down"), ex.toString());
                failed++;
            }
        }
        assertTrue(failed >= 1, "the waiting requests fail with a reason");
        assertThrows(Engine.ShutDownException.class, () -> e.submit(greedy("A", -1, 2), new Collect()));
        var tooLong = assertThrows(IllegalArgumentException.class, () -> e.submit(greedy("A", -1, 100_000), new Collect()));
        assertTrue(tooLong.getMessage().contains("max_tokens (100000)"), tooLong.getMessage());
    }
}
