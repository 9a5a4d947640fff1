package jllm.serve;

import jllm.generate.Sampler;
import jllm.lora.MultiLora;
import jllm.models.CausalLM;
import jllm.models.KVCache;
import jllm.tensor.Tensor;
import jllm.tokenizer.StreamDecoder;
import jllm.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * The continuous-batching scheduler. Requests wait in a bounded queue; at every token boundary the
 * engine admits waiting requests into the running batch (up to maxBatch sequences), drops finished
 * and cancelled ones, and runs one ragged step of the model over all running sequences: one new
 * token for each decoding sequence and a chunk of the prompt for each prefilling one, the chunks
 * together at most prefillChunk tokens, so that a long prompt is fed over several steps while the
 * others keep decoding. Each sequence has its own KV cache (grown with the sequence, freed when it
 * ends), its own seeded sampler (so its text does not depend on its neighbours) and its own
 * detokenizer and stop-sequence matcher.
 *
 * <p>One thread runs the model; {@link #submit} and {@link Handle#cancel} may be called from any
 * thread.
 */
public final class Engine implements AutoCloseable {

    /**
     * One sequence to generate.
     *
     * @param prompt      the prompt's token ids (at least one)
     * @param adapter     the LoRA adapter's index in the engine's {@link MultiLora}, or -1 for the base model
     * @param maxTokens   tokens to generate at most (prompt + maxTokens must fit the context)
     * @param temperature 0 = greedy
     * @param topP        nucleus sampling, null = off
     * @param seed        the sampler's seed
     * @param stop        stop sequences: the text ends before the first one generated
     */
    public record Request(int[] prompt, int adapter, int maxTokens, double temperature, Double topP, long seed, List<String> stop) {
        public Request {
            if (prompt.length == 0) throw new IllegalArgumentException("the prompt has no tokens");
            if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
            stop = stop == null ? List.of() : List.copyOf(stop);
        }
    }

    /** A submitted sequence: cancel() frees its slot at the next token boundary. */
    public interface Handle {
        void cancel();
    }

    /** The queue is full: the client should retry later (HTTP 429). */
    public static final class QueueFullException extends RuntimeException {
        QueueFullException(int max) { super("the server is busy: " + max + " requests are already waiting; retry later"); }
    }

    /** The engine no longer takes requests (HTTP 503). */
    public static final class ShutDownException extends RuntimeException {
        ShutDownException() { super("the server is shutting down"); }
    }

    private final CausalLM model;
    private final MultiLora lora;
    private final Tokenizer tokenizer;
    private final Set<Long> eos;
    private final int maxBatch, maxQueue, prefillChunk;
    private final Metrics metrics;
    private final LinkedBlockingQueue<Sequence> waiting;
    private final List<Sequence> running = new ArrayList<>();
    private final Thread thread;
    private volatile boolean accepting = true, stopping;
    private volatile long drainDeadline = Long.MAX_VALUE;

    /**
     * @param lora         the adapters loaded into model, or null
     * @param tokenizer    decodes the output (calls are serialized on it)
     * @param eos          the token ids that end a sequence
     * @param prefillChunk the most prompt tokens fed in one step, over all prefilling sequences
     */
    public Engine(CausalLM model, MultiLora lora, Tokenizer tokenizer, Set<Long> eos, int maxBatch, int maxQueue, int prefillChunk, Metrics metrics) {
        if (maxBatch < 1 || maxQueue < 1 || prefillChunk < 1) {
            throw new IllegalArgumentException("maxBatch, maxQueue and prefillChunk must be >= 1, got " + maxBatch + ", " + maxQueue + ", " + prefillChunk);
        }
        this.model = model;
        this.lora = lora;
        this.tokenizer = tokenizer;
        this.eos = Set.copyOf(eos);
        this.maxBatch = maxBatch;
        this.maxQueue = maxQueue;
        this.prefillChunk = prefillChunk;
        this.metrics = metrics;
        waiting = new LinkedBlockingQueue<>(maxQueue);
        model.eval();
        thread = Thread.ofPlatform().name("jllm-engine").daemon(true).start(this::loop);
    }

    public CausalLM model() { return model; }

    /** The longest prompt + max_tokens a request may ask for. */
    public int contextLength() { return model.blockSize(); }

    /** Queues a sequence; its output goes to sink. Throws QueueFullException or ShutDownException. */
    public Handle submit(Request r, Sink sink) {
        if (r.prompt().length + r.maxTokens() > model.blockSize()) {
            throw new IllegalArgumentException("the prompt (" + r.prompt().length + " tokens) plus max_tokens (" + r.maxTokens()
                    + ") is more than the model's context of " + model.blockSize() + " tokens");
        }
        for (int t : r.prompt()) {
            if (t < 0 || t >= model.vocabSize()) throw new IllegalArgumentException("token id " + t + " is out of range for the vocabulary of " + model.vocabSize());
        }
        if (r.adapter() < -1 || r.adapter() >= (lora == null ? 0 : lora.names().size())) {
            throw new IllegalArgumentException("no adapter " + r.adapter());
        }
        if (!accepting) throw new ShutDownException();
        Sequence s = new Sequence(r, sink);
        if (!waiting.offer(s)) throw new QueueFullException(maxQueue);
        metrics.queueLength.set(waiting.size());
        return s;
    }

    /**
     * Stops taking requests; waiting ones fail at once; running ones may finish for up to graceMillis,
     * then fail. Returns when the engine's thread has ended.
     */
    public void shutdown(long graceMillis) {
        accepting = false;
        drainDeadline = System.nanoTime() + graceMillis * 1_000_000L;
        stopping = true;
        try {
            thread.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() { shutdown(0); }

    // ------------------------------------------------------------------ the loop

    private void loop() {
        while (true) {
            if (stopping) {
                for (Sequence s; (s = waiting.poll()) != null; ) s.fail("the server is shutting down");
                if (running.isEmpty() || System.nanoTime() >= drainDeadline) {
                    for (Sequence s : running) s.fail("the server is shutting down");
                    running.clear();
                    metrics.running.set(0);
                    metrics.queueLength.set(0);
                    return;
                }
            } else {
                while (running.size() < maxBatch) {
                    Sequence s = waiting.poll();
                    if (s == null) break;
                    running.add(s);
                }
                if (running.isEmpty()) {
                    try {
                        // not interrupted by shutdown (an interrupt could land inside a model step); a short wait sees `stopping` soon
                        Sequence s = waiting.poll(100, TimeUnit.MILLISECONDS);
                        if (s != null) running.add(s);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        return;
                    }
                    metrics.queueLength.set(waiting.size());
                    continue;
                }
            }
            running.removeIf(s -> {
                if (s.cancelled) metrics.cancelled.incrementAndGet();
                return s.cancelled;
            });
            metrics.queueLength.set(waiting.size());
            metrics.running.set(running.size());
            if (running.isEmpty()) continue;
            try {
                step();
            } catch (RuntimeException | Error e) {
                // a bug must not stop the server's only model thread with requests waiting on it for ever
                for (Sequence s : running) s.fail("internal error: " + e);
                running.clear();
            }
            // sequences that ended in the step have left: the gauge must not keep the count from before it while idle
            metrics.running.set(running.size());
        }
    }

    /** One ragged forward over the running sequences, then one sampled token for each that has read its whole prompt. */
    private void step() {
        List<Sequence> in = new ArrayList<>();
        List<Integer> counts = new ArrayList<>();
        int budget = prefillChunk, total = 0;
        for (Sequence s : running) {
            int n = s.prefilling() ? Math.min(budget, s.request.prompt().length - s.fed) : 1;
            if (n == 0) continue;
            if (s.prefilling()) budget -= n;
            in.add(s);
            counts.add(n);
            total += n;
        }
        long[] tokens = new long[total];
        KVCache[] caches = new KVCache[in.size()];
        int[] cnt = new int[in.size()], adapters = new int[in.size()];
        int r = 0;
        for (int i = 0; i < in.size(); i++) {
            Sequence s = in.get(i);
            cnt[i] = counts.get(i);
            adapters[i] = s.request.adapter();
            if (s.cache == null) s.cache = model.newCache(1, Math.min(model.blockSize(), s.request.prompt().length));
            caches[i] = s.cache;
            if (s.prefilling()) {
                for (int j = 0; j < cnt[i]; j++) tokens[r++] = s.request.prompt()[s.fed + j];
            } else {
                tokens[r++] = s.last;
            }
        }
        long t0 = System.nanoTime();
        Tensor logits;
        try {
            if (lora != null) lora.route(cnt, adapters);
            logits = model.forwardRagged(tokens, caches, cnt);
        } catch (RuntimeException | OutOfMemoryError e) {
            // the step's sequences cannot go on (their caches may be half-written); the others, and the server, do
            for (Sequence s : in) s.fail("generation failed: " + e);
            running.removeAll(in);
            return;
        } finally {
            if (lora != null) lora.route(null, null);
        }
        int sampled = 0;
        for (int i = 0; i < in.size(); i++) {
            Sequence s = in.get(i);
            if (s.prefilling()) {
                s.fed += cnt[i];
                if (s.prefilling()) continue;
            }
            long tok = (long) s.sampler.sample(logits.narrow(0, i, 1)).item();
            sampled++;
            if (s.accept(tok)) running.remove(s);
        }
        double secs = (System.nanoTime() - t0) / 1e9;
        metrics.step(in.size(), sampled, total - sampled, secs);
    }

    // ------------------------------------------------------------------ one sequence

    private final class Sequence implements Handle {
        final Request request;
        final Sink sink;
        final Sampler sampler;
        final StreamDecoder decoder;
        final long submitted = System.nanoTime();
        final StringBuilder text = new StringBuilder();
        final int maxStop;
        KVCache cache;
        int fed, generated, emitted;
        long last;
        volatile boolean cancelled;

        Sequence(Request r, Sink sink) {
            this.request = r;
            this.sink = sink;
            sampler = new Sampler(r.temperature(), null, r.topP(), r.seed());
            decoder = new StreamDecoder(tokenizer, r.prompt());
            maxStop = r.stop().stream().mapToInt(String::length).max().orElse(0);
        }

        boolean prefilling() { return fed < request.prompt().length; }

        @Override
        public void cancel() { cancelled = true; }

        void fail(String message) {
            cache = null;
            sink.error(message);
        }

        /** Takes the sampled token; returns true when the sequence is done (its sink has been told). */
        boolean accept(long tok) {
            if (generated == 0) metrics.firstToken((System.nanoTime() - submitted) / 1e9);
            generated++;
            last = tok;
            if (eos.contains(tok)) return end(Sink.Finish.STOP, "");
            String piece;
            synchronized (tokenizer) {
                piece = decoder.push((int) tok);
            }
            text.append(piece);
            if (emitStopping()) return true;
            if (generated >= request.maxTokens() || cache.length() >= model.blockSize()) {
                String rest;
                synchronized (tokenizer) {
                    rest = decoder.flush();
                }
                text.append(rest);
                if (emitStopping()) return true;
                return end(Sink.Finish.LENGTH, text.substring(emitted));
            }
            return false;
        }

        /**
         * Emits the text that can no longer become part of a stop sequence; at a stop sequence emits
         * what precedes it, ends the sequence and returns true.
         */
        private boolean emitStopping() {
            if (maxStop == 0) {
                emit(text.length());
                return false;
            }
            int from = Math.max(0, emitted - maxStop + 1), at = -1;
            for (String s : request.stop()) {
                int i = text.indexOf(s, from);
                if (i >= 0 && (at < 0 || i < at)) at = i;
            }
            if (at >= 0) return end(Sink.Finish.STOP, text.substring(emitted, Math.max(emitted, at)));
            int hold = 0;
            for (String s : request.stop()) {
                for (int k = Math.min(s.length() - 1, text.length()); k > hold; k--) {
                    if (text.length() - k >= emitted && text.substring(text.length() - k).equals(s.substring(0, k))) {
                        hold = k;
                        break;
                    }
                }
            }
            emit(text.length() - hold);
            return false;
        }

        private void emit(int upTo) {
            if (upTo > emitted) {
                sink.text(text.substring(emitted, upTo));
                emitted = upTo;
            }
        }

        private boolean end(Sink.Finish reason, String lastText) {
            if (!lastText.isEmpty()) sink.text(lastText);
            cache = null;
            metrics.finished(request.prompt().length);
            sink.finish(reason, request.prompt().length, generated);
            return true;
        }
    }
}
