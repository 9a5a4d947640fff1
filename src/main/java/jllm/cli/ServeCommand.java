package jllm.cli;

import jllm.generate.SpecialTokens;
import jllm.lora.MultiLora;
import jllm.models.CausalLM;
import jllm.serve.Engine;
import jllm.serve.Metrics;
import jllm.serve.OpenAiServer;
import jllm.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code jllm serve}: an OpenAI-compatible HTTP server with continuous batching and several LoRA adapters at once. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a Hugging Face model directory over OpenAI's HTTP API (GET /v1/models, POST /v1/chat/completions, "
                + "POST /v1/completions, streaming as server-sent events; GET /health, GET /metrics in Prometheus format). "
                + "Concurrent requests are batched token by token (continuous batching); each --adapter is served as its own model "
                + "name, and requests for different adapters share a batch.",
                "Listens on 127.0.0.1 unless --host says otherwise; stops cleanly on Ctrl-C / SIGTERM (requests in flight get "
                        + "up to 10 s to finish, then end with an error)."})
public final class ServeCommand implements Callable<Integer> {
    /** How long requests in flight may run on after SIGINT/SIGTERM. */
    private static final long GRACE_MILLIS = 10_000;
    /** The most prompt tokens one step feeds: a long prompt is read over several steps while the others decode. */
    static final int PREFILL_CHUNK = 128;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, description = "Model directory or cached model name; its id in requests is the directory's name (or the cached name).")
    String model;

    @Option(names = "--adapter", paramLabel = "NAME=DIR", description = "A PEFT LoRA adapter directory served as model NAME (repeatable).")
    Map<String, Path> adapters = new LinkedHashMap<>();

    @Option(names = "--host", description = "The address to listen on (default: ${DEFAULT-VALUE}; 0.0.0.0 listens on every interface).")
    String host = "127.0.0.1";

    @Option(names = "--port", description = "The port (default: ${DEFAULT-VALUE}; 0 picks a free one).")
    int port = 8000;

    @Option(names = "--api-key", description = "Require 'Authorization: Bearer KEY' on /v1 requests (default: no key).")
    String apiKey;

    @Option(names = "--max-batch", description = "The most sequences decoded together (default: ${DEFAULT-VALUE}).")
    int maxBatch = 16;

    @Option(names = "--max-queue", description = "The most requests waiting for a place in the batch; more get HTTP 429 (default: ${DEFAULT-VALUE}).")
    int maxQueue = 256;

    @Mixin
    WeightTypeOption dtype = new WeightTypeOption();

    @Override
    public Integer call() throws Exception {
        CliErrors.check(spec, port >= 0 && port <= 65535, "--port must be in [0, 65535], got " + port);
        CliErrors.check(spec, maxBatch >= 1, "--max-batch must be >= 1, got " + maxBatch);
        CliErrors.check(spec, maxQueue >= 1, "--max-queue must be >= 1, got " + maxQueue);
        CliErrors.check(spec, apiKey == null || !apiKey.isBlank(), "--api-key must not be empty");
        DType weights = dtype.validate(spec);
        String baseId = Files.isDirectory(Path.of(model)) ? Path.of(model).toAbsolutePath().normalize().getFileName().toString() : model;
        for (String name : adapters.keySet()) {
            CliErrors.check(spec, !name.isBlank() && !name.equals(baseId), "--adapter NAME must be non-empty and differ from the base model's id '" + baseId + "', got '" + name + "'");
        }
        // a client that sends its request slowly must not hold a connection for ever; responses (streams) have no limit
        if (System.getProperty("sun.net.httpserver.maxReqTime") == null) System.setProperty("sun.net.httpserver.maxReqTime", "60");
        HfModel hf = HfModel.load(model, weights);
        if (!(hf.model().asModule() instanceof CausalLM lm)) {
            throw new IllegalArgumentException(hf.dir() + ": a " + hf.model().modelType() + " model cannot be served (not a jllm CausalLM)");
        }
        MultiLora lora = adapters.isEmpty() ? null : MultiLora.load(lm, adapters);
        SpecialTokens special = SpecialTokens.of(hf.model(), hf.tokenizer());
        Metrics metrics = new Metrics();
        Engine engine = new Engine(lm, lora, hf.tokenizer(), new HashSet<>(special.stopTokens()), maxBatch, maxQueue, PREFILL_CHUNK, metrics);
        OpenAiServer server = new OpenAiServer(engine, hf.tokenizer(), special, baseId, lora == null ? java.util.List.of() : lora.names(),
                host, port, apiKey, OpenAiServer.DEFAULT_MAX_BODY, metrics);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.err.println("jllm serve: stopping (requests in flight get up to " + GRACE_MILLIS / 1000 + " s)");
            server.stop(GRACE_MILLIS);
            hf.close();
            System.err.println("jllm serve: stopped");
            stopped.countDown();
        }));
        String shownHost = host.contains(":") ? "[" + host + "]" : host;
        System.out.println("jllm serve: models " + String.join(", ", server.modelIds()) + " (context " + lm.blockSize() + " tokens, max batch "
                + maxBatch + ")" + (apiKey != null ? ", API key required" : ""));
        System.out.println("jllm serve: listening on http://" + shownHost + ":" + server.port() + "/v1");
        System.out.println("jllm serve: chat page at http://" + shownHost + ":" + server.port() + "/");
        System.out.flush();
        stopped.await();
        return 0;
    }
}
