package jllm.train;

import jllm.optim.AdamW;
import jllm.tensor.Generator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    @TempDir
    Path tmp;

    /** A model and optimizer after a few steps, so the optimizer has state. */
    private static Trainer<BigramLM> trained(Path out, long seed, int iters) throws IOException {
        var t = new Trainer<>(TrainerTest.tiny(out, "max_iters=" + iters, "eval_interval=1000", "always_save_checkpoint=false"),
                TrainerTest.model(seed, 0.0), new ToyData(TrainerTest.V, 2000, 8, 8, false));
        t.fit();
        return t;
    }

    private static Checkpoint.State state(long iter, double best) {
        return new Checkpoint.State(iter, best, Map.of(Checkpoint.RNG_DEFAULT, new Generator(1).getState(),
                Checkpoint.RNG_BATCH, new Generator(2).getState()), Map.of("position", 123, "file", "a.bin"));
    }

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(tmp)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void roundTrip() throws Exception {
        var t = trained(tmp.resolve("run"), 1, 3);
        Path dir = tmp.resolve("ck");
        Checkpoint.save(dir, t.config(), t.model(), t.optimizer(), state(3, 1.25));
        assertEquals(List.of(Checkpoint.CONFIG, Checkpoint.MODEL, Checkpoint.OPTIMIZER, Checkpoint.STATE),
                Files.list(dir).map(p -> p.getFileName().toString()).sorted().toList());
        assertEquals(t.config(), Checkpoint.readConfig(dir));

        var u = trained(tmp.resolve("run2"), 2, 1); // other weights, other optimizer state
        Checkpoint.State st = Checkpoint.load(dir, u.model(), u.optimizer());
        assertEquals(3, st.iterNum());
        assertEquals(1.25, st.bestValLoss());
        assertArrayEquals(new Generator(1).getState(), st.rngStates().get(Checkpoint.RNG_DEFAULT));
        assertArrayEquals(new Generator(2).getState(), st.rngStates().get(Checkpoint.RNG_BATCH));
        assertEquals(Map.of("position", 123, "file", "a.bin"), st.dataState());
        assertArrayEquals(t.model().table.weight().toFloatArray(), u.model().table.weight().toFloatArray());
        var sa = t.optimizer().stateDict().tensors();
        var sb = u.optimizer().stateDict().tensors();
        assertEquals(sa.keySet(), sb.keySet());
        for (String k : sa.keySet()) assertArrayEquals(sa.get(k).toFloatArray(), sb.get(k).toFloatArray(), k);
    }

    @Test
    void failedWriteLeavesPreviousCheckpointIntact() throws Exception {
        var t = trained(tmp.resolve("run"), 1, 2);
        Path dir = tmp.resolve("ckpt_last");
        Checkpoint.save(dir, t.config(), t.model(), t.optimizer(), state(2, 2.0));
        float[] w2 = t.model().table.weight().toFloatArray();
        byte[] modelBytes = Files.readAllBytes(dir.resolve(Checkpoint.MODEL));

        var u = trained(tmp.resolve("run2"), 7, 4);
        for (String failAt : List.of(Checkpoint.CONFIG, Checkpoint.MODEL, Checkpoint.OPTIMIZER, Checkpoint.STATE, "swap")) {
            var e = assertThrows(IOException.class, () -> Checkpoint.save(dir, u.config(), u.model(), u.optimizer(), state(4, 1.0),
                    step -> {
                        if (step.equals(failAt)) throw new IOException("disk full after " + step);
                    }));
            assertEquals("disk full after " + failAt, e.getMessage());
            assertEquals(2, Checkpoint.readState(dir).iterNum(), "after failing at " + failAt);
            assertArrayEquals(modelBytes, Files.readAllBytes(dir.resolve(Checkpoint.MODEL)));
            assertEquals(List.of("ckpt_last", "run", "run2"), listing(), "no temporary directory is left behind");
        }
        var fresh = TrainerTest.model(3, 0.0);
        var opt = Trainer.configureOptimizers(fresh, 0.1, 0.1, 0.9, 0.95, s -> {});
        Checkpoint.load(dir, fresh, opt);
        assertArrayEquals(w2, fresh.table.weight().toFloatArray());

        // and a successful save replaces it
        Checkpoint.save(dir, u.config(), u.model(), u.optimizer(), state(4, 1.0));
        assertEquals(4, Checkpoint.readState(dir).iterNum());
        assertEquals(List.of("ckpt_last", "run", "run2"), listing());
    }

    @Test
    void crashBetweenTheRenamesIsRecovered() throws Exception {
        var t = trained(tmp.resolve("run"), 1, 2);
        Path dir = tmp.resolve("ckpt_last");
        Checkpoint.save(dir, t.config(), t.model(), t.optimizer(), state(2, 2.0));
        // what a process killed between "old aside" and "new in" leaves: a backup and a finished temp dir
        Files.move(dir, tmp.resolve(".ckpt_last.old-100"));
        Path partial = Files.createDirectory(tmp.resolve(".ckpt_last.tmp-200"));
        Files.writeString(partial.resolve(Checkpoint.CONFIG), "{}");
        assertFalse(Files.exists(dir));

        // readers find the checkpoint in the backup and change nothing: a writer may be mid-save
        assertEquals(2, Checkpoint.readState(dir).iterNum());
        assertEquals(List.of(".ckpt_last.old-100", ".ckpt_last.tmp-200", "run"), listing());
        assertEquals(tmp.resolve(".ckpt_last.old-100").toAbsolutePath().normalize(), Trainer.latestCheckpoint(tmp).toAbsolutePath().normalize());
        // the writer repairs
        assertTrue(Checkpoint.recover(dir));
        assertEquals(List.of("ckpt_last", "run"), listing());
        assertTrue(Checkpoint.isComplete(dir));
        assertEquals(dir.toAbsolutePath(), Trainer.latestCheckpoint(tmp).toAbsolutePath());
    }

    @Test
    void crashDuringTrainingCheckpointKeepsTheLastGoodOne() throws Exception {
        var cfg = TrainerTest.tiny(tmp.resolve("out"), "max_iters=20", "eval_interval=5");
        var t = new Trainer<>(cfg, TrainerTest.model(1, 0.0), new ToyData(TrainerTest.V, 2000, 8, 8, false));
        t.checkpointHook(step -> {
            if (step.equals(Checkpoint.OPTIMIZER) && t.iterNum() == 15) throw new IOException("killed");
        });
        assertThrows(IOException.class, t::fit);
        Path last = tmp.resolve("out").resolve(Checkpoint.LAST);
        assertEquals(10, Checkpoint.readState(last).iterNum());
        assertTrue(Checkpoint.isComplete(last));
        try (Stream<Path> s = Files.list(tmp.resolve("out"))) {
            assertEquals(List.of("ckpt_best", "ckpt_last"), s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    @Test
    void incompleteOrCorruptCheckpointsGiveClearErrors() throws Exception {
        var t = trained(tmp.resolve("run"), 1, 2);
        Path dir = tmp.resolve("ck");
        Checkpoint.save(dir, t.config(), t.model(), t.optimizer(), state(2, 2.0));
        var opt = t.optimizer();

        Files.delete(dir.resolve(Checkpoint.OPTIMIZER));
        var e = assertThrows(NoSuchFileException.class, () -> Checkpoint.load(dir, t.model(), opt));
        assertTrue(e.getMessage().contains(Checkpoint.OPTIMIZER), e.getMessage());
        assertFalse(Checkpoint.isComplete(dir));

        Checkpoint.save(dir, t.config(), t.model(), t.optimizer(), state(2, 2.0));
        Files.writeString(dir.resolve(Checkpoint.STATE), "{\"format_version\": 1, \"iter_num\": -3, \"best_val_loss\": 1.0}");
        var e2 = assertThrows(IllegalArgumentException.class, () -> Checkpoint.readState(dir));
        assertTrue(e2.getMessage().contains(Checkpoint.STATE) && e2.getMessage().contains("iter_num"), e2.getMessage());

        Files.writeString(dir.resolve(Checkpoint.STATE), "{\"format_version\": 1, \"iter_num\": 3, \"best_val_loss\": 1.0, "
                + "\"rng_states\": {\"default\": [1, 2]}}");
        var t2 = new Trainer<>(t.config(), TrainerTest.model(1, 0.0), new ToyData(TrainerTest.V, 2000, 8, 8, false));
        var e3 = assertThrows(IllegalArgumentException.class, () -> t2.resume(dir));
        assertTrue(e3.getMessage().contains("rng_states"), e3.getMessage());

        // a model of another shape: the error names the file and the mismatch
        Checkpoint.save(dir, t.config(), t.model(), t.optimizer(), state(2, 2.0));
        var other = new BigramLM(9, 8, 0.0);
        AdamW otherOpt = Trainer.configureOptimizers(other, 0.1, 0.1, 0.9, 0.95, s -> {});
        var e4 = assertThrows(IllegalArgumentException.class, () -> Checkpoint.load(dir, other, otherOpt));
        assertTrue(e4.getMessage().contains(Checkpoint.MODEL) && e4.getMessage().contains("size mismatch"), e4.getMessage());
    }

    @Test
    void withoutAlwaysSaveOnlyTheBestIsWrittenAndResumedFrom() throws Exception {
        var cfg = TrainerTest.tiny(tmp.resolve("out"), "max_iters=20", "eval_interval=5", "always_save_checkpoint=false");
        var r = new TrainerTest.Recorder();
        new Trainer<>(cfg, TrainerTest.model(1, 0.0), new ToyData(TrainerTest.V, 2000, 8, 8, false)).addListener(r).fit();
        assertFalse(Files.exists(tmp.resolve("out").resolve(Checkpoint.LAST)));
        assertTrue(r.checkpoints.stream().allMatch(c -> c.startsWith("BEST@")), r.checkpoints.toString());
        Path best = tmp.resolve("out").resolve(Checkpoint.BEST);
        assertEquals(best, Trainer.latestCheckpoint(tmp.resolve("out")));
        var st = Checkpoint.readState(best);
        assertEquals(r.evals.stream().filter(e -> e.iter() > 0).mapToDouble(TrainListener.Eval::valLoss).min().orElseThrow(),
                st.bestValLoss());

        // with both present, the one further along wins
        var t = trained(tmp.resolve("x"), 1, 2);
        Checkpoint.save(tmp.resolve("out").resolve(Checkpoint.LAST), t.config(), t.model(), t.optimizer(), state(st.iterNum() + 1, 9));
        assertEquals(tmp.resolve("out").resolve(Checkpoint.LAST), Trainer.latestCheckpoint(tmp.resolve("out")));
    }

    @Test
    void consoleListenerPrintsNanoGptLines() {
        var bytes = new java.io.ByteArrayOutputStream();
        var c = new ConsoleListener(new java.io.PrintStream(bytes, true, java.nio.charset.StandardCharsets.UTF_8));
        c.onEval(new TrainListener.Eval(250, 1.23456, 1.5, 1e-3, 1.5));
        c.onLog(new TrainListener.Log(7, 2.5, 6e-4, 12.345, 1000, Double.NaN));
        c.onMessage("num decayed parameter tensors: 1, with 64 parameters");
        assertEquals("step 250: train loss 1.2346, val loss 1.5000\n"
                + "iter 7: loss 2.5000, time 12.35ms, lr 6.000e-04, 1000 tok/s\n"
                + "num decayed parameter tensors: 1, with 64 parameters\n", bytes.toString(java.nio.charset.StandardCharsets.UTF_8));
    }
}
