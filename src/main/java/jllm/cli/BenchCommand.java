package jllm.cli;

import java.util.List;
import java.util.concurrent.Callable;

import jllm.bench.GemmBench;
import jllm.bench.PoolBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jllm bench ...}: micro-benchmarks of the compute kernels. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmark compute kernels.",
        subcommands = {BenchCommand.GemmCmd.class, BenchCommand.PoolCmd.class})
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
}
