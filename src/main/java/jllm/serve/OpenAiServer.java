package jllm.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import jllm.generate.SpecialTokens;
import jllm.tokenizer.ChatTemplate;
import jllm.tokenizer.HfTokenizer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;

/**
 * OpenAI's HTTP API over an {@link Engine}: {@code GET /v1/models}, {@code POST /v1/chat/completions}
 * and {@code POST /v1/completions} (with server-sent events when {@code stream}), {@code GET /health}
 * and {@code GET /metrics}; {@code GET /} is a small chat page (chat.html beside this class) that
 * calls the same API from the browser. Every error is OpenAI's error object with its HTTP status.
 *
 * <p>The HTTP layer is the JDK's own {@code com.sun.net.httpserver} (no new dependency; it parses
 * HTTP/1.1, keeps connections alive and sends chunked bodies), run with a virtual thread per
 * exchange, so that a client waiting for its tokens holds no platform thread. The handler threads
 * only parse, tokenize and write; the model runs on the engine's one thread.
 */
public final class OpenAiServer implements AutoCloseable {
    /** Bodies larger than this are refused with 413 before they are read. */
    public static final long DEFAULT_MAX_BODY = 1 << 20;
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // The JDK HttpServer leaves Nagle's algorithm on unless sun.net.httpserver.nodelay is set: then
        // each small server-sent event after the first waits for the client's ACK of the one before (up
        // to a delayed-ACK interval), which bunches a stream's tokens. With TCP_NODELAY each event goes
        // out when it is written; one client streaming from the 260K Llama got 1,203 instead of 660
        // tokens/s (jllm bench serve). Read once per JVM, when the first HttpServer is made.
        if (System.getProperty("sun.net.httpserver.nodelay") == null) System.setProperty("sun.net.httpserver.nodelay", "true");
    }
    /** The chat page served at {@code GET /}. */
    private static final byte[] CHAT_PAGE = chatPage();

    private final Engine engine;
    private final HfTokenizer tok;
    private final SpecialTokens special;
    private final String baseId;
    private final List<String> adapters;
    private final byte[] apiKey;
    private final long maxBody;
    private final Metrics metrics;
    private final long created = System.currentTimeMillis() / 1000;
    private final HttpServer http;
    private final ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();

    /**
     * @param baseId   the base model's id in requests' {@code model}
     * @param adapters the adapters' ids, in the engine's adapter index order
     * @param apiKey   the key clients must send as {@code Authorization: Bearer KEY}; null = none
     */
    public OpenAiServer(Engine engine, HfTokenizer tok, SpecialTokens special, String baseId, List<String> adapters, String host, int port,
                        String apiKey, long maxBody, Metrics metrics) throws IOException {
        this.engine = engine;
        this.tok = tok;
        this.special = special;
        this.baseId = baseId;
        this.adapters = List.copyOf(adapters);
        this.apiKey = apiKey == null ? null : apiKey.getBytes(StandardCharsets.UTF_8);
        this.maxBody = maxBody;
        this.metrics = metrics;
        http = HttpServer.create(new InetSocketAddress(host, port), 128);
        http.setExecutor(executor);
        http.createContext("/", this::handle);
        http.start();
    }

    /** The port bound (useful with port 0). */
    public int port() { return http.getAddress().getPort(); }

    /** The models served: the base model, then each adapter. */
    public List<String> modelIds() {
        List<String> ids = new ArrayList<>();
        ids.add(baseId);
        ids.addAll(adapters);
        return ids;
    }

    /**
     * Stops: no new requests; running ones finish for up to graceMillis and then end with an error;
     * then the listener closes.
     */
    public void stop(long graceMillis) {
        engine.shutdown(graceMillis);
        http.stop(1);
        executor.shutdown();
    }

    @Override
    public void close() { stop(0); }

    // ------------------------------------------------------------------ dispatch

    private void handle(HttpExchange ex) {
        String path = ex.getRequestURI().getPath(), method = ex.getRequestMethod();
        String endpoint = switch (path) {
            case "/", "/v1/models", "/v1/chat/completions", "/v1/completions", "/health", "/metrics" -> path;
            default -> "other";
        };
        int status;
        try (ex) {
            try {
                status = route(ex, path, method);
            } catch (ApiError e) {
                status = sendError(ex, e);
            } catch (Engine.QueueFullException e) {
                status = sendError(ex, new ApiError(429, "rate_limit_error", null, "queue_full", e.getMessage()));
            } catch (Engine.ShutDownException e) {
                status = sendError(ex, new ApiError(503, "server_error", null, "shutting_down", e.getMessage()));
            } catch (IOException e) {
                status = 499; // the client went away
            } catch (RuntimeException e) {
                status = sendError(ex, new ApiError(500, "server_error", null, null, "internal error: " + e));
            }
        } catch (IOException e) {
            status = 499;
        }
        metrics.request(endpoint, status);
    }

    private int route(HttpExchange ex, String path, String method) throws IOException {
        switch (path) {
            case "/" -> {
                // the page holds no secret (the key is typed into it) and calls the authorized API itself
                requireMethod(method, "GET");
                ex.getResponseHeaders().set("Cache-Control", "no-cache");
                ex.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
                return send(ex, 200, "text/html; charset=utf-8", CHAT_PAGE);
            }
            case "/health" -> {
                requireMethod(method, "GET");
                return sendJson(ex, 200, JSON.createObjectNode().put("status", "ok"));
            }
            case "/metrics" -> {
                requireMethod(method, "GET");
                return send(ex, 200, "text/plain; version=0.0.4; charset=utf-8", metrics.render().getBytes(StandardCharsets.UTF_8));
            }
            case "/v1/models" -> {
                requireMethod(method, "GET");
                authorize(ex);
                return sendJson(ex, 200, models());
            }
            case "/v1/chat/completions", "/v1/completions" -> {
                requireMethod(method, "POST");
                authorize(ex);
                return complete(ex, path.equals("/v1/chat/completions"), new Fields(readBody(ex)));
            }
            default -> throw new ApiError(404, "invalid_request_error", null, "not_found", "no such endpoint: " + method + " " + path);
        }
    }

    private static byte[] chatPage() {
        try (InputStream in = OpenAiServer.class.getResourceAsStream("chat.html")) {
            if (in == null) throw new IllegalStateException("jllm/serve/chat.html is missing from the class path");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static void requireMethod(String method, String want) {
        if (!method.equals(want)) throw new ApiError(405, "invalid_request_error", null, "method_not_allowed", "use " + want + ", not " + method);
    }

    /** The API key, compared in constant time (MessageDigest.isEqual does not stop at the first difference). */
    private void authorize(HttpExchange ex) {
        if (apiKey == null) return;
        String h = ex.getRequestHeaders().getFirst("Authorization");
        byte[] given = h != null && h.startsWith("Bearer ") ? h.substring(7).strip().getBytes(StandardCharsets.UTF_8) : new byte[0];
        if (!MessageDigest.isEqual(given, apiKey)) {
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key",
                    h == null ? "missing API key: send it as 'Authorization: Bearer KEY'" : "incorrect API key provided");
        }
    }

    /** The body, refused with 413 when its declared or actual size is over the limit (never read past it). */
    private JsonNode readBody(HttpExchange ex) throws IOException {
        String len = ex.getRequestHeaders().getFirst("Content-Length");
        if (len != null) {
            long n;
            try {
                n = Long.parseLong(len.strip());
            } catch (NumberFormatException e) {
                throw ApiError.badRequest("bad Content-Length: " + len);
            }
            if (n > maxBody) throw tooLarge();
        }
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (InputStream in = ex.getRequestBody()) {
            byte[] chunk = new byte[8192];
            for (int r; (r = in.read(chunk)) > 0; ) {
                buf.write(chunk, 0, r);
                if (buf.size() > maxBody) throw tooLarge();
            }
        }
        if (buf.size() == 0) throw ApiError.badRequest("the request body is empty; send a JSON object");
        try {
            return JSON.readTree(buf.toByteArray());
        } catch (JsonProcessingException e) {
            throw ApiError.badRequest("malformed JSON: " + e.getOriginalMessage());
        }
    }

    private ApiError tooLarge() {
        return new ApiError(413, "invalid_request_error", null, "request_too_large", "the request body is larger than " + maxBody + " bytes");
    }

    private ObjectNode models() {
        ObjectNode o = JSON.createObjectNode().put("object", "list");
        ArrayNode data = o.putArray("data");
        for (String id : modelIds()) {
            data.addObject().put("id", id).put("object", "model").put("created", created).put("owned_by", "jllm")
                    .put("parent", id.equals(baseId) ? null : baseId);
        }
        return o;
    }

    // ------------------------------------------------------------------ completions

    /** One event from the engine for the request's thread: text, the end, or an error, of one choice. */
    private record Event(int choice, String text, Sink.Finish finish, int completionTokens, String error) {}

    private int complete(HttpExchange ex, boolean chat, Fields f) throws IOException {
        f.refuseUnsupported();
        String model = f.string("model");
        int adapter = model.equals(baseId) ? -1 : adapters.indexOf(model);
        if (!model.equals(baseId) && adapter < 0) {
            throw new ApiError(404, "invalid_request_error", "model", "model_not_found",
                    "the model '" + model + "' does not exist; this server has " + modelIds());
        }
        int[] prompt = chat ? chatPrompt(f) : textPrompt(f);
        int context = engine.contextLength();
        String promptField = chat ? "messages" : "prompt";
        if (prompt.length >= context) {
            throw ApiError.badField(promptField, "the prompt has " + prompt.length + " tokens but the model's context is " + context + " tokens");
        }
        String maxField = chat && f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        Long max = f.integer(maxField, 1, Integer.MAX_VALUE);
        int maxTokens = max != null ? (int) Math.min(max, Integer.MAX_VALUE) : chat ? context - prompt.length : Math.min(16, context - prompt.length);
        if ((long) prompt.length + maxTokens > context) {
            throw ApiError.badField(maxField, "the prompt (" + prompt.length + " tokens) plus " + maxField + " (" + maxTokens + ") is "
                    + (prompt.length + (long) maxTokens) + " tokens, more than the model's context of " + context + " tokens");
        }
        double temperature = f.number("temperature", 1.0, 0, 2);
        double topP = f.number("top_p", 1.0, Double.MIN_VALUE, 1);
        Long choices = f.integer("n", 1, 16);
        int n = choices == null ? 1 : choices.intValue();
        Long seed = f.integer("seed", Long.MIN_VALUE, Long.MAX_VALUE);
        List<String> stop = f.stop();
        boolean stream = f.bool("stream", false);
        boolean includeUsage = false;
        if (f.has("stream_options")) {
            JsonNode so = f.node("stream_options");
            if (!so.isObject()) throw ApiError.badField("stream_options", "'stream_options' must be an object, got " + Fields.kind(so));
            includeUsage = new Fields(so).bool("include_usage", false);
        }
        long baseSeed = seed != null ? seed : ThreadLocalRandom.current().nextLong();

        LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
        List<Engine.Handle> handles = new ArrayList<>();
        try {
            for (int i = 0; i < n; i++) {
                int choice = i;
                var r = new Engine.Request(prompt, adapter, maxTokens, temperature, topP < 1 ? topP : null, baseSeed + i, stop);
                handles.add(engine.submit(r, new Sink() {
                    @Override
                    public void text(String delta) { events.add(new Event(choice, delta, null, 0, null)); }

                    @Override
                    public void finish(Finish reason, int promptTokens, int completionTokens) {
                        events.add(new Event(choice, null, reason, completionTokens, null));
                    }

                    @Override
                    public void error(String message) { events.add(new Event(choice, null, null, 0, message)); }
                }));
            }
        } catch (RuntimeException e) {
            handles.forEach(Engine.Handle::cancel);
            throw e;
        }
        String id = (chat ? "chatcmpl-" : "cmpl-") + UUID.randomUUID().toString().replace("-", "");
        try {
            return stream ? streamEvents(ex, chat, id, model, n, prompt.length, includeUsage, events)
                    : collect(ex, chat, id, model, n, prompt.length, events);
        } catch (IOException | RuntimeException e) {
            handles.forEach(Engine.Handle::cancel); // the client went away (or writing failed): free the slots at the next token
            throw e;
        } catch (InterruptedException e) {
            handles.forEach(Engine.Handle::cancel);
            Thread.currentThread().interrupt();
            return 499;
        }
    }

    private int[] chatPrompt(Fields f) {
        JsonNode msgs = f.node("messages");
        if (msgs == null || msgs.isNull()) throw ApiError.badField("messages", "'messages' is required");
        if (!msgs.isArray() || msgs.isEmpty()) throw ApiError.badField("messages", "'messages' must be a non-empty array of messages");
        List<ChatTemplate.Message> out = new ArrayList<>();
        int i = 0;
        for (JsonNode m : msgs) {
            String at = "messages[" + i++ + "]";
            if (!m.isObject()) throw ApiError.badField(at, "'" + at + "' must be an object, got " + Fields.kind(m));
            JsonNode role = m.get("role"), content = m.get("content");
            if (role == null || !role.isTextual()) throw ApiError.badField(at + ".role", "'" + at + ".role' must be a string");
            out.add(new ChatTemplate.Message(role.asText(), content(content, at + ".content")));
        }
        if (!tok.hasChatTemplate()) {
            throw ApiError.badField("messages", "the model's tokenizer has no chat template; use /v1/completions with a plain prompt");
        }
        try {
            synchronized (tok) {
                return tok.encodeChat(out, true);
            }
        } catch (ChatTemplate.TemplateException e) {
            throw ApiError.badField("messages", "the chat template refused the messages: " + e.getMessage());
        }
    }

    /** A message's content: a string, or OpenAI's array of parts of which the text parts count. */
    private static String content(JsonNode c, String at) {
        if (c == null || c.isNull()) return "";
        if (c.isTextual()) return c.asText();
        if (!c.isArray()) throw ApiError.badField(at, "'" + at + "' must be a string or an array of content parts, got " + Fields.kind(c));
        StringBuilder b = new StringBuilder();
        for (JsonNode p : c) {
            if (!p.isObject() || !"text".equals(p.path("type").asText()) || !p.path("text").isTextual()) {
                throw ApiError.badField(at, "'" + at + "' parts must be {\"type\": \"text\", \"text\": \"...\"} (this model reads text only)");
            }
            b.append(p.get("text").asText());
        }
        return b.toString();
    }

    /** A completion's prompt: a string, an array of one string, or an array of token ids. */
    private int[] textPrompt(Fields f) {
        JsonNode p = f.node("prompt");
        if (p == null || p.isNull()) throw ApiError.badField("prompt", "'prompt' is required");
        int[] ids;
        if (p.isTextual() || p.isArray() && p.size() == 1 && p.get(0).isTextual()) {
            String text = p.isTextual() ? p.asText() : p.get(0).asText();
            synchronized (tok) {
                ids = tok.encodePrompt(text);
            }
        } else if (p.isArray() && !p.isEmpty() && allInts(p)) {
            ids = new int[p.size()];
            int vocab = engine.model().vocabSize();
            for (int i = 0; i < ids.length; i++) {
                long v = p.get(i).asLong();
                if (v < 0 || v >= vocab) throw ApiError.badField("prompt", "token id " + v + " is out of range for the vocabulary of " + vocab);
                ids[i] = (int) v;
            }
        } else {
            throw ApiError.badField("prompt", "'prompt' must be a string, an array of one string, or an array of token ids");
        }
        return special.startIfEmpty(ids);
    }

    private static boolean allInts(JsonNode a) {
        for (JsonNode x : a) if (!x.isIntegralNumber() || !x.canConvertToLong()) return false;
        return true;
    }

    private int collect(HttpExchange ex, boolean chat, String id, String model, int n, int promptTokens, LinkedBlockingQueue<Event> events)
            throws IOException, InterruptedException {
        StringBuilder[] texts = new StringBuilder[n];
        Sink.Finish[] finish = new Sink.Finish[n];
        int completion = 0;
        for (int i = 0; i < n; i++) texts[i] = new StringBuilder();
        for (int left = n; left > 0; ) {
            Event e = events.take();
            if (e.error() != null) throw new ApiError(503, "server_error", null, null, e.error());
            if (e.text() != null) texts[e.choice()].append(e.text());
            if (e.finish() != null) {
                finish[e.choice()] = e.finish();
                completion += e.completionTokens();
                left--;
            }
        }
        ObjectNode o = head(chat ? "chat.completion" : "text_completion", id, model);
        ArrayNode choices = o.putArray("choices");
        for (int i = 0; i < n; i++) {
            ObjectNode c = choices.addObject().put("index", i);
            if (chat) c.putObject("message").put("role", "assistant").put("content", texts[i].toString());
            else c.put("text", texts[i].toString());
            c.putNull("logprobs");
            c.put("finish_reason", finish[i].openAi);
        }
        o.set("usage", usage(promptTokens, completion));
        return sendJson(ex, 200, o);
    }

    private int streamEvents(HttpExchange ex, boolean chat, String id, String model, int n, int promptTokens, boolean includeUsage,
                             LinkedBlockingQueue<Event> events) throws IOException, InterruptedException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        String object = chat ? "chat.completion.chunk" : "text_completion";
        if (chat) {
            for (int i = 0; i < n; i++) {
                ObjectNode c = chunk(object, id, model, i);
                ((ObjectNode) c.get("choices").get(0)).putObject("delta").put("role", "assistant").put("content", "");
                sse(out, c);
            }
        }
        int completion = 0;
        for (int left = n; left > 0; ) {
            Event e = events.take();
            if (e.error() != null) {
                ObjectNode err = JSON.createObjectNode();
                err.putObject("error").put("message", e.error()).put("type", "server_error").putNull("param").putNull("code");
                sse(out, err);
                return 200;
            }
            ObjectNode c = chunk(object, id, model, e.choice());
            ObjectNode choice = (ObjectNode) c.get("choices").get(0);
            if (e.text() != null) {
                if (chat) choice.putObject("delta").put("content", e.text());
                else choice.put("text", e.text());
            } else {
                if (chat) choice.putObject("delta");
                else choice.put("text", "");
                choice.put("finish_reason", e.finish().openAi);
                completion += e.completionTokens();
                left--;
            }
            sse(out, c);
        }
        if (includeUsage) {
            ObjectNode u = head(object, id, model);
            u.putArray("choices");
            u.set("usage", usage(promptTokens, completion));
            sse(out, u);
        }
        out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        return 200;
    }

    private ObjectNode head(String object, String id, String model) {
        return JSON.createObjectNode().put("id", id).put("object", object).put("created", System.currentTimeMillis() / 1000).put("model", model)
                .putNull("system_fingerprint");
    }

    private ObjectNode chunk(String object, String id, String model, int index) {
        ObjectNode c = head(object, id, model);
        ObjectNode choice = c.putArray("choices").addObject().put("index", index);
        choice.putNull("logprobs");
        choice.putNull("finish_reason");
        return c;
    }

    private static ObjectNode usage(int prompt, int completion) {
        return JSON.createObjectNode().put("prompt_tokens", prompt).put("completion_tokens", completion).put("total_tokens", prompt + completion);
    }

    private static void sse(OutputStream out, ObjectNode o) throws IOException {
        out.write(("data: " + JSON.writeValueAsString(o) + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    // ------------------------------------------------------------------ plain responses

    private static int sendError(HttpExchange ex, ApiError e) throws IOException {
        ObjectNode o = JSON.createObjectNode();
        o.putObject("error").put("message", e.getMessage()).put("type", e.type).put("param", e.param).put("code", e.code);
        return sendJson(ex, e.status, o);
    }

    private static int sendJson(HttpExchange ex, int status, ObjectNode o) throws IOException {
        return send(ex, status, "application/json", JSON.writeValueAsBytes(o));
    }

    private static int send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        ex.sendResponseHeaders(status, body.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(body);
        }
        return status;
    }
}
