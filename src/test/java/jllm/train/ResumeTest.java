package jllm.train;

import jllm.tensor.Generator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A run interrupted after its checkpoint at iteration 10 and resumed gives exactly the losses,
 * learning rates, gradient norms and final weights of the same run without interruption (with
 * dropout, gradient accumulation and clipping, warmup + cosine, random or sequential batches).
 */
class ResumeTest {
    @TempDir
    Path tmp;

    static final String[] SETTINGS = {"max_iters=20", "eval_interval=5", "gradient_accumulation_steps=2", "batch_size=4",
        "warmup_iters=3", "lr_decay_iters=18", "grad_clip=0.5", "eval_iters=3"};

    static final class Crash extends RuntimeException {
        Crash() { super("simulated crash"); }
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void interruptedAndResumedRunMatchesStraightRun(boolean sequentialData) throws Exception {
        // straight run
        TrainConfig straightCfg = TrainerTest.tiny(tmp.resolve("straight"), SETTINGS);
        BigramLM a = TrainerTest.model(11, 0.2);
        var ra = new TrainerTest.Recorder();
        new Trainer<>(straightCfg, a, new ToyData(TrainerTest.V, 3000, 4, 8, sequentialData)).addListener(ra).fit();
        assertEquals(20, ra.logs.size());

        // the same run, crashing at iteration 13 (after the checkpoint at 10)
        TrainConfig cfg = TrainerTest.tiny(tmp.resolve("crashy"), SETTINGS);
        BigramLM b = TrainerTest.model(11, 0.2);
        var rb = new TrainerTest.Recorder();
        var tb = new Trainer<>(cfg, b, new ToyData(TrainerTest.V, 3000, 4, 8, sequentialData)).addListener(rb)
                .addListener(new TrainListener() {
                    @Override
                    public void onLog(Log l) {
                        if (l.iter() == 13) throw new Crash();
                    }
                });
        assertThrows(Crash.class, tb::fit);
        assertEquals(14, rb.logs.size());
        for (int i = 0; i < 14; i++) assertEquals(ra.logs.get(i).loss(), rb.logs.get(i).loss(), 0.0, "iter " + i);

        // a new process: other seeds, other weights, fresh data source; everything must come from the checkpoint
        Generator.manualSeed(999);
        BigramLM c = TrainerTest.model(12345, 0.2);
        Generator.defaultGenerator().nextLong();
        var rc = new TrainerTest.Recorder();
        var tc = new Trainer<>(cfg.with("init_from", "resume").with("seed", 4242), c,
                new ToyData(TrainerTest.V, 3000, 4, 8, sequentialData)).addListener(rc);
        tc.fit();
        assertTrue(rc.start.resumed());
        assertEquals(10, rc.start.startIter());
        assertEquals(List.of(10L, 11L, 12L, 13L, 14L, 15L, 16L, 17L, 18L, 19L), rc.logs.stream().map(TrainListener.Log::iter).toList());
        for (int i = 0; i < 10; i++) {
            var want = ra.logs.get(10 + i);
            var got = rc.logs.get(i);
            assertEquals(want.iter(), got.iter());
            assertEquals(want.loss(), got.loss(), 0.0, "loss at iter " + want.iter());
            assertEquals(want.lr(), got.lr(), 0.0, "lr at iter " + want.iter());
            assertEquals(want.gradNorm(), got.gradNorm(), 0.0, "grad norm at iter " + want.iter());
        }
        // the evaluation at 10 is not repeated; 15 and 20 match
        assertEquals(List.of(15L, 20L), rc.evals.stream().map(TrainListener.Eval::iter).toList());
        assertEquals(ra.evals.get(3), rc.evals.get(0));
        assertEquals(ra.evals.get(4), rc.evals.get(1));
        assertEquals(ra.evals.get(4).bestValLoss(), tc.bestValLoss());
        var pa = a.stateDict();
        var pc = c.stateDict();
        for (String k : pa.keySet()) assertArrayEquals(pa.get(k).toFloatArray(), pc.get(k).toFloatArray(), k);
        assertArrayEquals(Generator.defaultGenerator().getState(), afterStraight(sequentialData));
    }

    /** The default generator's state at the end of the straight run (replayed, since later runs moved it). */
    private long[] afterStraight(boolean sequentialData) throws Exception {
        TrainConfig cfg = TrainerTest.tiny(tmp.resolve("again" + sequentialData), SETTINGS);
        new Trainer<>(cfg, TrainerTest.model(11, 0.2), new ToyData(TrainerTest.V, 3000, 4, 8, sequentialData)).fit();
        return Generator.defaultGenerator().getState();
    }
}
