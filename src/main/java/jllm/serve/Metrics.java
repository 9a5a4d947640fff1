package jllm.serve;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/** The server's counters and gauges, written in Prometheus' text exposition format (version 0.0.4) at /metrics. */
public final class Metrics {
    final AtomicLong queueLength = new AtomicLong(), running = new AtomicLong(), cancelled = new AtomicLong();
    private final Map<String, AtomicLong> requests = new ConcurrentHashMap<>();
    private long promptTokens, generatedTokens, prefillTokens, steps, stepRows, ttftCount;
    private double ttftSum, stepSeconds, lastBatch, tokensPerSecond;

    /** One HTTP request answered on endpoint with status. */
    public void request(String endpoint, int status) {
        requests.computeIfAbsent(endpoint + "\u0000" + status, k -> new AtomicLong()).incrementAndGet();
    }

    synchronized void step(int rows, int sampled, int prefill, double seconds) {
        steps++;
        stepRows += rows;
        lastBatch = rows;
        generatedTokens += sampled;
        prefillTokens += prefill;
        stepSeconds += seconds;
        // a moving average over about the last 20 steps: what the server does now, not since start
        double rate = seconds > 0 ? sampled / seconds : 0;
        tokensPerSecond = steps == 1 ? rate : 0.95 * tokensPerSecond + 0.05 * rate;
    }

    synchronized void firstToken(double seconds) {
        ttftCount++;
        ttftSum += seconds;
    }

    synchronized void finished(int prompt) {
        promptTokens += prompt;
    }

    /** The exposition text. */
    public synchronized String render() {
        StringBuilder b = new StringBuilder();
        b.append("# HELP jllm_requests_total HTTP requests answered, by endpoint and status.\n# TYPE jllm_requests_total counter\n");
        requests.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
            String[] k = e.getKey().split("\u0000");
            b.append("jllm_requests_total{endpoint=\"").append(k[0]).append("\",status=\"").append(k[1]).append("\"} ").append(e.getValue().get()).append('\n');
        });
        counter(b, "jllm_prompt_tokens_total", "Prompt tokens of finished sequences.", promptTokens);
        counter(b, "jllm_generation_tokens_total", "Tokens generated (sampled).", generatedTokens);
        counter(b, "jllm_prefill_tokens_total", "Tokens fed to the model beyond one per sampled token (prompt chunks).", prefillTokens);
        counter(b, "jllm_cancelled_sequences_total", "Sequences whose client went away before they ended.", cancelled.get());
        counter(b, "jllm_steps_total", "Batched model steps.", steps);
        gauge(b, "jllm_queue_length", "Requests waiting to join the batch.", queueLength.get());
        gauge(b, "jllm_running_sequences", "Sequences in the running batch.", running.get());
        gauge(b, "jllm_batch_size", "Sequences in the last step.", lastBatch);
        gauge(b, "jllm_batch_size_mean", "Mean sequences per step since start.", steps == 0 ? 0 : (double) stepRows / steps);
        gauge(b, "jllm_generation_tokens_per_second", "Aggregate tokens/s of recent steps (moving average).", tokensPerSecond);
        b.append("# HELP jllm_time_to_first_token_seconds Time from a request's arrival to its first token.\n")
                .append("# TYPE jllm_time_to_first_token_seconds summary\n")
                .append("jllm_time_to_first_token_seconds_sum ").append(num(ttftSum)).append('\n')
                .append("jllm_time_to_first_token_seconds_count ").append(ttftCount).append('\n');
        counter(b, "jllm_step_seconds_total", "Seconds spent in model steps.", stepSeconds);
        return b.toString();
    }

    private static void counter(StringBuilder b, String name, String help, double v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" counter\n")
                .append(name).append(' ').append(num(v)).append('\n');
    }

    private static void gauge(StringBuilder b, String name, String help, double v) {
        b.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name).append(" gauge\n")
                .append(name).append(' ').append(num(v)).append('\n');
    }

    private static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) : String.format(Locale.ROOT, "%.6g", v);
    }
}
