package jllm.distributed;

import jllm.data.Batch;
import jllm.data.DataLoaderLite;
import jllm.data.TokenSource;
import jllm.models.LanguageModel;
import jllm.models.ModelFactory;
import jllm.nn.Module;
import jllm.optim.AdamW;
import jllm.optim.Optimizer;
import jllm.optim.ParamState;
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
 * single-process reference). Scenarios: {@code equality OUT}, {@code zero OUT} (equality with
 * ZeRO-1), {@code accumulation OUT}, {@code overlap}, {@code mismatch}. Exit code 0 when the rank's
 * own checks pass.
 */
public final class DdpWorker {
    static final int T = 32, GLOBAL_B = 8, STEPS = 10;

    private DdpWorker() {}

    public static void main(String[] args) throws Exception {
        try (ProcessGroup pg = ProcessGroup.init(Duration.ofSeconds(60))) {
            switch (args[0]) {
                case "equality" -> equality(pg, GLOBAL_B, Path.of(args[1]));
                case "zero" -> zero(pg, Path.of(args[1]));
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
     * writes the parameters, the world's losses and the optimizer state to OUT.
     */
    static <M extends Module & LanguageModel> void equality(ProcessGroup pg, int globalB, Path out) throws IOException {
        train(pg, globalB, out, false);
    }

    /**
     * {@link #equality} with the optimizer wrapped in a {@link ZeroRedundancyOptimizer} with small
     * staging chunks (parameters span several broadcasts). Afterwards each rank checks that it holds
     * state for exactly its own parameters and prints how much ("zero state: rank R tensors T
     * elements E of P"); rank 0 writes the consolidated state; every rank then loads that file into
     * a fresh ZeRO optimizer and checks that it kept exactly its own share, equal to what it had.
     */
    static <M extends Module & LanguageModel> void zero(ProcessGroup pg, Path out) throws IOException {
        train(pg, GLOBAL_B, out, true);
    }

    private static <M extends Module & LanguageModel> void train(ProcessGroup pg, int globalB, Path out, boolean zero) throws IOException {
        M model = model(32, 1337 + pg.rank()); // rank 0's init is the single process's; DDP broadcasts it
        var ddp = new DistributedDataParallel<>(model, pg, 0.02); // several small buckets
        if (ddp.bucketCount() < 3) throw new AssertionError("expected several buckets, got " + ddp.bucketCount());
        AdamW adamw = Trainer.configureOptimizers(model, 0.1, 3e-3, 0.9, 0.95, s -> {});
        Optimizer opt = zero ? new ZeroRedundancyOptimizer(adamw, pg, 3000) : adamw;
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
        if (zero) checkShard(model, (ZeroRedundancyOptimizer) opt);
        if (pg.rank() == 0) {
            Files.createDirectories(out);
            model.save(out.resolve("params.safetensors"));
            Files.write(out.resolve("losses.txt"), lines);
        }
        if (zero) ((ZeroRedundancyOptimizer) opt).consolidateStateDict();
        if (pg.rank() == 0) opt.save(out.resolve("optimizer.safetensors"));
        if (zero) {
            pg.barrier("the consolidated state is written");
            var fresh = new ZeroRedundancyOptimizer(Trainer.configureOptimizers(model, 0.1, 3e-3, 0.9, 0.95, s -> {}), pg);
            fresh.load(out.resolve("optimizer.safetensors"));
            for (Tensor p : model.parameters()) {
                ParamState had = opt.state(p), loaded = fresh.state(p);
                if ((had == null) != (loaded == null)) throw new AssertionError("rank " + pg.rank() + ": loading kept the wrong share");
                if (had == null) continue;
                if (had.step() != loaded.step()) throw new AssertionError("step " + had.step() + " loaded as " + loaded.step());
                for (var e : had.buffers().entrySet()) {
                    if (!java.util.Arrays.equals(e.getValue().toFloatArray(), loaded.get(e.getKey()).toFloatArray())) {
                        throw new AssertionError("rank " + pg.rank() + ": " + e.getKey() + " differs after a save and load");
                    }
                }
            }
        }
    }

    /** Each rank holds state for exactly the parameters it owns; prints how many tensors and elements. */
    private static void checkShard(Module model, ZeroRedundancyOptimizer opt) {
        long tensors = 0, elements = 0, total = 0;
        for (Tensor p : model.parameters()) {
            total += p.numel();
            ParamState s = opt.state(p);
            if ((s != null) != opt.owns(p)) {
                throw new AssertionError("rank " + opt.processGroup().rank() + " " + (s != null ? "holds state for a parameter it does not own"
                        : "holds no state for a parameter it owns"));
            }
            if (s == null) continue;
            for (Tensor t : s.buffers().values()) {
                tensors++;
                elements += t.numel();
            }
        }
        System.out.println("zero state: rank " + opt.processGroup().rank() + " tensors " + tensors + " elements " + elements + " of " + total);
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
