package jllm.distributed;

import jllm.data.Batch;
import jllm.data.DataLoaderLite;
import jllm.data.TokenSource;
import jllm.models.LanguageModel;
import jllm.models.ModelFactory;
import jllm.nn.Module;
import jllm.optim.AdamW;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.train.TrainData;
import jllm.train.Trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rank program of the distributed tests (also called in-process, as a world of one, for the
 * single-process reference). Scenarios: {@code equality OUT}, {@code accumulation OUT},
 * {@code overlap}, {@code mismatch}. Exit code 0 when the rank's own checks pass.
 */
public final class DdpWorker {
    static final int T = 32, GLOBAL_B = 8, STEPS = 10;

    private DdpWorker() {}

    public static void main(String[] args) throws Exception {
        try (ProcessGroup pg = ProcessGroup.init(Duration.ofSeconds(60))) {
            switch (args[0]) {
                case "equality" -> equality(pg, GLOBAL_B, Path.of(args[1]));
                case "accumulation" -> accumulation(pg, Path.of(args[1]));
                case "overlap" -> overlap(pg);
                case "mismatch" -> new DistributedDataParallel<>(model(pg.rank() == 1 ? 48 : 32, 1337), pg);
                default -> throw new IllegalArgumentException("unknown scenario " + args[0]);
            }
        }
    }

    static TokenSource tokens() {
        return TrainData.load(TrainData.SHAKESPEARE_CHAR).train();
    }

    @SuppressWarnings("unchecked")
    static <M extends Module & LanguageModel> M model(int nEmbd, long seed) {
        Generator.manualSeed(seed);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "gpt");
        m.put("n_layer", 2);
        m.put("n_head", 2);
        m.put("n_embd", nEmbd);
        m.put("dropout", 0.0);
        m.put("bias", false); // a key bias has no true gradient: Adam would turn its rounding noise into updates
        return (M) ModelFactory.build(m, 65, T);
    }

    /**
     * STEPS AdamW steps on DataLoaderLite batches, each rank B/world of the global batch; after
     * every step all ranks must hold bit-identical parameters (an all-gathered checksum). Rank 0
     * writes the parameters and the world's losses to OUT.
     */
    static <M extends Module & LanguageModel> void equality(ProcessGroup pg, int globalB, Path out) throws IOException {
        M model = model(32, 1337 + pg.rank()); // rank 0's init is the single process's; DDP broadcasts it
        var ddp = new DistributedDataParallel<>(model, pg, 0.02); // several small buckets
        if (ddp.bucketCount() < 3) throw new AssertionError("expected several buckets, got " + ddp.bucketCount());
        AdamW opt = Trainer.configureOptimizers(model, 0.1, 3e-3, 0.9, 0.95, s -> {});
        var loader = new DataLoaderLite(tokens(), globalB / pg.worldSize(), T, pg.rank(), pg.worldSize(), s -> {});
        List<String> lines = new ArrayList<>();
        for (int step = 0; step < STEPS; step++) {
            Batch b = loader.next();
            Tensor loss = model.forward(b.x(), b.y()).loss();
            loss.backward();
            opt.step();
            opt.zeroGrad();
            Tensor l = Tensor.of(new float[] {(float) loss.item()}, 1);
            pg.allReduce(l, ProcessGroup.Op.AVG);
            long[] sums = pg.allGather(checksum(model), "parameter checksums");
            for (long s : sums) {
                if (s != sums[0]) throw new AssertionError("step " + step + ": ranks hold different parameters, checksums " + java.util.Arrays.toString(sums));
            }
            lines.add(Float.toString(l.toFloatArray()[0]));
        }
        if (pg.rank() == 0) {
            Files.createDirectories(out);
            model.save(out.resolve("params.safetensors"));
            Files.write(out.resolve("losses.txt"), lines);
        }
    }

    /**
     * One iteration of 2 micro-steps per rank, the first inside noSync; rank 0 writes the averaged
     * gradients. The reference is one backward over the whole global batch.
     */
    static <M extends Module & LanguageModel> void accumulation(ProcessGroup pg, Path out) throws IOException {
        M model = model(32, 1337 + pg.rank());
        var ddp = new DistributedDataParallel<>(model, pg, 0.02);
        int micro = 2, b = GLOBAL_B / pg.worldSize() / micro;
        var loader = new DataLoaderLite(tokens(), b, T, pg.rank(), pg.worldSize(), s -> {});
        for (int m = 0; m < micro; m++) {
            Batch batch = loader.next();
            ddp.backward(model.forward(batch.x(), batch.y()).loss().div(micro), m == micro - 1);
        }
        if (pg.rank() == 0) writeGrads(model, out);
    }

    static void writeGrads(Module model, Path out) throws IOException {
        Map<String, Tensor> grads = new LinkedHashMap<>();
        for (var e : model.namedParameters().entrySet()) grads.put(e.getKey(), e.getValue().grad());
        Files.createDirectories(out);
        jllm.io.TensorIO.save(out.resolve("grads.safetensors"), grads, Map.of());
    }

    /** The first bucket's all-reduce must start before backward ends. */
    static <M extends Module & LanguageModel> void overlap(ProcessGroup pg) {
        M model = model(64, 1337);
        var ddp = new DistributedDataParallel<>(model, pg, 0.05);
        var loader = new DataLoaderLite(tokens(), 4, T, pg.rank(), pg.worldSize(), s -> {});
        for (int it = 0; it < 3; it++) {
            Batch batch = loader.next();
            model.forward(batch.x(), batch.y()).loss().backward();
            DistributedDataParallel.Timeline t = ddp.lastTimeline();
            System.out.println("rank " + pg.rank() + " buckets " + ddp.bucketCount() + " starts(us) "
                    + java.util.Arrays.toString(java.util.Arrays.stream(t.bucketStartNanos()).map(x -> x / 1000).toArray())
                    + " backward end(us) " + t.backwardEndNanos() / 1000 + " wait(us) " + t.waitNanos() / 1000);
            if (!(t.bucketStartNanos()[0] < t.backwardEndNanos())) throw new AssertionError("no overlap: " + t);
            model.zeroGrad();
        }
        System.out.println("overlap ok");
    }

    /** A hash of every parameter's bits. */
    static long checksum(Module model) {
        long h = 1125899906842597L;
        for (Tensor p : model.namedParameters().values()) {
            for (float f : p.toFloatArray()) h = 31 * h + Float.floatToRawIntBits(f);
        }
        return h;
    }
}
