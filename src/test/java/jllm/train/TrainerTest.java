package jllm.train;

import jllm.data.Batch;

import jllm.autograd.Grad;
import jllm.optim.ParamGroup;
import jllm.optim.lr.WarmupCosine;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainerTest {
    static final int V = 8;

    @TempDir
    Path tmp;

    /** A small run: V=8 bigram, batches of 8x8 tokens. */
    static TrainConfig tiny(Path out, String... more) {
        List<String> o = new ArrayList<>(List.of("out_dir=" + out, "eval_interval=10", "eval_iters=4", "log_interval=1",
                "batch_size=8", "block_size=8", "gradient_accumulation_steps=1", "learning_rate=0.1", "max_iters=60",
                "warmup_iters=5", "lr_decay_iters=60", "min_lr=0.01", "weight_decay=0.1", "grad_clip=1.0", "seed=7",
                "dataset=toy"));
        o.addAll(List.of(more));
        return TrainConfig.defaults().withOverrides(o);
    }

    static BigramLM model(long seed, double dropout) {
        Generator.manualSeed(seed);
        return new BigramLM(V, 8, dropout);
    }

    /** Records every event. */
    static final class Recorder implements TrainListener {
        final List<Log> logs = new ArrayList<>();
        final List<Eval> evals = new ArrayList<>();
        final List<String> messages = new ArrayList<>();
        final List<String> checkpoints = new ArrayList<>();
        Start start;
        long endIter = -1;

        @Override public void onStart(Start s) { start = s; }
        @Override public void onLog(Log l) { logs.add(l); }
        @Override public void onEval(Eval e) { evals.add(e); }
        @Override public void onMessage(String m) { messages.add(m); }
        @Override public void onCheckpoint(CheckpointKind k, Path dir, long iter) { checkpoints.add(k + "@" + iter); }
        @Override public void onEnd(long iter, double best) { endIter = iter; }
    }

    @Test
    void lossDecreasesOnToyCorpus() throws Exception {
        TrainConfig cfg = tiny(tmp.resolve("out"));
        BigramLM m = model(1, 0.1);
        Recorder r = new Recorder();
        var t = new Trainer<>(cfg, m, new ToyData(V, 4000, 8, 8, false)).addListener(r);
        Trainer.Losses fin = t.fit();

        // evaluations at 0, 10, ..., 60 (the end); logs for every iteration 0..59
        assertEquals(List.of(0L, 10L, 20L, 30L, 40L, 50L, 60L), r.evals.stream().map(TrainListener.Eval::iter).toList());
        assertEquals(60, r.logs.size());
        assertEquals(60, r.endIter);
        assertEquals(60, t.iterNum());
        double first = r.evals.getFirst().valLoss(), last = r.evals.getLast().valLoss();
        assertEquals(last, fin.val());
        assertTrue(last < first - 0.8, "val loss should drop: " + first + " -> " + last);
        assertTrue(r.logs.getLast().loss() < r.logs.getFirst().loss() - 0.8);
        for (var l : r.logs) assertTrue(l.tokensPerSec() > 0 && l.dtMillis() >= 0 && l.gradNorm() > 0);
        assertTrue(m.isTraining(), "model is back in training mode after fit");
        // best val loss is the minimum over evaluations
        assertEquals(r.evals.stream().mapToDouble(TrainListener.Eval::valLoss).min().orElseThrow(), t.bestValLoss());
        assertTrue(Checkpoint.isComplete(tmp.resolve("out/ckpt_last")));
        assertTrue(Checkpoint.isComplete(tmp.resolve("out/ckpt_best")));
        assertEquals(60, Checkpoint.readState(tmp.resolve("out/ckpt_last")).iterNum());
        assertTrue(r.checkpoints.contains("LAST@10") && r.checkpoints.contains("LAST@60"));
        assertFalse(r.checkpoints.stream().anyMatch(c -> c.endsWith("@0")), "nothing is saved at iter 0");
        assertTrue(r.messages.contains("tokens per iteration will be: 64"));
    }

    @Test
    void learningRateScheduleIsAppliedEveryIteration() throws Exception {
        TrainConfig cfg = tiny(tmp.resolve("out"), "max_iters=30", "lr_decay_iters=20", "warmup_iters=4", "always_save_checkpoint=false");
        BigramLM m = model(1, 0.0);
        Recorder r = new Recorder();
        var t = new Trainer<>(cfg, m, new ToyData(V, 2000, 8, 8, false));
        List<Double> groupLrs = new ArrayList<>();
        t.addListener(r).addListener(new TrainListener() {
            @Override
            public void onLog(Log l) {
                for (ParamGroup g : t.optimizer().paramGroups()) groupLrs.add(g.lr());
            }
        });
        t.fit();
        assertEquals(30, r.logs.size());
        for (int i = 0; i < 30; i++) {
            double want = WarmupCosine.lr(i, 0.1, 0.01, 4, 20);
            assertEquals(want, r.logs.get(i).lr(), 0.0, "lr at iter " + i);
            assertEquals(want, groupLrs.get(2 * i), 0.0);
            assertEquals(want, groupLrs.get(2 * i + 1), 0.0);
        }
        assertEquals(0.1 * 1 / 5, r.logs.get(0).lr(), 1e-15); // warmup: lr * (it+1) / (warmup+1)
        assertEquals(0.1, r.logs.get(4).lr(), 1e-15);          // peak at the end of warmup
        assertEquals(0.01, r.logs.get(25).lr(), 0.0);          // min_lr after lr_decay_iters
        assertEquals(Trainer.lr(cfg, 12), r.logs.get(12).lr());

        Recorder c = new Recorder();
        new Trainer<>(tiny(tmp.resolve("c"), "max_iters=5", "decay_lr=false"), model(1, 0.0), new ToyData(V, 2000, 8, 8, false))
                .addListener(c).fit();
        for (var l : c.logs) assertEquals(0.1, l.lr(), 0.0);
    }

    @Test
    void gradientAccumulationEqualsOneBigBatch() {
        ToyData d = new ToyData(V, 2000, 8, 8, false);
        Batch big = d.get(BatchSource.TRAIN, new Generator(3));
        Tensor x = big.x(), y = big.y();
        BatchSource halves = new BatchSource() {
            int calls;
            @Override
            public Batch get(String split, Generator g) {
                int h = calls++ % 2;
                return new Batch(x.narrow(0, 4 * h, 4).contiguous(), y.narrow(0, 4 * h, 4).contiguous());
            }
        };
        BigramLM a = model(5, 0.0), b = model(5, 0.0);
        var ta = new Trainer<>(tiny(tmp, "gradient_accumulation_steps=2", "batch_size=4"), a, halves);
        var tb = new Trainer<>(tiny(tmp), b, (split, g) -> big);
        var la = ta.accumulateGradients();
        var lb = tb.accumulateGradients();
        assertEquals(lb.loss(), la.loss(), 1e-6);
        assertEquals(64, la.tokens());
        assertEquals(64, lb.tokens());
        var pa = a.namedParameters();
        var pb = b.namedParameters();
        for (String k : pa.keySet()) {
            float[] ga = pa.get(k).grad().toFloatArray(), gb = pb.get(k).grad().toFloatArray();
            for (int i = 0; i < ga.length; i++) assertEquals(gb[i], ga[i], 1e-5, k + "[" + i + "]");
        }
        // and the grads are not trivially zero
        float s = 0;
        for (float g : pa.get("bias").grad().toFloatArray()) s += Math.abs(g);
        assertTrue(s > 1e-3);
    }

    @Test
    void weightDecayOnlyOnMatricesAndEmbeddings() {
        BigramLM m = model(1, 0.0);
        List<String> report = new ArrayList<>();
        var opt = Trainer.configureOptimizers(m, 0.1, 1e-3, 0.9, 0.95, report::add);
        assertEquals(2, opt.paramGroups().size());
        ParamGroup decay = opt.paramGroups().get(0), noDecay = opt.paramGroups().get(1);
        assertEquals(List.of(m.table.weight()), decay.params());
        assertEquals(List.of(m.parameter("bias")), noDecay.params());
        assertSame(m.table.weight(), decay.params().getFirst());
        assertEquals(0.1, decay.weightDecay());
        assertEquals(0.0, noDecay.weightDecay());
        assertEquals(1e-3, decay.lr());
        assertArrayEquals(new double[] {0.9, 0.95}, decay.getDoubles(ParamGroup.BETAS));
        assertEquals(List.of("num decayed parameter tensors: 1, with 64 parameters",
                "num non-decayed parameter tensors: 1, with 8 parameters"), report);

        // parameters that do not require grad are left out; counts print with thousands separators
        BigramLM big = new BigramLM(40, 8, 0.0);
        big.parameter("bias").requiresGrad(false);
        report.clear();
        var opt2 = Trainer.configureOptimizers(big, 0.1, 1e-3, 0.9, 0.95, report::add);
        assertTrue(opt2.paramGroups().get(1).params().isEmpty());
        assertEquals("num decayed parameter tensors: 1, with 1,600 parameters", report.get(0));
        assertEquals("num non-decayed parameter tensors: 0, with 0 parameters", report.get(1));
    }

    @Test
    void dropoutOnInTrainingOffInEvaluation() throws Exception {
        BigramLM m = model(1, 0.5);
        var t = new Trainer<>(tiny(tmp, "max_iters=3", "eval_interval=100", "eval_iters=2"), m, new ToyData(V, 2000, 8, 8, false));
        t.fit();
        // eval at 0 (2 train + 2 val batches, eval mode), 3 training iterations, eval at 3 (the end)
        assertEquals(List.of(false, false, false, false, true, true, true, false, false, false, false), m.modes);
        m.modes.clear();
        m.train();
        t.estimateLoss();
        assertTrue(m.modes.stream().noneMatch(b -> b));
        assertTrue(m.isTraining(), "estimateLoss restores the mode");
        m.eval();
        t.estimateLoss();
        assertFalse(m.isTraining());
        // estimateLoss records no graph
        assertTrue(Grad.isEnabled());
    }

    @Test
    void evalOnlyEvaluatesOnceAndWritesNothing() throws Exception {
        BigramLM m = model(1, 0.0);
        Recorder r = new Recorder();
        var before = m.table.weight().toFloatArray();
        new Trainer<>(tiny(tmp.resolve("o"), "eval_only=true"), m, new ToyData(V, 2000, 8, 8, false)).addListener(r).fit();
        assertEquals(1, r.evals.size());
        assertEquals(0, r.logs.size());
        assertArrayEquals(before, m.table.weight().toFloatArray());
        assertFalse(tmp.resolve("o").resolve(Checkpoint.LAST).toFile().exists());
    }

    @Test
    void gradClipZeroDisablesClipping() throws Exception {
        Recorder r = new Recorder();
        new Trainer<>(tiny(tmp.resolve("o"), "grad_clip=0", "max_iters=2"), model(1, 0.0), new ToyData(V, 2000, 8, 8, false))
                .addListener(r).fit();
        assertTrue(Double.isNaN(r.logs.getFirst().gradNorm()));
    }

    @Test
    void resumeWithoutCheckpointIsAClearError() {
        var t = new Trainer<>(tiny(tmp.resolve("empty"), "init_from=resume"), model(1, 0.0), new ToyData(V, 2000, 8, 8, false));
        var e = assertThrows(java.nio.file.NoSuchFileException.class, t::fit);
        assertTrue(e.getMessage().contains("holds no complete checkpoint"), e.getMessage());
    }

    @Test
    void blockSizeLargerThanModelIsRejected() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> new Trainer<>(tiny(tmp, "block_size=9"), model(1, 0.0), new ToyData(V, 2000, 8, 8, false)));
        assertTrue(e.getMessage().contains("block_size 9"), e.getMessage());
    }

    @Test
    void batchSourceWithoutStateRejectsDataState() {
        BatchSource s = (split, g) -> null;
        assertThrows(IllegalArgumentException.class, () -> s.loadStateDict(Map.of("position", 3)));
        s.loadStateDict(Map.of());
    }
}
