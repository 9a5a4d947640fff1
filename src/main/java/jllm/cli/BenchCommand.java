package jllm.cli;

import java.util.List;
import java.util.concurrent.Callable;

import jllm.bench.GemmBench;
import jllm.bench.PoolBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jllm bench ...}: micro-benchmarks of the compute kernels. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: SGEMM vs OpenBLAS; GPT and Llama (LoRA) training step and generation vs PyTorch.",
        subcommands = {BenchCommand.GemmCmd.class, BenchCommand.TrainCmd.class, BenchCommand.GenerateCmd.class, BenchCommand.PoolCmd.class})
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

        @Option(names = "--warmup", description = "Untimed runs per case before timing (default: ${DEFAULT-VALUE}).")
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

    @Command(name = "train", mixinStandardHelpOptions = true,
            description = {"Training-step time (forward, backward, AdamW), with PyTorch side by side on the same shapes. Cases:",
                    "  gpt2: GPT-2 124M, B=4, T=64.",
                    "  cpu-preset: nanoGPT's CPU preset, B=12, T=64.",
                    "  llama-lora: LoRA r=8, alpha 16 on q_proj,v_proj of a small Llama (hidden 768, 12 layers, 12 heads / 4 KV heads, "
                            + "intermediate 2048, vocab 32000), B=4, T=128, AdamW on the adapter only; PyTorch loads the same weights "
                            + "and checks the loss and the lora_B gradients."})
    static final class TrainCmd implements Callable<Integer> {
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

        @Override
        public Integer call() {
            try {
                jllm.bench.ModelBench.checkCases(cases, jllm.bench.ModelBench.TRAIN_CASES);
            } catch (IllegalArgumentException e) {
                System.err.println("jllm bench: " + e.getMessage());
                return 2;
            }
            if (threads != null) jllm.backend.cpu.Parallel.setThreads(threads);
            new jllm.bench.ModelBench(System.out).runTrain(cases, warmup, repeats, !noTorch);
            return 0;
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = {"Tokens per second of KV-cached generation, with PyTorch side by side on the same shapes. Cases:",
                    "  gpt2, cpu-preset: 8-token prompt, temperature 0.8, top-k 50.",
                    "  llama: a small Llama (hidden 768, 12 layers, 12 heads / 4 KV heads, intermediate 2048, vocab 32000, "
                            + "rope_theta 500000), 16-token prompt, greedy; PyTorch loads the same weights and checks the prompt's "
                            + "logits and the greedy ids."})
    static final class GenerateCmd implements Callable<Integer> {
        @Option(names = "--case", split = ",", description = "Cases: gpt2, cpu-preset, llama (default: gpt2).")
        List<String> cases = List.of("gpt2");

        @Option(names = "--tokens", description = "New tokens per run (default: ${DEFAULT-VALUE}).")
        int tokens = 100;

        @Option(names = "--repeats", description = "Timed runs; the median is reported (default: ${DEFAULT-VALUE}).")
        int repeats = 5;

        @Option(names = "--warmup", description = "Untimed runs first (default: ${DEFAULT-VALUE}).")
        int warmup = 2;

        @Option(names = "--no-torch", description = "Skip the PyTorch comparison.")
        boolean noTorch;

        @Option(names = "--threads", description = "jllm threads (default: all cores); PyTorch always runs with 1 and with 2.")
        Integer threads;

        @Override
        public Integer call() {
            try {
                jllm.bench.ModelBench.checkCases(cases, jllm.bench.ModelBench.GENERATE_CASES);
            } catch (IllegalArgumentException e) {
                System.err.println("jllm bench: " + e.getMessage());
                return 2;
            }
            if (threads != null) jllm.backend.cpu.Parallel.setThreads(threads);
            new jllm.bench.ModelBench(System.out).runGenerate(cases, tokens, warmup, repeats, !noTorch);
            return 0;
        }
    }
}
