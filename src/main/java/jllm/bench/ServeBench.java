package jllm.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A bounded load generator for an OpenAI-compatible server ({@code jllm bench serve}): closed-loop
 * clients, each sending one streaming {@code /v1/completions} request after another (a prompt of
 * random token ids, server-sent events read as they arrive), measure requests/s, aggregate
 * completion tokens/s, time to the first token and the time between tokens; the soak mode sends mixed
 * traffic with intended client disconnects and bad requests for a while and reports the process's
 * memory at its start and end.
 */
public final class ServeBench {
    static {
        // The JDK HttpServer closes a connection that has been idle for sun.net.httpserver.idleInterval
        // (30 s by default; its timer looks every 10 s), and the JDK HttpClient keeps an idle connection
        // in its pool for jdk.httpclient.keepalive.timeout (also 30 s). With equal limits the client can
        // take a pooled connection and write its POST just as the server closes it: the request fails with
        // "HTTP/1.1 header parser received no bytes" (and a POST is not retried). A client limit well
        // below the server's makes the client always drop an idle connection first. Both limits are read
        // once per JVM, when the first client is built, so this is set before ServeBench makes its client
        // (it stays as given when set on the command line).
        long serverIdle = Long.getLong("sun.net.httpserver.idleInterval", 30);
        if (System.getProperty("jdk.httpclient.keepalive.timeout") == null) {
            System.setProperty("jdk.httpclient.keepalive.timeout", Long.toString(Math.max(1, Math.min(10, serverIdle / 3))));
        }
    }

    private static final ObjectMapper JSON = new ObjectMapper();
    /** How long a request may wait for its response's headers (a stream's come at once; a whole answer's when it is done). */
    private static final Duration TIMEOUT = Duration.ofMinutes(10);

    private final URI base;
    private final String model;
    private final int vocab;
    private final PrintStream out;
    private final HttpClient http;

