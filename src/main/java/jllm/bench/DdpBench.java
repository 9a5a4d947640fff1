package jllm.bench;

import jllm.backend.cpu.Parallel;
import jllm.distributed.DistributedDataParallel;
import jllm.distributed.ProcessGroup;
import jllm.models.gpt.GPT;
import jllm.optim.AdamW;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.train.Trainer;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What going distributed costs, measured by the ranks of an mpirun job (see {@code jllm bench ddp}):
 * all-reduce bandwidth through jllm's process group, and the training step of a GPT with DDP
 * against the same global batch in one process.
 */
public final class DdpBench {
    private DdpBench() {}

    /**
     * In-place float all-reduces of each size; rank 0 prints the median over repeats of the slowest
     * rank's time, as algorithm bandwidth (bytes / time) and bus bandwidth (x 2(n-1)/n, NCCL's convention).
     */
    public static void allReduce(ProcessGroup pg, List<Integer> sizesMb, int warmup, int repeats, PrintStream out) {
        int n = pg.worldSize();
        for (int mb : sizesMb) {
            long bytes = (long) mb << 20;
            double[] ms = new double[repeats];
            try (Arena a = Arena.ofShared()) {
                MemorySegment buf = a.allocate(bytes, 64);
                for (int i = 0; i < warmup + repeats; i++) {
                    pg.barrier("barrier");
                    long t0 = System.nanoTime();
                    pg.allReduceAsync(buf, bytes / 4, ProcessGroup.Op.SUM, "all-reduce of " + mb + " MB").await();
                    double dt = (System.nanoTime() - t0) / 1e6;
                    double slowest = Arrays.stream(pg.allGather(dt, "timings")).max().orElse(dt);
                    if (i >= warmup) ms[i - warmup] = slowest;
                }
            }
            double med = ModelBench.median(ms), algbw = bytes / (med / 1e3) / 1e9;
            if (pg.rank() == 0) {
                out.printf(Locale.ROOT, "jllm   allreduce %d MB: median %.2f ms, algbw %.2f GB/s, busbw %.2f GB/s%n", mb, med, algbw,
                        algbw * 2 * (n - 1) / n);
            }
        }
    }

    /**
     * Training steps (forward, zero_grad, backward, AdamW step) of a GPT case, each rank with
     * {@code batch / world} sequences and {@code cores / world} threads, DDP when world > 1; rank 0
     * prints the median step and the median time backward then waited for the all-reduces.
     */
    public static void step(ProcessGroup pg, ModelBench.Case c, int warmup, int repeats, PrintStream out) {
        step(pg, c, warmup, repeats, true, out);
    }

    /**
     * As {@link #step(ProcessGroup, ModelBench.Case, int, int, PrintStream)}; with {@code sync} false
     * every backward runs inside {@code noSync()}: the ranks compute side by side without
     * communicating, which is the floor that DDP's cost is measured from.
     */
    public static void step(ProcessGroup pg, ModelBench.Case c, int warmup, int repeats, boolean sync, PrintStream out) {
        int world = pg.worldSize();
        if (c.batch() % world != 0) throw new IllegalArgumentException("batch " + c.batch() + " does not split across " + world + " ranks");
        Parallel.setThreads(Math.max(1, Runtime.getRuntime().availableProcessors() / world));
        Generator.manualSeed(0);
        GPT model = new GPT(c.config());
        DistributedDataParallel<GPT> ddp = world > 1 ? new DistributedDataParallel<>(model, pg) : null;
        AdamW opt = Trainer.configureOptimizers(model, 0.1, 1e-4, 0.9, 0.95, s -> {});
        Generator g = new Generator(1 + pg.rank());
        int b = c.batch() / world;
        Tensor x = Tensor.randint(0, c.config().vocabSize(), new int[] {b, c.seqLen()}, g);
        Tensor y = Tensor.randint(0, c.config().vocabSize(), new int[] {b, c.seqLen()}, g);
        double[] ms = new double[repeats], wait = new double[repeats];
        for (int i = 0; i < warmup + repeats; i++) {
            pg.barrier("barrier");
            long t0 = System.nanoTime();
            Tensor loss = model.forward(x, y).loss();
            opt.zeroGrad();
            if (ddp != null) ddp.backward(loss, sync);
            else loss.backward();
            opt.step();
            if (i >= warmup) {
                ms[i - warmup] = (System.nanoTime() - t0) / 1e6;
                wait[i - warmup] = ddp == null || !sync ? 0 : ddp.lastTimeline().waitNanos() / 1e6;
            }
        }
        double step = ModelBench.median(ms), w = ModelBench.median(wait);
        if (pg.rank() == 0) {
            out.printf(Locale.ROOT, "jllm ddp %s world=%d threads=%d: median step %.1f ms%s%n", c.name(), world, Parallel.threads(), step,
                    ddp == null ? "" : !sync ? " without communication (noSync: the compute floor)"
                            : String.format(Locale.ROOT, ", all-reduce wait after backward %.1f ms (%.1f%% of step), %d buckets",
                            w, 100 * w / step, ddp.bucketCount()));
        }
    }
}
