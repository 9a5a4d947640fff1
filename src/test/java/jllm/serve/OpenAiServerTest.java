package jllm.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.generate.SpecialTokens;
import jllm.lora.MultiLora;
import jllm.models.AutoModelForCausalLM;
import jllm.models.CausalLM;
import jllm.models.PretrainedModel;
import jllm.tokenizer.HfTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The HTTP layer against a real engine on the 260K Llama: OpenAI's responses, streams, and every error status. */
class OpenAiServerTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String KEY = "sk-test-123";
    private static HfTokenizer tok;
    private static Engine engine;
    private static Metrics metrics;
    private static OpenAiServer server;
    private static final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    static void start() throws Exception {
        PretrainedModel m = AutoModelForCausalLM.fromPretrained(ServeFixtures.MODEL);
        tok = HfTokenizer.fromDirectory(ServeFixtures.MODEL);
        Map<String, Path> dirs = new LinkedHashMap<>();
        dirs.put("a", ServeFixtures.ADAPTER_A);
        dirs.put("b", ServeFixtures.ADAPTER_B);
        MultiLora lora = MultiLora.load(m.asModule(), dirs);
        SpecialTokens special = SpecialTokens.of(m, tok);
        metrics = new Metrics();
        engine = new Engine((CausalLM) m, lora, tok, new HashSet<>(special.stopTokens()), 4, 2, 64, metrics);
        server = new OpenAiServer(engine, tok, special, "aidreams", lora.names(), "127.0.0.1", 0, KEY, 4096, metrics);
    }

    @AfterAll
    static void stop() {
        server.stop(0);
        tok.close();
    }

    private static HttpResponse<String> post(String path, String body, String key) throws Exception {
        var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).POST(HttpRequest.BodyPublishers.ofString(body))
                .header("Content-Type", "application/json");
        if (key != null) b.header("Authorization", "Bearer " + key);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    private static HttpResponse<String> get(String path, String key) throws Exception {
        var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).GET();
        if (key != null) b.header("Authorization", "Bearer " + key);
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /** An OpenAI error object with this status naming param (null: none), whose message contains each of parts. */
    private static void assertError(HttpResponse<String> r, int status, String param, String... parts) throws Exception {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode e = JSON.readTree(r.body()).get("error");
        assertNotNull(e, r.body());
        assertTrue(e.get("type").isTextual(), r.body());
        if (param != null) assertEquals(param, e.get("param").asText(), r.body());
        for (String p : parts) assertTrue(e.get("message").asText().contains(p), "'" + p + "' in " + r.body());
    }

    @Test
    void modelsHealthAndMetrics() throws Exception {
        var r = get("/v1/models", KEY);
        assertEquals(200, r.statusCode());
        List<String> ids = new ArrayList<>();
        JSON.readTree(r.body()).get("data").forEach(d -> ids.add(d.get("id").asText()));
        assertEquals(List.of("aidreams", "a", "b"), ids);
        assertEquals("{\"status\":\"ok\"}", get("/health", null).body());
        var m = get("/metrics", null);
        assertTrue(m.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain; version=0.0.4"));
        assertTrue(m.body().contains("# TYPE jllm_time_to_first_token_seconds summary") && m.body().contains("jllm_requests_total{endpoint=\"/v1/models\",status=\"200\"}"), m.body());
    }

    @Test
    void theChatPageIsServedAtTheRoot() throws Exception {
        var r = get("/", null);
        assertEquals(200, r.statusCode(), r.body());
        assertEquals("text/html; charset=utf-8", r.headers().firstValue("Content-Type").orElseThrow());
        assertTrue(r.body().startsWith("<!doctype html>") && r.body().contains("<title>jllm chat</title>"), r.body());
        assertTrue(r.body().contains("fetch(\"/v1/chat/completions\"") && r.body().contains("stream: true") && r.body().contains("fetch(\"/v1/models\""),
                "the page streams from this server's API");
        assertError(post("/", "{}", null), 405, null, "use GET");
    }

    @Test
    void chatCompletionStreamedAndWhole() throws Exception {
        String body = "{\"model\":\"aidreams\",\"messages\":[{\"role\":\"user\",\"content\":\"Tell me a story\"}],\"max_tokens\":20,\"seed\":5,\"temperature\":0.8%s}";
        var whole = post("/v1/chat/completions", body.formatted(""), KEY);
        assertEquals(200, whole.statusCode(), whole.body());
        JsonNode w = JSON.readTree(whole.body());
        assertEquals("chat.completion", w.get("object").asText());
        String content = w.at("/choices/0/message/content").asText();
        assertTrue(content.length() > 5, whole.body());
        assertEquals(20, w.at("/usage/completion_tokens").asInt(), whole.body());
        assertEquals("length", w.at("/choices/0/finish_reason").asText());
        int promptTokens = tok.encodeChat(List.of(jllm.tokenizer.ChatTemplate.Message.user("Tell me a story")), true).length;
        assertEquals(promptTokens, w.at("/usage/prompt_tokens").asInt());

        var streamed = post("/v1/chat/completions", body.formatted(",\"stream\":true,\"stream_options\":{\"include_usage\":true}"), KEY);
        assertEquals(200, streamed.statusCode());
        assertTrue(streamed.headers().firstValue("Content-Type").orElseThrow().startsWith("text/event-stream"));
        List<String> data = streamed.body().lines().filter(l -> l.startsWith("data: ")).map(l -> l.substring(6)).toList();
        assertEquals("[DONE]", data.getLast());
        StringBuilder text = new StringBuilder();
        String finish = null;
        for (String d : data.subList(0, data.size() - 2)) {
            JsonNode c = JSON.readTree(d);
            assertEquals("chat.completion.chunk", c.get("object").asText());
            text.append(c.at("/choices/0/delta/content").asText(""));
            if (!c.at("/choices/0/finish_reason").isNull()) finish = c.at("/choices/0/finish_reason").asText();
        }
        assertEquals(content, text.toString(), "the same seed streams the same text");
        assertEquals("length", finish);
        assertEquals(20, JSON.readTree(data.get(data.size() - 2)).at("/usage/completion_tokens").asInt());
    }

    @Test
    void completionsWithStopAndAdapters() throws Exception {
        var whole = post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"Once upon a time\",\"max_tokens\":30,\"temperature\":0}", KEY);
        JsonNode w = JSON.readTree(whole.body());
        assertEquals("text_completion", w.get("object").asText(), whole.body());
        String text = w.at("/choices/0/text").asText();
        String stop = text.substring(8, 11);
        var stopped = JSON.readTree(post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"Once upon a time\",\"max_tokens\":30,\"temperature\":0,\"stop\":[\""
                + stop + "\"]}", KEY).body());
        assertEquals(text.substring(0, text.indexOf(stop)), stopped.at("/choices/0/text").asText());
        assertEquals("stop", stopped.at("/choices/0/finish_reason").asText());
        var a = JSON.readTree(post("/v1/completions", "{\"model\":\"a\",\"prompt\":\"Once upon a time\",\"max_tokens\":30,\"temperature\":0,\"n\":2}", KEY).body());
        assertEquals(2, a.get("choices").size());
        assertEquals(a.at("/choices/0/text").asText(), a.at("/choices/1/text").asText(), "greedy choices agree");
        assertNotEquals(text, a.at("/choices/0/text").asText(), "the adapter changes the text");
        assertEquals("a", a.get("model").asText());
    }

    @Test
    void everyErrorIsOpenAisErrorObjectWithItsStatus() throws Exception {
        assertError(get("/v1/models", null), 401, null, "missing API key");
        assertError(get("/v1/models", "sk-wrong"), 401, null, "incorrect API key");
        assertError(post("/v1/completions", "{\"model\": \"aidreams\", \"prompt\": ", KEY), 400, null, "malformed JSON");
        assertError(post("/v1/completions", "[1, 2]", KEY), 400, null, "JSON object");
        assertError(post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"hi\",\"temperature\":\"hot\"}", KEY), 400, "temperature", "must be a number, got a string");
        assertError(post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"hi\",\"max_tokens\":1.5}", KEY), 400, "max_tokens", "integer");
        assertError(post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"hi\",\"stop\":[1]}", KEY), 400, "stop");
        assertError(post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"hi\",\"n\":0}", KEY), 400, "n", "[1, 16]");
        assertError(post("/v1/chat/completions", "{\"model\":\"aidreams\",\"messages\":[{\"content\":\"x\"}]}", KEY), 400, "messages[0].role");
        assertError(post("/v1/chat/completions", "{\"model\":\"aidreams\"}", KEY), 400, "messages", "required");
        assertError(post("/v1/completions", "{\"model\":\"gpt-4\",\"prompt\":\"hi\"}", KEY), 404, "model", "'gpt-4' does not exist");
        assertError(post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"hi\",\"max_tokens\":500}", KEY), 400, "max_tokens",
                "plus max_tokens (500)", "context of 128 tokens");
        assertError(post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"" + "Tom ran. ".repeat(60) + "\"}", KEY), 400, "prompt", "context is 128");
        assertError(post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"" + "x".repeat(5000) + "\"}", KEY), 413, null, "larger than 4096 bytes");
        assertError(get("/v1/chat/completions", KEY), 405, null, "use POST");
        assertError(get("/nope", KEY), 404, null, "no such endpoint");
        assertEquals(200, get("/health", null).statusCode(), "and the server keeps serving");
    }

    @Test
    void unsupportedParametersAre400NamingTheParameter() throws Exception {
        String chat = "{\"model\":\"aidreams\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":3,%s}";
        String text = "{\"model\":\"aidreams\",\"prompt\":\"hi\",\"max_tokens\":3,%s}";
        Map<String, String> chatRefused = new LinkedHashMap<>();
        chatRefused.put("logprobs", "true");
        chatRefused.put("top_logprobs", "2");
        chatRefused.put("tools", "[{\"type\":\"function\",\"function\":{\"name\":\"f\",\"parameters\":{}}}]");
        chatRefused.put("tool_choice", "\"required\"");
        chatRefused.put("functions", "[{\"name\":\"f\"}]");
        chatRefused.put("function_call", "{\"name\":\"f\"}");
        chatRefused.put("response_format", "{\"type\":\"json_object\"}");
        chatRefused.put("logit_bias", "{\"50\":-100}");
        chatRefused.put("presence_penalty", "0.5");
        chatRefused.put("frequency_penalty", "-1");
        chatRefused.put("modalities", "[\"text\",\"audio\"]");
        chatRefused.put("audio", "{\"voice\":\"alloy\",\"format\":\"wav\"}");
        for (var e : chatRefused.entrySet()) {
            var r = post("/v1/chat/completions", chat.formatted("\"" + e.getKey() + "\":" + e.getValue()), KEY);
            assertError(r, 400, e.getKey(), "Unsupported parameter: '" + e.getKey() + "'");
            assertEquals("unsupported_parameter", JSON.readTree(r.body()).at("/error/code").asText(), r.body());
        }
        Map<String, String> textRefused = new LinkedHashMap<>();
        textRefused.put("logprobs", "1");
        textRefused.put("echo", "true");
        textRefused.put("suffix", "\"the end\"");
        textRefused.put("best_of", "2");
        textRefused.put("logit_bias", "{\"1\":5}");
        for (var e : textRefused.entrySet()) {
            assertError(post("/v1/completions", text.formatted("\"" + e.getKey() + "\":" + e.getValue()), KEY), 400, e.getKey(),
                    "Unsupported parameter: '" + e.getKey() + "'");
        }
        // the same parameters at their neutral values (some clients always send them) are answered
        String neutral = "\"logprobs\":false,\"top_logprobs\":0,\"tools\":[],\"tool_choice\":\"none\",\"response_format\":{\"type\":\"text\"},"
                + "\"logit_bias\":{},\"presence_penalty\":0,\"frequency_penalty\":0.0,\"modalities\":[\"text\"],\"user\":\"u1\",\"store\":false";
        var ok = post("/v1/chat/completions", chat.formatted(neutral), KEY);
        assertEquals(200, ok.statusCode(), ok.body());
        ok = post("/v1/completions", text.formatted("\"echo\":false,\"suffix\":\"\",\"best_of\":1,\"logprobs\":null"), KEY);
        assertEquals(200, ok.statusCode(), ok.body());
        // and a wrong type is still a type error naming the field
        assertError(post("/v1/completions", text.formatted("\"presence_penalty\":\"high\""), KEY), 400, "presence_penalty", "must be a number");
        assertError(post("/v1/completions", text.formatted("\"frequency_penalty\":3"), KEY), 400, "frequency_penalty", "[-2.0, 2.0]");
    }

    @Test
    void aFullQueueIs429() throws Exception {
        CountDownLatch hold = new CountDownLatch(1), holding = new CountDownLatch(1);
        // the engine's thread waits in this sink, so the batch and the queue (2 places) stay as they are
        Sink blocking = new EngineTest.Collect() {
            @Override
            public synchronized void text(String delta) {
                holding.countDown();
                try {
                    hold.await(30, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    throw new AssertionError(e);
                }
            }
        };
        engine.submit(new Engine.Request(tok.encodePrompt("Once upon a time"), -1, 5, 0, null, 0, List.of()), blocking);
        assertTrue(holding.await(30, TimeUnit.SECONDS));
        EngineTest.Collect waiting = new EngineTest.Collect(), waiting2 = new EngineTest.Collect();
        engine.submit(new Engine.Request(tok.encodePrompt("A"), -1, 5, 0, null, 0, List.of()), waiting);
        engine.submit(new Engine.Request(tok.encodePrompt("A"), -1, 5, 0, null, 0, List.of()), waiting2);
        try {
            assertError(post("/v1/completions", "{\"model\":\"aidreams\",\"prompt\":\"hi\"}", KEY), 429, null, "busy");
        } finally {
            hold.countDown();
        }
        waiting.get();
        waiting2.get();
    }

    @Test
    void aClientThatHangsUpMidStreamFreesItsSlot() throws Exception {
        long before = cancelled();
        String body = "{\"model\":\"aidreams\",\"prompt\":\"Once\",\"max_tokens\":120,\"temperature\":1,\"seed\":3,\"stream\":true}";
        try (Socket s = new Socket("127.0.0.1", server.port())) {
            OutputStream out = s.getOutputStream();
            out.write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + KEY + "\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            out.flush();
            InputStream in = s.getInputStream();
            byte[] buf = new byte[256];
            assertTrue(in.read(buf) > 0, "the stream started");
        }
        for (int i = 0; i < 200 && cancelled() == before; i++) Thread.sleep(50);
        assertEquals(before + 1, cancelled(), "the sequence left the batch");
    }

    private static long cancelled() {
        return metrics.render().lines().filter(l -> l.startsWith("jllm_cancelled_sequences_total ")).mapToLong(l -> Long.parseLong(l.split(" ")[1])).sum();
    }
}