    /**
     * @param baseUrl the server's API root, e.g. http://127.0.0.1:8000/v1
     * @param model   the model id requests name
     * @param vocab   the model's vocabulary size (prompts are random ids below it)
     */
    public ServeBench(String baseUrl, String model, int vocab, PrintStream out) {
        this.base = URI.create(baseUrl.endsWith("/") ? baseUrl : baseUrl + "/");
        this.model = model;
        this.vocab = vocab;
        this.out = out;
        // HTTP/1.1 as the server speaks it (no h2c upgrade headers); a client thread per stream, virtual
        http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10))
                .executor(Executors.newVirtualThreadPerTaskExecutor()).build();
    }

    // ------------------------------------------------------------------ one request

    /** What one request came to: its status (200, an HTTP error, or -1 for a failure before one), tokens and times. */
    record Outcome(int status, String error, int tokens, double ttftMs, List<Double> gapsMs, boolean disconnected) {
        boolean ok() { return status == 200 && error == null; }
    }

    private ObjectNode completion(int[] prompt, int maxTokens, long seed, boolean stream) {
        ObjectNode b = JSON.createObjectNode().put("model", model).put("max_tokens", maxTokens).put("temperature", 1.0).put("seed", seed);
        var p = b.putArray("prompt");
        for (int t : prompt) p.add(t);
        if (stream) {
            b.put("stream", true);
            b.putObject("stream_options").put("include_usage", true);
        }
        return b;
    }

    private HttpRequest post(String path, ObjectNode body) {
        try {
            return HttpRequest.newBuilder(base.resolve(path)).timeout(TIMEOUT).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofByteArray(JSON.writeValueAsBytes(body))).build();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * One streaming completion, read event by event. With disconnectAfter > 0 the client closes the
     * stream after that many text events (a client that goes away mid-answer).
     */
    Outcome stream(int[] prompt, int maxTokens, long seed, int disconnectAfter) {
        long t0 = System.nanoTime();
        HttpResponse<InputStream> r;
        try {
            r = http.send(post("completions", completion(prompt, maxTokens, seed, true)), HttpResponse.BodyHandlers.ofInputStream());
        } catch (IOException e) {
            return new Outcome(-1, e.toString(), 0, Double.NaN, List.of(), false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Outcome(-1, e.toString(), 0, Double.NaN, List.of(), false);
        }
        List<Double> gaps = new ArrayList<>();
        double ttft = Double.NaN;
        int events = 0, tokens = -1;
        long last = 0;
        try (InputStream in = r.body(); BufferedReader rd = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            if (r.statusCode() != 200) return new Outcome(r.statusCode(), errorMessage(in.readAllBytes()), 0, Double.NaN, List.of(), false);
            boolean done = false;
            for (String line; (line = rd.readLine()) != null; ) {
                if (!line.startsWith("data: ")) continue;
                String data = line.substring(6);
                if (data.equals("[DONE]")) {
                    done = true;
                    break;
                }
                JsonNode c = JSON.readTree(data);
                if (c.has("error")) return new Outcome(200, "error event: " + c.at("/error/message").asText(), events, ttft, gaps, false);
                if (c.hasNonNull("usage")) tokens = c.at("/usage/completion_tokens").asInt();
                if (!c.path("choices").isEmpty() && !c.at("/choices/0/text").asText("").isEmpty()) {
                    long now = System.nanoTime();
                    if (events == 0) ttft = (now - t0) / 1e6;
                    else gaps.add((now - last) / 1e6);
                    last = now;
                    events++;
                    if (disconnectAfter > 0 && events >= disconnectAfter) return new Outcome(200, null, events, ttft, gaps, true);
                }
            }
            if (!done) return new Outcome(200, "the stream ended without [DONE]", events, ttft, gaps, false);
            if (tokens < 0) return new Outcome(200, "the stream sent no usage", events, ttft, gaps, false);
            return new Outcome(200, null, tokens, ttft, gaps, false);
        } catch (IOException e) {
            return new Outcome(200, e.toString(), events, ttft, gaps, false);
        }
    }

    private static String errorMessage(byte[] body) {
        try {
            JsonNode e = JSON.readTree(body).path("error");
            return e.path("message").asText() + (e.hasNonNull("param") ? " (param " + e.get("param").asText() + ")" : "");
        } catch (IOException e) {
            return new String(body, StandardCharsets.UTF_8);
        }
    }

    private int[] prompt(SplittableRandom rnd, int len) {
        int[] p = new int[len];
        for (int i = 0; i < len; i++) p[i] = rnd.nextInt(vocab);
        return p;
    }

    // ------------------------------------------------------------------ closed-loop runs

    /** One run's numbers. */
    public record Result(int clients, int requests, int errors, double seconds, long tokens, Percentiles ttftMs, Percentiles itlMs,
                         List<String> errorSamples) {
        public double requestsPerSecond() { return (requests - errors) / seconds; }

        public double tokensPerSecond() { return tokens / seconds; }
    }

    /** clients threads send requests streaming completions in all, each the next as soon as its last has ended. */
    public Result run(int clients, int requests, int promptLen, int maxTokens, long seed) throws InterruptedException {
        AtomicInteger next = new AtomicInteger();
        AtomicLong tokens = new AtomicLong();
        List<Outcome> outcomes = java.util.Collections.synchronizedList(new ArrayList<>());
        long t0 = System.nanoTime();
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < clients; c++) {
                ex.submit(() -> {
                    for (int i; (i = next.getAndIncrement()) < requests; ) {
                        SplittableRandom rnd = new SplittableRandom(seed * 1_000_003L + i);
                        Outcome o = stream(prompt(rnd, promptLen), maxTokens, seed + i, 0);
                        if (o.ok()) tokens.addAndGet(o.tokens());
                        outcomes.add(o);
                    }
                });
            }
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        Percentiles ttft = new Percentiles(), itl = new Percentiles();
        int errors = 0;
        List<String> samples = new ArrayList<>();
        for (Outcome o : outcomes) {
            if (!o.ok()) {
                errors++;
                if (samples.size() < 3) samples.add((o.status() > 0 ? "HTTP " + o.status() + ": " : "") + o.error());
                continue;
            }
            if (!Double.isNaN(o.ttftMs())) ttft.add(o.ttftMs());
            o.gapsMs().forEach(itl::add);
        }
        return new Result(clients, requests, errors, secs, tokens.get(), ttft, itl, samples);
    }

    /**
     * A warm-up run (not reported) at the largest concurrency, then a run per client count, each
     * after a short warm-up of its own (max(2, clients) requests), printed as a table. Returns the runs.
     */
    public List<Result> sweep(List<Integer> clientCounts, int requests, int promptLen, int maxTokens, int warmup) throws InterruptedException {
        int most = clientCounts.stream().mapToInt(Integer::intValue).max().orElseThrow();
        if (warmup > 0) {
            Result w = run(most, warmup, promptLen, maxTokens, 999);
            out.printf(Locale.ROOT, "warm-up: %d requests at %d clients in %.1f s (not reported)%s%n", warmup, most, w.seconds(),
                    w.errors() > 0 ? ", " + w.errors() + " errors: " + w.errorSamples() : "");
        }
        out.printf(Locale.ROOT, "%7s %10s %9s %11s %9s %9s %8s %8s %7s%n", "clients", "requests/s", "tokens/s", "vs 1 client",
                "TTFT p50", "TTFT p99", "ITL p50", "ITL p99", "errors");
        List<Result> results = new ArrayList<>();
        Double one = null;
        for (int c : clientCounts) {
            // each count's own code paths warm too (decoding one row runs other kernels than sixteen):
            // otherwise the first count's run, typically 1 client, pays for their compilation
            if (warmup > 0 && c != most) run(c, Math.max(2, c), promptLen, maxTokens, 998);
            Result r = run(c, requests, promptLen, maxTokens, c);
            results.add(r);
            if (c == 1 && one == null) one = r.tokensPerSecond();
            row(c, r.requestsPerSecond(), r.tokensPerSecond(), one, r.ttftMs().percentile(50), r.ttftMs().percentile(99),
                    r.itlMs().percentile(50), r.itlMs().percentile(99), String.valueOf(r.errors()));
            for (String s : r.errorSamples()) out.println("        error: " + s);
            out.flush();
        }
        return results;
    }

    /** One row of the sweep's table; the ratio is to the 1-client tokens/s (one), "-" before it is known. */
    private void row(int clients, double requestsPerSecond, double tokensPerSecond, Double one, double ttft50, double ttft99,
                     double itl50, double itl99, String errors) {
        out.printf(Locale.ROOT, "%7d %10.2f %9.1f %11s %7.0fms %7.0fms %6.1fms %6.1fms %7s%n", clients, requestsPerSecond, tokensPerSecond,
                one == null ? "-" : String.format(Locale.ROOT, "%.2fx", tokensPerSecond / one), ttft50, ttft99, itl50, itl99, errors);
    }

    /**
     * llama.cpp's rows beside {@link #sweep}'s, on the same GGUF file with the same load
     * (tools/gguf/bench_llamacpp_serve.mjs: one context with as many sequences as clients,
     * node-llama-cpp batching their steps, closed-loop clients, temperature 1, a seed per request).
     * It is llama.cpp's engine without HTTP, so the comparison favours llama.cpp. Errors are not
     * counted there ("-").
     */
    public void llamaCppSweep(java.nio.file.Path gguf, List<Integer> clientCounts, int requests, int promptLen, int maxTokens) {
        int threads = Runtime.getRuntime().availableProcessors();
        String missing = LlamaCpp.missing();
        if (missing != null) {
            out.println("llama.cpp: not run (" + missing + ")");
            return;
        }
        out.printf(Locale.ROOT, "llama.cpp on the same file (node-llama-cpp 3.21.1, %d threads, no HTTP):%n", threads);
        try {
            String counts = clientCounts.stream().map(String::valueOf).collect(java.util.stream.Collectors.joining(","));
            Double one = null;
            for (var r : LlamaCpp.run("bench_llamacpp_serve.mjs", List.of(gguf.toString(), counts, String.valueOf(requests),
                    String.valueOf(promptLen), String.valueOf(maxTokens), String.valueOf(threads)))) {
                int c = r.get("clients").asInt();
                double secs = r.get("seconds").asDouble(), tps = r.get("tokens").asDouble() / secs;
                if (c == 1 && one == null) one = tps;
                row(c, r.get("requests").asInt() / secs, tps, one, r.get("ttft_ms").get(0).asDouble(), r.get("ttft_ms").get(1).asDouble(),
                        r.get("itl_ms").get(0).asDouble(), r.get("itl_ms").get(1).asDouble(), "-");
            }
        } catch (Exception e) {
            out.println("llama.cpp: did not run: " + e.getMessage());
        }
        out.flush();
    }

    // ------------------------------------------------------------------ soak

    /** What a soak came to. unexpected counts every answer other than the intended ones. */
    public record Soak(Map<String, Integer> kinds, long tokens, int disconnects, int refused, int unexpected, List<String> errorSamples,
                       long rssStart, long rssEnd, long heapStart, long heapEnd, int runningAfter) {}

    /**
     * Mixed traffic from clients threads for seconds: streams read to the end (40%), streams the
     * client abandons after a random number of tokens (20%), whole completions (20%), GET /v1/models
     * and /metrics (10%), and requests the server must refuse with 400 (10%: an unsupported parameter,
     * max_tokens beyond the context), client c starting with the (c mod 5)-th of these. Memory
     * (resident set, heap after a full GC) is read at the start and at the end; at the end the
     * server must have no running or waiting sequence left.
     */
    public Soak soak(int seconds, int clients, int promptLen, int maxTokens, int context, long seed) throws InterruptedException, IOException {
        long rss0 = rssBytes(), heap0 = heapAfterGc();
        out.printf(Locale.ROOT, "soak: %d s, %d clients; at start: RSS %s, heap after GC %s%n", seconds, clients, mb(rss0), mb(heap0));
        Map<String, AtomicInteger> kinds = new TreeMap<>();
        for (String k : List.of("stream", "stream-disconnect", "whole", "get", "bad-request")) kinds.put(k, new AtomicInteger());
        AtomicLong tokens = new AtomicLong();
        AtomicInteger disconnects = new AtomicInteger(), refused = new AtomicInteger(), unexpected = new AtomicInteger();
        List<String> samples = java.util.Collections.synchronizedList(new ArrayList<>());
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        long report = Math.max(10, seconds / 4) * 1_000_000_000L;
        Thread reporter = Thread.ofVirtual().start(() -> {
            try {
                for (long at = System.nanoTime() + report; at < end; at += report) {
                    Thread.sleep(Duration.ofNanos(Math.max(0, at - System.nanoTime())));
                    int n = kinds.values().stream().mapToInt(AtomicInteger::get).sum();
                    out.printf(Locale.ROOT, "  %3.0f s: %d requests, %d tokens, %d unexpected errors, RSS %s%n",
                            seconds - (end - System.nanoTime()) / 1e9, n, tokens.get(), unexpected.get(), mb(rssBytes()));
                    out.flush();
                }
            } catch (InterruptedException | IOException e) {
                // the soak is over
            }
        });
        try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int c = 0; c < clients; c++) {
                long clientSeed = seed * 7919 + c;
                // client c starts with kind c mod 5, so that even a short soak from 5 clients sends every kind
                double firstKind = new double[] {0, 0.4, 0.6, 0.8, 0.9}[c % 5];
                ex.submit(() -> {
                    Random rnd = new Random(clientSeed);
                    SplittableRandom ids = new SplittableRandom(clientSeed);
                    for (boolean first = true; System.nanoTime() < end; first = false) {
                        double u = first ? firstKind : rnd.nextDouble();
                        int len = 1 + rnd.nextInt(promptLen), max = 1 + rnd.nextInt(maxTokens);
                        String kind;
                        String error = null;
                        try {
                            if (u < 0.4) {
                                kind = "stream";
                                Outcome o = stream(prompt(ids, len), max, rnd.nextLong(), 0);
                                if (o.ok()) tokens.addAndGet(o.tokens());
                                else error = o.status() + ": " + o.error();
                            } else if (u < 0.6) {
                                kind = "stream-disconnect";
                                Outcome o = stream(prompt(ids, len), Math.max(2, max), rnd.nextLong(), 1 + rnd.nextInt(Math.max(1, max / 2)));
                                if (!o.ok()) error = o.status() + ": " + o.error();
                                else if (o.disconnected()) disconnects.incrementAndGet();
                                else tokens.addAndGet(o.tokens()); // it ended before the client meant to leave
                            } else if (u < 0.8) {
                                kind = "whole";
                                var r = http.send(post("completions", completion(prompt(ids, len), max, rnd.nextLong(), false)),
                                        HttpResponse.BodyHandlers.ofByteArray());
                                if (r.statusCode() == 200) tokens.addAndGet(JSON.readTree(r.body()).at("/usage/completion_tokens").asInt());
                                else error = r.statusCode() + ": " + errorMessage(r.body());
                            } else if (u < 0.9) {
                                kind = "get";
                                String path = rnd.nextBoolean() ? "models" : "../metrics";
                                var r = http.send(HttpRequest.newBuilder(base.resolve(path)).timeout(TIMEOUT).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
                                if (r.statusCode() != 200) error = r.statusCode() + " on GET " + path;
                            } else {
                                kind = "bad-request";
                                boolean tooLong = rnd.nextBoolean();
                                ObjectNode b = completion(prompt(ids, len), tooLong ? context + 1 : max, 0, false);
                                if (!tooLong) b.put("logprobs", 2);
                                String param = tooLong ? "max_tokens" : "logprobs";
                                var r = http.send(post("completions", b), HttpResponse.BodyHandlers.ofByteArray());
                                JsonNode e = r.statusCode() == 400 ? JSON.readTree(r.body()).path("error") : null;
                                if (e != null && param.equals(e.path("param").asText())) refused.incrementAndGet();
                                else error = r.statusCode() + " instead of 400 naming " + param + ": " + new String(r.body(), StandardCharsets.UTF_8);
                            }
                        } catch (IOException e) {
                            kind = "io";
                            error = e.toString();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                            return;
                        }
                        kinds.computeIfAbsent(kind, k -> new AtomicInteger()).incrementAndGet();
                        if (error != null) {
                            unexpected.incrementAndGet();
                            if (samples.size() < 5) samples.add(kind + ": " + error);
                        }
                    }
                });
            }
        }
        reporter.interrupt();
        // an abandoned stream leaves the batch at the server's next token boundary: give it a moment
        int running = -1;
        for (int i = 0; i < 100; i++) {
            running = runningAndWaiting();
            if (running == 0) break;
            Thread.sleep(100);
        }
        long rss1 = rssBytes(), heap1 = heapAfterGc();
        Map<String, Integer> counts = new TreeMap<>();
        kinds.forEach((k, v) -> counts.put(k, v.get()));
        Soak s = new Soak(counts, tokens.get(), disconnects.get(), refused.get(), unexpected.get(), List.copyOf(samples), rss0, rss1, heap0, heap1, running);
        out.printf(Locale.ROOT, "soak: %d requests %s, %d tokens generated, %d client disconnects mid-stream, %d bad requests refused with 400 as "
                        + "intended, %d unexpected errors%n", counts.values().stream().mapToInt(Integer::intValue).sum(), counts, s.tokens(),
                s.disconnects(), s.refused(), s.unexpected());
        for (String e : s.errorSamples()) out.println("  error: " + e);
        // the resident set holds the heap G1 has committed (it grows under allocation and is given back slowly), so it is shown beside it
        out.printf(Locale.ROOT, "soak: at end: RSS %s (start %s), heap after GC %s (start %s), heap committed %s; sequences left on the server: %d%n",
                mb(rss1), mb(rss0), mb(heap1), mb(heap0), mb(ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted()), running);
        out.flush();
        return s;
    }

    /** The server's running plus waiting sequences, from its /metrics. */
    private int runningAndWaiting() throws IOException, InterruptedException {
        var r = http.send(HttpRequest.newBuilder(base.resolve("../metrics")).timeout(TIMEOUT).GET().build(), HttpResponse.BodyHandlers.ofString());
        double n = 0;
        for (String line : r.body().lines().toList()) {
            if (line.startsWith("jllm_running_sequences ") || line.startsWith("jllm_queue_length ")) n += Double.parseDouble(line.substring(line.indexOf(' ') + 1));
        }
        return (int) n;
    }

    /** This process's resident set (VmRSS in /proc/self/status), in bytes; -1 where there is no /proc. */
    public static long rssBytes() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) return -1;
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmRSS:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        }
        return -1;
    }

    /** The heap in use after a full collection (System.gc; a G1 full GC unless explicit GCs are disabled). */
    public static long heapAfterGc() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    private static String mb(long bytes) {
        return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
    }
}
