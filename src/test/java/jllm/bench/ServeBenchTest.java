package jllm.bench;

import jllm.generate.SpecialTokens;
import jllm.models.AutoModelForCausalLM;
import jllm.models.CausalLM;
import jllm.models.PretrainedModel;
import jllm.serve.Engine;
import jllm.serve.Metrics;
import jllm.serve.OpenAiServer;
import jllm.serve.ServeFixtures;
import jllm.tokenizer.HfTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The load generator against a real server on the 260K Llama: what it counts is what the server did. */
class ServeBenchTest {
    private static HfTokenizer tok;
    private static Metrics metrics;
    private static OpenAiServer open, keyed;
    private static CausalLM model;

    @BeforeAll
    static void start() throws Exception {
        PretrainedModel m = AutoModelForCausalLM.fromPretrained(ServeFixtures.MODEL);
        model = (CausalLM) m;
        tok = HfTokenizer.fromDirectory(ServeFixtures.MODEL);
        SpecialTokens special = SpecialTokens.of(m, tok);
        metrics = new Metrics();
        Engine engine = new Engine(model, null, tok, new HashSet<>(special.stopTokens()), 4, 64, 64, metrics);
        open = new OpenAiServer(engine, tok, special, "aidreams", List.of(), "127.0.0.1", 0, null, 1 << 20, metrics);
        Engine engine2 = new Engine(model, null, tok, new HashSet<>(special.stopTokens()), 4, 64, 64, new Metrics());
        keyed = new OpenAiServer(engine2, tok, special, "aidreams", List.of(), "127.0.0.1", 0, "sk-x", 1 << 20, new Metrics());
    }

    @AfterAll
    static void stop() {
        open.stop(0);
        keyed.stop(0);
        tok.close();
    }

    private static double metric(String name) {
        return metrics.render().lines().filter(l -> l.startsWith(name + " ")).mapToDouble(l -> Double.parseDouble(l.split(" ")[1])).sum();
    }

    private static ServeBench bench(OpenAiServer s, ByteArrayOutputStream out) {
        return new ServeBench("http://127.0.0.1:" + s.port() + "/v1", "aidreams", model.vocabSize(), new PrintStream(out, true, StandardCharsets.UTF_8));
    }

    @Test
    void countsTheTokensTheServerGeneratedAndTimesEachStream() throws Exception {
        double before = metric("jllm_generation_tokens_total");
        ServeBench.Result r = bench(open, new ByteArrayOutputStream()).run(3, 7, 6, 9, 1);
        assertEquals(0, r.errors(), r.errorSamples().toString());
        assertEquals(7, r.requests());
        // the engine counts a step's tokens when the step ends, after it has told the clients: let it catch up
        for (int i = 0; i < 100 && metric("jllm_generation_tokens_total") - before < r.tokens(); i++) Thread.sleep(20);
        assertEquals(metric("jllm_generation_tokens_total") - before, r.tokens(), "the usage the streams reported is what the server generated");
        assertTrue(r.tokens() > 7 && r.tokens() <= 7 * 9, "tokens " + r.tokens());
        assertEquals(7, r.ttftMs().count(), "one time to first token per request");
        assertTrue(r.itlMs().count() > 0 && r.itlMs().percentile(50) >= 0);
        assertEquals(r.tokens() / r.seconds(), r.tokensPerSecond(), 1e-9);
    }

    @Test
    void refusedRequestsAreErrorsWithTheServersMessage() throws Exception {
        ServeBench.Result r = bench(keyed, new ByteArrayOutputStream()).run(2, 4, 4, 4, 1);
        assertEquals(4, r.errors());
        assertEquals(0, r.tokens());
        assertTrue(r.errorSamples().getFirst().startsWith("HTTP 401: missing API key"), r.errorSamples().toString());
    }

    @Test
    void aClientThatLeavesMidStreamIsCountedAndTheServerFreesItsSequence() throws Exception {
        double cancelled = metric("jllm_cancelled_sequences_total");
        ServeBench.Outcome o = bench(open, new ByteArrayOutputStream()).stream(new int[] {1, 300, 301}, 100, 3, 2);
        assertTrue(o.ok() && o.disconnected(), o.toString());
        assertEquals(2, o.tokens());
        for (int i = 0; i < 100 && metric("jllm_cancelled_sequences_total") == cancelled; i++) Thread.sleep(50);
        assertEquals(cancelled + 1, metric("jllm_cancelled_sequences_total"));
    }
}
