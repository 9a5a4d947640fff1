package jllm.cli;

import java.util.List;
import java.util.concurrent.Callable;

import jllm.bench.GemmBench;
import jllm.bench.PoolBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import java.util.ArrayList;

/** {@code jllm bench ...}: micro-benchmarks of the compute kernels. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: SGEMM vs OpenBLAS; GPT and Llama (LoRA) training step and generation vs PyTorch; "
                + "data-parallel cost vs mpi4py and PyTorch DDP (gloo); jllm serve under concurrent load.",
        subcommands = {BenchCommand.MachineCmd.class, BenchCommand.GemmCmd.class, BenchCommand.TrainCmd.class, BenchCommand.GenerateCmd.class, BenchCommand.PoolCmd.class,
                BenchCommand.DdpCmd.class, BenchCommand.ServeCmd.class})
public final class BenchCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "gemm", mixinStandardHelpOptions = true,
            description = "SGEMM GFLOP/s of jllm and, side by side, OpenBLAS (cblas_sgemm via FFM).")
    static final class GemmCmd implements Callable<Integer> {
        @Option(names = "--threads", description = "Threads for both libraries (default: all cores).")
        int threads = Runtime.getRuntime().availableProcessors();

        @Option(names = "--repeats", description = "Timed runs per case; the median is reported (default: ${DEFAULT-VALUE}).")
        int repeats = 10;

        @Option(names = "--warmup", description = "Untimed runs per case before timing (default: ${DEFAULT-VALUE}; jllm's side also runs for at least 1 s, until the JIT has compiled its kernels).")
        int warmup = 3;

        @Option(names = "--no-openblas", description = "Skip the OpenBLAS comparison.")
        boolean noBlas;

        @Option(names = "--only", description = "Run only cases whose name contains this text (e.g. square, fwd, attn).")
        String only;

        @Override
        public Integer call() {
            List<GemmBench.Shape> shapes = GemmBench.defaultShapes();
            if (only != null) shapes = shapes.stream().filter(s -> s.name().contains(only)).toList();
            new GemmBench(System.out, threads, repeats, warmup).run(shapes, !noBlas);
            return 0;
        }
    }

    @Command(name = "machine", mixinStandardHelpOptions = true,
            description = {"This machine's limits, measured now: single-precision FMA peak (Vector API, independent FMA chains on "
                    + "registers) and memory bandwidth (a STREAM triad over 96 MB per thread), on 1 thread and on all cores, "
                    + "median (min, max) of repeats. The other benchmarks print these too and report against them."})
    static final class MachineCmd implements Callable<Integer> {
        @Option(names = "--threads", description = "Threads for the N-thread column (default: all cores).")
        int threads = Runtime.getRuntime().availableProcessors();

        @Option(names = "--repeats", description = "Samples of each probe (default: ${DEFAULT-VALUE}).")
        int repeats = 5;

        @Override
        public Integer call() {
            jllm.bench.MachineLimits.measure(threads, repeats).print(System.out);
            return 0;
        }
    }

    @Command(name = "pool", mixinStandardHelpOptions = true,
            description = "Fixed overhead of one parallel loop on the shared worker pool.")
    static final class PoolCmd implements Callable<Integer> {
        @Option(names = "--threads", description = "Threads (default: all cores).")
        int threads = Runtime.getRuntime().availableProcessors();

        @Option(names = "--calls", description = "Calls per sample (default: ${DEFAULT-VALUE}).")
        int calls = 100_000;

        @Option(names = "--repeats", description = "Samples; the median is reported (default: ${DEFAULT-VALUE}).")
        int repeats = 7;

        @Override
        public Integer call() {
            PoolBench.run(System.out, threads, calls, repeats);
            return 0;
        }
    }

    /** Checks the cases (an unknown one is bad usage, exit 2), sets the thread count, then runs the benchmark. */
    private static int runCases(List<String> cases, List<String> known, Integer threads, jllm.bench.ModelBench.Sizes sizes,
                                java.util.function.Consumer<jllm.bench.ModelBench> body) {
        try {
            jllm.bench.ModelBench.checkCases(cases, known);
            sizes.check(cases);
        } catch (IllegalArgumentException e) {
            System.err.println("jllm bench: " + e.getMessage());
            return 2;
        }
        if (threads != null) jllm.backend.cpu.Parallel.setThreads(threads);
        body.accept(new jllm.bench.ModelBench(System.out, sizes));
        return 0;
    }

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = {"Training-step time (forward, backward, AdamW), with PyTorch side by side on the same shapes. Cases:",
                    "  gpt2: GPT-2 124M, B=4, T=64.",
                    "  cpu-preset: nanoGPT's CPU preset, B=12, T=64.",
                    "  llama-lora: LoRA r=8, alpha 16 on q_proj,v_proj of a small Llama (hidden 768, 12 layers, 12 heads / 4 KV heads, "
                            + "intermediate 2048, vocab 32000), B=4, T=128, AdamW on the adapter only; PyTorch loads the same weights "
                            + "and checks the loss and the lora_B gradients."})
    static final class TrainCmd implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--case", split = ",", description = "Cases: gpt2, cpu-preset, llama-lora (default: gpt2, cpu-preset).")
        List<String> cases = List.of("gpt2", "cpu-preset");

        @Option(names = "--repeats", description = "Timed steps; the median is reported (default: ${DEFAULT-VALUE}).")
        int repeats = 10;

        @Option(names = "--warmup", description = "Untimed steps first (default: ${DEFAULT-VALUE}).")
        int warmup = 3;

        @Option(names = "--no-torch", description = "Skip the PyTorch comparison.")
        boolean noTorch;

        @Option(names = "--threads", description = "jllm threads (default: all cores); PyTorch always runs with 1 and with 2.")
        Integer threads;

        @Option(names = "--batch", description = "Batch size instead of the case's (e.g. --batch 8 --seq-len 1024 for GPT-2).")
        Integer batch;

        @Option(names = "--seq-len", description = "Sequence length instead of the case's (at most its block size).")
        Integer seqLen;

        @Override
        public Integer call() {
            var sizes = CliErrors.usage(spec, () -> new jllm.bench.ModelBench.Sizes(batch, seqLen, null));
            return runCases(cases, jllm.bench.ModelBench.TRAIN_CASES, threads, sizes, b -> b.runTrain(cases, warmup, repeats, !noTorch));
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = {"Inference speed per weight type against this machine's memory bandwidth (measured in the same run):",
                    "prefill tokens/s of a --prompt-len prompt, time to the first token, and greedy decode tokens/s with --context "
                            + "positions already cached, with the bytes each token reads (weights in their type + KV cache) as a "
                            + "fraction of the bandwidth. Cases (random weights, converted to each --dtype):",
                    "  gpt2: GPT-2 124M; cpu-preset: the default training preset's GPT;",
                    "  llama: a small GQA Llama (hidden 768, 12 layers, 12 heads / 4 KV heads, intermediate 2048, vocab 32000);",
                    "  tiny: stories260K's shape (hidden 64, 5 layers, 8 / 4 heads, vocab 512).",
                    "Or --model DIR: a model directory (converted to each --dtype at load). For f32, PyTorch then runs the gpt2, "
                            + "cpu-preset and llama cases on the same weights (logits checked) when installed."})
    static final class GenerateCmd implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--case", split = ",", description = "Cases: gpt2, cpu-preset, llama, tiny (default: gpt2).")
        List<String> cases = List.of("gpt2");

        @Option(names = "--model", description = "A model directory or cached name instead of the cases.")
        String model;

        @Option(names = "--dtype", split = ",", description = "Weight types: f32, bf16, f16, q8_0, q4_0 (default: f32).")
        List<String> dtypes = List.of("f32");

        @Option(names = "--context", split = ",", description = "Cached positions before the timed decode steps (default: 16,512,2048; "
                + "capped at the model's context).")
        List<Integer> contexts = List.of(16, 512, 2048);

        @Option(names = "--tokens", description = "Timed decode steps per context (default: ${DEFAULT-VALUE}).")
        int tokens = 64;

        @Option(names = "--repeats", description = "Timed runs; the median is reported (default: ${DEFAULT-VALUE}).")
        int repeats = 3;

        @Option(names = "--warmup", description = "Untimed runs first (default: ${DEFAULT-VALUE}).")
        int warmup = 1;

        @Option(names = "--no-torch", description = "Skip the PyTorch comparison.")
        boolean noTorch;

        @Option(names = "--llama-cpp", description = "With --model (a Llama): write it as a GGUF file per --dtype and run llama.cpp "
                + "(node-llama-cpp, after `npm ci` in tools/gguf) on the same file, with 1 and 2 threads, beside jllm.")
        boolean llamaCpp;

        @Option(names = "--threads", description = "jllm threads (default: all cores); PyTorch always runs with 1 and with 2.")
        Integer threads;

        @Option(names = "--prompt-len", description = "Prompt tokens for the prefill (default: 512, capped at the model's context).")
        Integer promptLen;

        @Override
        public Integer call() {
            List<jllm.tensor.DType> types = CliErrors.usage(spec, () -> {
                if (tokens < 1) throw new IllegalArgumentException("--tokens must be >= 1, got " + tokens);
                for (int c : contexts) if (c < 1) throw new IllegalArgumentException("--context values must be >= 1, got " + c);
                if (llamaCpp && model == null) throw new IllegalArgumentException("--llama-cpp needs --model (a Llama with its tokenizer)");
                return dtypes.stream().map(jllm.nn.Quantize::parse).toList();
            });
            var sizes = CliErrors.usage(spec, () -> new jllm.bench.ModelBench.Sizes(null, null, promptLen));
            int prompt = promptLen != null ? promptLen : 512;
            return runCases(model != null ? List.of() : cases, jllm.bench.ModelBench.GENERATE_CASES, threads, sizes,
                    b -> b.runGenerate(cases, model, types, prompt, contexts, tokens, warmup, repeats, !noTorch, llamaCpp));
        }
    }

    @Command(name = "ddp", mixinStandardHelpOptions = true,
            description = {"What data-parallel training costs on this machine, with peers in the same run:",
                    "  all-reduce bandwidth between 2 ranks (jllm's ProcessGroup on Open MPI, then mpi4py's blocking Allreduce);",
                    "  for each case, the training step at the same global batch as 1 process x all cores and as 2 ranks x 1 thread "
                            + "with DDP (and how long backward then waits for the all-reduces), then the same with PyTorch DDP (gloo).",
                    "Cases: cpu-preset (B=12, T=64), gpt2 (GPT-2 124M, B=4, T=64). Needs Open MPI (and python3-mpi4py, python3-torch "
                            + "for the peers)."})
    static final class DdpCmd implements Callable<Integer> {
        @Option(names = "--case", split = ",", description = "Cases: cpu-preset, gpt2 (default: cpu-preset, gpt2).")
        List<String> cases = List.of("cpu-preset", "gpt2");

        @Option(names = "--sizes-mb", split = ",", description = "All-reduce sizes in MB (default: 1,4,16,64,256,512).")
        List<Integer> sizesMb = List.of(1, 4, 16, 64, 256, 512);

        @Option(names = "--repeats", description = "Timed runs; the median is reported (default: ${DEFAULT-VALUE}).")
        int repeats = 10;

        @Option(names = "--warmup", description = "Untimed runs first (default: ${DEFAULT-VALUE}).")
        int warmup = 10; // a rank has one core: its JIT compiles on it too, so warm up longer

        @Option(names = "--no-peers", description = "Skip mpi4py and PyTorch.")
        boolean noPeers;

        @Option(names = "--role", hidden = true, description = "allreduce or step: what one rank of the mpirun job measures.")
        String role;

        @Override
        public Integer call() throws Exception {
            try {
                jllm.bench.ModelBench.checkCases(cases, List.of("cpu-preset", "gpt2"));
            } catch (IllegalArgumentException e) {
                System.err.println("jllm bench: " + e.getMessage());
                return 2;
            }
            String sizes = String.join(",", sizesMb.stream().map(String::valueOf).toList());
            List<String> common = List.of("--warmup", Integer.toString(warmup), "--repeats", Integer.toString(repeats));
            if (role != null) {
                try (var pg = jllm.distributed.ProcessGroup.init(java.time.Duration.ofSeconds(600))) {
                    switch (role) {
                        case "allreduce" -> jllm.bench.DdpBench.allReduce(pg, sizesMb, warmup, repeats, System.out);
                        case "step", "step-nosync" -> jllm.bench.DdpBench.step(pg, jllm.bench.ModelBench.CASES.get(cases.get(0)), warmup,
                                repeats, role.equals("step"), System.out);
                        default -> throw new IllegalArgumentException("--role must be allreduce, step or step-nosync, got " + role);
                    }
                }
                return 0;
            }
            System.out.println("== all-reduce between 2 ranks (median of " + repeats + ", slowest rank)");
            List<String> ar = new ArrayList<>(List.of("bench", "ddp", "--role", "allreduce", "--sizes-mb", sizes));
            ar.addAll(common);
            DataParallel.launch(2, "bench", ar, "off");
            if (!noPeers) peer(List.of("mpirun", "-np", "2"), "mpi_allreduce.py", List.of("--sizes-mb", sizes, "--warmup",
                    Integer.toString(warmup), "--repeats", Integer.toString(repeats)));
            for (String c : cases) {
                System.out.println("== training step, " + c + ", same global batch: 1 process vs 2 ranks with DDP");
                jllm.bench.DdpBench.step(jllm.distributed.ProcessGroup.single(), jllm.bench.ModelBench.CASES.get(c), warmup, repeats, System.out);
                for (String r : List.of("step-nosync", "step")) {
                    List<String> st = new ArrayList<>(List.of("bench", "ddp", "--role", r, "--case", c));
                    st.addAll(common);
                    DataParallel.launch(2, "bench", st, "off");
                }
                if (!noPeers) {
                    for (String w : List.of("1", "2")) {
                        peer(List.of(), "torch_ddp.py", List.of("--config", c, "--world", w, "--warmup", Integer.toString(warmup),
                                "--repeats", Integer.toString(repeats)));
                    }
                }
            }
            return 0;
        }

        /** Runs tools/bench/SCRIPT with Debian's python3 (OpenBLAS tuned for this CPU: the two overrides unset for the peer only). */
        private static void peer(List<String> prefix, String script, List<String> args) throws Exception {
            java.nio.file.Path p = java.nio.file.Path.of(System.getProperty("jllm.home", "."), "tools", "bench", script);
            if (!java.nio.file.Files.exists(p) || !java.nio.file.Files.isExecutable(java.nio.file.Path.of("/usr/bin/python3"))) {
                System.out.println("(peer " + script + " not run: needs /usr/bin/python3 and " + p + ")");
                return;
            }
            List<String> cmd = new ArrayList<>(prefix);
            if (!prefix.isEmpty()) {
                cmd.add("--oversubscribe");
                if ("root".equals(System.getProperty("user.name"))) cmd.add("--allow-run-as-root");
            }
            cmd.addAll(List.of("/usr/bin/python3", p.toString()));
            cmd.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO();
            pb.environment().remove("OPENBLAS_CORETYPE");
            pb.environment().remove("OPENBLAS_L2_SIZE");
            int rc = pb.start().waitFor();
            if (rc != 0) System.out.println("(peer " + String.join(" ", cmd) + " exited with " + rc + ")");
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = {"jllm serve under load: the model is served in this process on 127.0.0.1 (as `jllm serve` would serve it) "
                    + "and closed-loop clients (java.net.http, one virtual thread each) send streaming /v1/completions requests "
                    + "(a prompt of --prompt-len random token ids, temperature 1, a seed per request), each client its next request "
                    + "as soon as its last one has ended. After a warm-up, for each --clients count it reports requests/s, "
                    + "aggregate completion tokens/s and its ratio to the 1-client run, p50/p99 time to the first token and "
                    + "p50/p99 time between streamed tokens, and errors. Exits 1 when a request failed.",
                    "With --soak SECONDS it sends mixed traffic instead (streams read to the end, streams the client abandons "
                            + "mid-answer, whole completions, GETs, requests the server must refuse with 400) from the largest "
                            + "--clients count, and reports the resident set (/proc/self/status) and the heap after a full GC at "
                            + "the start and the end, and every error other than the intended ones (exit 1 when there is one, "
                            + "or when sequences are left on the server)."})
    static final class ServeCmd implements Callable<Integer> {
        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Option(names = "--model", required = true, description = "Model directory or cached model name.")
        String model;

        @Option(names = "--clients", split = ",", description = "Concurrent clients, one run each (default: 1,4,16).")
        List<Integer> clients = List.of(1, 4, 16);

        @Option(names = "--requests", description = "Requests per run (default: ${DEFAULT-VALUE}).")
        int requests = 48;

        @Option(names = "--max-tokens", description = "max_tokens of each request (default: ${DEFAULT-VALUE}).")
        int maxTokens = 32;

        @Option(names = "--prompt-len", description = "Prompt tokens of each request (default: ${DEFAULT-VALUE}); in --soak, "
                + "prompts and max_tokens are random up to these.")
        int promptLen = 16;

        @Option(names = "--warmup", description = "Requests at the largest --clients count before the runs, not reported "
                + "(default: the largest --clients count).")
        Integer warmup;

        @Option(names = "--max-batch", description = "The server's --max-batch (default: ${DEFAULT-VALUE}).")
        int maxBatch = 16;

        @Option(names = "--soak", paramLabel = "SECONDS", description = "Run the soak test for this long instead of the runs.")
        Integer soak;

        @Option(names = "--llama-cpp", description = "With --model FILE.gguf: run llama.cpp (node-llama-cpp, after `npm ci` in tools/gguf) "
                + "on the same file under the same load after jllm's runs (its engine, no HTTP), one row per --clients count.")
        boolean llamaCpp;

        @picocli.CommandLine.Mixin
        WeightTypeOption dtype = new WeightTypeOption();

        @Override
        public Integer call() throws Exception {
            CliErrors.check(spec, !clients.isEmpty() && clients.stream().allMatch(c -> c >= 1), "--clients must be >= 1, got " + clients);
            CliErrors.check(spec, requests >= 1, "--requests must be >= 1, got " + requests);
            CliErrors.check(spec, maxTokens >= 1, "--max-tokens must be >= 1, got " + maxTokens);
            CliErrors.check(spec, promptLen >= 1, "--prompt-len must be >= 1, got " + promptLen);
            CliErrors.check(spec, warmup == null || warmup >= 0, "--warmup must be >= 0, got " + warmup);
            CliErrors.check(spec, maxBatch >= 1, "--max-batch must be >= 1, got " + maxBatch);
            CliErrors.check(spec, soak == null || soak >= 1, "--soak must be >= 1 second, got " + soak);
            CliErrors.check(spec, !llamaCpp || (model.endsWith(".gguf") && java.nio.file.Files.isRegularFile(java.nio.file.Path.of(model))),
                    "--llama-cpp needs --model FILE.gguf, the file llama.cpp reads (write one with `jllm convert gguf`), got " + model);
            CliErrors.check(spec, !llamaCpp || soak == null, "--llama-cpp compares the runs; it does not go with --soak");
            jllm.tensor.DType weights = dtype.validate(spec);
            int most = clients.stream().mapToInt(Integer::intValue).max().orElseThrow();
            try (HfModel hf = HfModel.load(model, weights)) {
                if (!(hf.model().asModule() instanceof jllm.models.CausalLM lm)) {
                    throw new IllegalArgumentException(hf.dir() + ": a " + hf.model().modelType() + " model cannot be served (not a jllm CausalLM)");
                }
                if (promptLen + maxTokens > lm.blockSize()) {
                    throw new IllegalArgumentException("--prompt-len (" + promptLen + ") plus --max-tokens (" + maxTokens + ") is more than the model's context of "
                            + lm.blockSize() + " tokens");
                }
                var special = jllm.generate.SpecialTokens.of(hf.model(), hf.tokenizer());
                var metrics = new jllm.serve.Metrics();
                var engine = new jllm.serve.Engine(lm, null, hf.tokenizer(), new java.util.HashSet<>(special.stopTokens()), maxBatch,
                        Math.max(256, most), ServeCommand.PREFILL_CHUNK, metrics);
                String id = hf.dir().getFileName() == null ? model : hf.dir().getFileName().toString();
                var server = new jllm.serve.OpenAiServer(engine, hf.tokenizer(), special, id, List.of(), "127.0.0.1", 0, null,
                        jllm.serve.OpenAiServer.DEFAULT_MAX_BODY, metrics);
                try {
                    String url = "http://127.0.0.1:" + server.port() + "/v1";
                    System.out.printf(java.util.Locale.ROOT, "bench serve: %s (%s, context %d) at %s, max batch %d, %d cores%n", id, hf.model().modelType(),
                            lm.blockSize(), url, maxBatch, Runtime.getRuntime().availableProcessors());
                    var bench = new jllm.bench.ServeBench(url, id, lm.vocabSize(), System.out);
                    if (soak != null) {
                        var s = bench.soak(soak, most, promptLen, maxTokens, lm.blockSize(), 1);
                        return s.unexpected() == 0 && s.runningAfter() == 0 ? 0 : 1;
                    }
                    System.out.printf(java.util.Locale.ROOT, "%d requests per run, prompt %d tokens, max_tokens %d%n", requests, promptLen, maxTokens);
                    var results = bench.sweep(clients, requests, promptLen, maxTokens, warmup != null ? warmup : most);
                    if (llamaCpp) bench.llamaCppSweep(java.nio.file.Path.of(model), clients, requests, promptLen, maxTokens);
                    int errors = results.stream().mapToInt(jllm.bench.ServeBench.Result::errors).sum();
                    if (errors > 0) System.err.println("jllm bench serve: " + errors + " requests failed");
                    return errors == 0 ? 0 : 1;
                } finally {
                    server.stop(0);
                }
            }
        }
    }
}
