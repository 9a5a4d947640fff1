package jllm.distributed;

import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.optim.AdamW;
import jllm.optim.Optimizer;
import jllm.optim.ParamState;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.train.Trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;

/**
 * A measurement, not a test: GPT-2 124M ({@link GPTConfig#gpt2()}) trained data-parallel for a few
 * AdamW steps on random tokens, with or without ZeRO-1; each rank prints its optimizer state bytes,
 * its live heap after a full GC, and its peak resident set (VmHWM). Run as the ranks of an mpirun
 * job: {@code mpirun -np 2 java ... jllm.distributed.ZeroMemory zero|plain STEPS SEQ_LEN}.
 */
public final class ZeroMemory {
    private ZeroMemory() {}

    public static void main(String[] args) throws Exception {
        boolean zero = args[0].equals("zero");
        int steps = Integer.parseInt(args[1]), t = Integer.parseInt(args[2]);
        try (ProcessGroup pg = ProcessGroup.init(Duration.ofSeconds(600))) {
            Generator.manualSeed(1337);
            GPT model = new GPT(GPTConfig.gpt2());
            new DistributedDataParallel<>(model, pg);
            AdamW adamw = Trainer.configureOptimizers(model, 0.1, 6e-4, 0.9, 0.95, s -> {});
            Optimizer opt = zero ? new ZeroRedundancyOptimizer(adamw, pg) : adamw;
            Generator data = new Generator(pg.rank());
            long t0 = System.nanoTime(), stepNanos = 0;
            for (int s = 0; s < steps; s++) {
                Tensor x = Tensor.randint(0, GPTConfig.gpt2().vocabSize(), new int[] {1, t}, data);
                Tensor y = Tensor.randint(0, GPTConfig.gpt2().vocabSize(), new int[] {1, t}, data);
                model.forward(x, y).loss().backward();
                long s0 = System.nanoTime();
                opt.step();
                stepNanos += System.nanoTime() - s0;
                opt.zeroGrad();
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            long stateBytes = 0, stateTensors = 0, paramBytes = 0;
            for (Tensor p : model.parameters()) {
                paramBytes += 4L * p.numel();
                ParamState st = opt.state(p);
                if (st == null) continue;
                for (Tensor b : st.buffers().values()) {
                    stateBytes += (long) b.numel() * b.dtype().itemSize();
                    stateTensors++;
                }
            }
            System.gc();
            Runtime rt = Runtime.getRuntime();
            long live = rt.totalMemory() - rt.freeMemory();
            long[] states = pg.allGather(stateBytes, "state bytes");
            System.out.println(String.format(Locale.ROOT, "%s rank %d of %d: params %.1f MB, optimizer state %d tensors %.1f MB, live heap after GC %.1f MB, "
                            + "VmHWM %s, %d steps in %.1f s (optimizer.step %.2f s per step)", zero ? "zero" : "plain", pg.rank(), pg.worldSize(), paramBytes / 1e6, stateTensors,
                    stateBytes / 1e6, live / 1e6, status("VmHWM"), steps, seconds, stepNanos / 1e9 / steps));
            if (pg.rank() == 0) {
                long sum = 0;
                for (long b : states) sum += b;
                System.out.println(String.format(Locale.ROOT, "%s: optimizer state over all ranks %.1f MB", zero ? "zero" : "plain", sum / 1e6));
            }
        }
    }

    private static String status(String key) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith(key + ":")) return line.substring(key.length() + 1).trim();
        }
        return "?";
    }
}
