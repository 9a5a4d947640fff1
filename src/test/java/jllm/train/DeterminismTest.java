package jllm.train;

import jllm.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Same seed, config and thread count: bit-identical training, whatever the JIT does. One run is
 * confined to C1 (which runs the Vector API's Java fallbacks lane by lane), one compiles with C2
 * (intrinsics), one starts in C2 at once (-Xcomp-like thresholds): the kernels' lane sums
 * (LaneSum) and exp/tanh (VecMath) are written so that every tier computes the same bits.
 */
class DeterminismTest {
    @TempDir
    Path tmp;

    private Path train(String name, String... jvmFlags) throws Exception {
        Path out = tmp.resolve(name);
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g"));
        cmd.addAll(List.of(jvmFlags));
        cmd.addAll(List.of("-cp", cp, Main.class.getName(), "train", "--set", "out_dir=" + out, "--set", "model.n_layer=1",
                "--set", "model.n_embd=32", "--set", "model.n_head=2", "--set", "batch_size=4", "--set", "block_size=16",
                "--set", "max_iters=20", "--set", "eval_interval=10", "--set", "eval_iters=2", "--set", "always_save_checkpoint=true",
                "--final-eval-iters", "0", "--sample-tokens", "0", "--progress", "off"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(tmp.resolve(name + ".log").toFile()).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "run " + name + " did not finish");
        assertEquals(0, p.exitValue(), Files.readString(tmp.resolve(name + ".log")));
        return out.resolve(Checkpoint.LAST);
    }

    @Test
    void runsWithTheSameSeedAreBitIdenticalWhicheverJitCompiledThem() throws Exception {
        Path c1 = train("c1", "-XX:TieredStopAtLevel=1"), c2 = train("c2"),
                early = train("early", "-XX:-TieredCompilation", "-XX:CompileThreshold=100");
        for (Path other : List.of(c2, early)) {
            assertArrayEquals(Files.readAllBytes(c1.resolve(Checkpoint.MODEL)), Files.readAllBytes(other.resolve(Checkpoint.MODEL)),
                    "weights of " + other.getParent().getFileName());
            assertArrayEquals(Files.readAllBytes(c1.resolve(Checkpoint.OPTIMIZER)), Files.readAllBytes(other.resolve(Checkpoint.OPTIMIZER)),
                    "optimizer of " + other.getParent().getFileName());
        }
    }
}
