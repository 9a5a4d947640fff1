package jllm.distributed;

import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.cli.Main;
import jllm.optim.OptimizerStateDict;
import jllm.train.Checkpoint;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** `jllm train` as 2 ranks: the --nproc launcher, bit-exact resume, disagreeing ranks, and a rank that dies or hangs. */
class DistributedTrainTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void mpi() {
        MpiJob.assumeMpi();
    }

    /** A tiny run of the default preset. */
    private List<String> train(Path out, String... more) {
        List<String> a = new ArrayList<>(List.of("train", "--set", "out_dir=" + out, "--set", "model.n_layer=1", "--set", "model.n_embd=32",
                "--set", "batch_size=4", "--set", "block_size=32", "--set", "eval_iters=2", "--set", "eval_interval=10",
                "--set", "always_save_checkpoint=true", "--set", "log_interval=1", "--final-eval-iters", "2", "--sample-tokens", "0",
                "--progress", "plain"));
        a.addAll(List.of(more));
        return a;
    }

    private MpiJob.Result ranks(int n, List<String> args, int timeout) throws Exception {
        return MpiJob.run(n, timeout, tmp, Main.class.getName(), args.toArray(String[]::new));
    }

    @Test
    void nprocLaunchesRanksThatPrintOnceAndResumeBitForBit() throws Exception {
        // --nproc 2 from a plain process: it relaunches itself under mpirun
        Path a = tmp.resolve("a");
        List<String> cmd = MpiJob.java(Main.class.getName());
        cmd.addAll(train(a, "--set", "max_iters=20", "--nproc", "2"));
        MpiJob.Result r = MpiJob.run(cmd, 180, tmp);
        assertEquals(0, r.exitCode(), r.output());
        assertEquals(1, count(r.output(), "data-parallel: 2 ranks"), r.output());
        assertEquals(1, count(r.output(), "final val loss"), r.output());
        assertEquals(1, count(r.output(), "step 20:"), r.output());

        // the same 20 iterations as 10, then a resumed 10
        Path b = tmp.resolve("b");
        assertEquals(0, ranks(2, train(b, "--set", "max_iters=10"), 180).exitCode());
        MpiJob.Result resumed = ranks(2, train(b, "--set", "max_iters=20", "--resume"), 180);
        assertEquals(0, resumed.exitCode(), resumed.output());
        assertTrue(resumed.output().contains("resuming training from"), resumed.output());
        assertSameRun(a.resolve(Checkpoint.LAST), b.resolve(Checkpoint.LAST), Checkpoint.MODEL);
        String state = Files.readString(b.resolve(Checkpoint.LAST).resolve(Checkpoint.STATE));
        assertTrue(state.contains("rank1.batch"), state);
    }

    @Test
    void zeroStageOneResumesBitForBitAndItsCheckpointsAreTheUnshardedOnes() throws Exception {
        Path a = tmp.resolve("a");
        List<String> cmd = MpiJob.java(Main.class.getName());
        cmd.addAll(train(a, "--set", "max_iters=20", "--set", "zero_stage=1", "--nproc", "2"));
        MpiJob.Result r = MpiJob.run(cmd, 180, tmp);
        assertEquals(0, r.exitCode(), r.output());
        assertEquals(1, count(r.output(), "ZeRO-1: optimizer state sharded across 2 ranks"), r.output());
        Path last = a.resolve(Checkpoint.LAST);

        // the checkpoint holds exp_avg, exp_avg_sq and step for every parameter of both AdamW groups
        OptimizerStateDict sd = OptimizerStateDict.read(last.resolve(Checkpoint.OPTIMIZER));
        int params = 0;
        for (var g : new ObjectMapper().readTree(sd.metadata().get(OptimizerStateDict.META_PARAM_GROUPS))) params += g.get("params").size();
        assertTrue(params > 4, "parameters: " + params);
        for (int i = 0; i < params; i++) {
            for (String k : List.of("step", "exp_avg", "exp_avg_sq")) assertTrue(sd.tensors().containsKey("state." + i + "." + k), "state." + i + "." + k);
        }
        assertEquals(3 * params, sd.tensors().size());
        assertEquals("AdamW", sd.metadata().get(OptimizerStateDict.META_OPTIMIZER));

        // 10 iterations, then a resumed 10, with ZeRO: the same bits
        Path b = tmp.resolve("b");
        assertEquals(0, ranks(2, train(b, "--set", "max_iters=10", "--set", "zero_stage=1"), 180).exitCode());
        Path c = tmp.resolve("c"); // the same 10-iteration checkpoint, to be resumed without ZeRO
        Files.createDirectories(c.resolve(Checkpoint.LAST));
        for (String f : List.of(Checkpoint.CONFIG, Checkpoint.MODEL, Checkpoint.OPTIMIZER, Checkpoint.STATE)) {
            Files.copy(b.resolve(Checkpoint.LAST).resolve(f), c.resolve(Checkpoint.LAST).resolve(f));
        }
        MpiJob.Result resumed = ranks(2, train(b, "--set", "max_iters=20", "--set", "zero_stage=1", "--resume"), 180);
        assertEquals(0, resumed.exitCode(), resumed.output());
        assertTrue(resumed.output().contains("resuming training from"), resumed.output());
        for (String f : List.of(Checkpoint.MODEL, Checkpoint.OPTIMIZER)) {
            assertSameRun(last, b.resolve(Checkpoint.LAST), f);
        }

        // ZeRO-1 computes the very updates plain DDP does, so its checkpoint resumes without it to the same bits
        MpiJob.Result plain = ranks(2, train(c, "--set", "max_iters=20", "--resume"), 180);
        assertEquals(0, plain.exitCode(), plain.output());
        assertEquals(0, count(plain.output(), "ZeRO-1"), plain.output());
        for (String f : List.of(Checkpoint.MODEL, Checkpoint.OPTIMIZER)) {
            assertSameRun(last, c.resolve(Checkpoint.LAST), f);
        }
    }

    @Test
    void finetuneRunsDataParallelAndWritesOneAdapter() throws Exception {
        Path llama2c = Path.of("src/test/resources/llama2c"), model = tmp.resolve("aidreams");
        assertEquals(0, Main.commandLine().execute("convert", "llama2c", "--checkpoint", llama2c.resolve("aidreams260K.bin").toString(),
                "--tokenizer", llama2c.resolve("tok512.bin").toString(), "--out", model.toString()));
        Path data = tmp.resolve("pairs.jsonl");
        List<String> lines = new ArrayList<>();
        for (int i = 0; i < 12; i++) lines.add("{\"prompt\": \"Question " + i + ": what hums?\", \"response\": \" The gentle vectors hum.\"}");
        Files.write(data, lines);
        Path out = tmp.resolve("ft");
        MpiJob.Result r = ranks(2, List.of("finetune", "--model", model.toString(), "--data", data.toString(), "--out", out.toString(),
                "--progress", "plain", "--max-iters", "6", "--batch-size", "4", "--eval-interval", "3", "--eval-iters", "2",
                "--lora-r", "4", "--lora-alpha", "8"), 180);
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("(2 ranks x 1 micro-steps x 2 sequences x"), r.output());
        assertEquals(1, count(r.output(), "adapter:   " + out.resolve("adapter")), r.output());
        assertTrue(Files.isRegularFile(out.resolve("adapter").resolve("adapter_model.safetensors")));
    }

    @Test
    void benchDdpMeasuresAllReduceAndTheStepOnBothSides() throws Exception {
        List<String> cmd = MpiJob.java(Main.class.getName(), "bench", "ddp", "--no-peers", "--case", "cpu-preset", "--sizes-mb", "1",
                "--warmup", "1", "--repeats", "1");
        MpiJob.Result r = MpiJob.run(cmd, 180, tmp);
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().matches("(?s).*jllm   allreduce 1 MB: median [0-9.]+ ms, algbw [0-9.]+ GB/s.*"), r.output());
        assertTrue(r.output().contains("jllm ddp cpu-preset world=1"), r.output());
        assertTrue(r.output().matches("(?s).*jllm ddp cpu-preset world=2 threads=1: median step [0-9.]+ ms, all-reduce wait after backward.*"),
                r.output());
    }

    @Test
    void ranksWithDifferentConfigsStopWithAClearError() throws Exception {
        List<String> cmd = MpiJob.mpirunFlags();
        cmd.addAll(List.of("-np", "1"));
        cmd.addAll(MpiJob.java(Main.class.getName(), train(tmp.resolve("m"), "--set", "learning_rate=1e-3").toArray(String[]::new)));
        cmd.addAll(List.of(":", "-np", "1"));
        cmd.addAll(MpiJob.java(Main.class.getName(), train(tmp.resolve("m"), "--set", "learning_rate=2e-3").toArray(String[]::new)));
        MpiJob.Result r = MpiJob.run(cmd, 120, tmp);
        assertNotEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("ranks disagree on the training config"), r.output());
        assertTrue(r.output().contains("learning_rate"), r.output());
    }

    @Test
    void aKilledRankStopsTheOtherAndTheLastCheckpointResumes() throws Exception {
        Path out = tmp.resolve("k");
        ProcessHandle victim = startAndPickRank(out);
        long t0 = System.nanoTime();
        victim.destroyForcibly(); // kill -9
        int rc = waitJob(60);
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertNotEquals(0, rc, log());
        assertTrue(seconds < 60, "the surviving rank took " + seconds + " s to stop");
        assertTrue(Checkpoint.isComplete(out.resolve(Checkpoint.LAST)), log());
        long iter = Checkpoint.readState(out.resolve(Checkpoint.LAST)).iterNum();
        MpiJob.Result resumed = ranks(2, train(out, "--set", "max_iters=" + (iter + 3), "--resume"), 120);
        assertEquals(0, resumed.exitCode(), resumed.output());
        assertTrue(resumed.output().contains("at iter " + iter), resumed.output());
    }

    @Test
    void aHangingRankMakesTheOtherStopAtTheDeadlineNamingTheOperation() throws Exception {
        Path out = tmp.resolve("h");
        ProcessHandle victim = startAndPickRank(out);
        long t0 = System.nanoTime();
        new ProcessBuilder("kill", "-STOP", Long.toString(victim.pid())).start().waitFor();
        try {
            int rc = waitJob(90);
            double seconds = (System.nanoTime() - t0) / 1e9;
            assertNotEquals(0, rc, log());
            assertTrue(seconds < 60, "stopping took " + seconds + " s");
            assertTrue(log().contains("did not complete within 20 s (ddp_timeout)"), log());
        } finally {
            new ProcessBuilder("kill", "-KILL", Long.toString(victim.pid())).start().waitFor();
        }
    }

    private Process job;
    private Path jobLog;

    /** Starts a long 2-rank run with a 20 s deadline, waits for its first checkpoint, and returns one rank's process. */
    private ProcessHandle startAndPickRank(Path out) throws Exception {
        List<String> cmd = MpiJob.mpirunFlags();
        cmd.addAll(List.of("-np", "2"));
        cmd.addAll(MpiJob.java(Main.class.getName(), train(out, "--set", "max_iters=100000", "--set", "ddp_timeout=20").toArray(String[]::new)));
        jobLog = tmp.resolve("job.log");
        job = MpiJob.start(cmd, jobLog);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (!Checkpoint.isComplete(out.resolve(Checkpoint.LAST)) || Checkpoint.readState(out.resolve(Checkpoint.LAST)).iterNum() < 20) {
            if (System.nanoTime() > deadline || !job.isAlive()) {
                job.descendants().forEach(ProcessHandle::destroyForcibly);
                job.destroyForcibly();
                throw new AssertionError("no checkpoint at iteration 20 within 90 s:\n" + log());
            }
            Thread.sleep(200);
        }
        List<ProcessHandle> ranks = job.descendants().filter(p -> p.info().command().orElse("").endsWith("java")).toList();
        assertEquals(2, ranks.size(), "rank processes: " + ranks);
        return ranks.get(1);
    }

    private int waitJob(int seconds) throws Exception {
        if (!job.waitFor(seconds, TimeUnit.SECONDS)) {
            job.descendants().forEach(ProcessHandle::destroyForcibly);
            job.destroyForcibly();
            throw new AssertionError("the job did not stop within " + seconds + " s:\n" + log());
        }
        return job.exitValue();
    }

    private String log() {
        try {
            return Files.readString(jobLog);
        } catch (java.io.IOException e) {
            return "(no log: " + e + ")";
        }
    }

    private static int count(String s, String part) {
        int n = 0;
        for (int i = s.indexOf(part); i >= 0; i = s.indexOf(part, i + 1)) n++;
        return n;
    }

    /**
     * A resumed run continued the uninterrupted one: the same iteration and random streams (exactly),
     * and the same tensors in {@code file}. The tensors are compared bit for bit when they are, else
     * within 1e-5 relative: a rank's kernels may sum in another order once the JIT compiles them, and
     * a fresh process compiles at other moments than a long-running one (jllm's reductions are not yet
     * independent of that; see the hardening issue), which moves the last bits.
     */
    static void assertSameRun(Path expected, Path actual, String file) throws Exception {
        Checkpoint.State se = Checkpoint.readState(expected), sa = Checkpoint.readState(actual);
        assertEquals(se.iterNum(), sa.iterNum());
        assertEquals(se.rngStates().keySet(), sa.rngStates().keySet());
        for (String k : se.rngStates().keySet()) assertArrayEquals(se.rngStates().get(k), sa.rngStates().get(k), "rng state " + k);
        if (java.util.Arrays.equals(Files.readAllBytes(expected.resolve(file)), Files.readAllBytes(actual.resolve(file)))) return;
        var a = jllm.io.TensorIO.load(expected.resolve(file));
        var b = jllm.io.TensorIO.load(actual.resolve(file));
        java.util.Map<String, jllm.tensor.Tensor> fa = new java.util.LinkedHashMap<>(), fb = new java.util.LinkedHashMap<>();
        for (var e : a.entrySet()) {
            if (e.getValue().dtype().isFloatingPoint()) fa.put(e.getKey(), e.getValue());
            else assertArrayEquals(e.getValue().toLongArray(), b.get(e.getKey()).toLongArray(), e.getKey());
        }
        for (var e : b.entrySet()) if (e.getValue().dtype().isFloatingPoint()) fb.put(e.getKey(), e.getValue());
        DistributedTest.assertClose(fa, fb, 1e-5);
    }
}
