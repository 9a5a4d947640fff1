package jllm.train;

import jllm.cli.Main;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** One writer per out_dir. */
class OutDirLockTest {
    @TempDir
    Path tmp;

    @Test
    void aSecondWriterIsRefusedUntilTheFirstLetsGo() throws Exception {
        Path out = tmp.resolve("out");
        try (OutDirLock lock = OutDirLock.acquire(out)) {
            var e = assertThrows(IllegalStateException.class, () -> OutDirLock.acquire(out));
            assertTrue(e.getMessage().contains(out + " is in use by another jllm run (pid " + ProcessHandle.current().pid() + ")"), e.getMessage());
        }
        OutDirLock.acquire(out).close(); // free again
    }

    @Test
    void trainRefusesAnOutDirThatAnotherProcessIsTrainingIn() throws Exception {
        Path out = tmp.resolve("busy");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process other = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx512m", "-cp", cp, Main.class.getName(),
                "train", "--set", "out_dir=" + out, "--set", "max_iters=1000000", "--set", "model.n_layer=1", "--set", "model.n_embd=16",
                "--set", "model.n_head=1", "--progress", "off").redirectErrorStream(true).redirectOutput(tmp.resolve("other.log").toFile()).start();
        try {
            Path lock = out.resolve(OutDirLock.FILE);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!(Files.exists(lock) && Files.readString(lock).strip().equals(Long.toString(other.pid())))) {
                assertTrue(other.isAlive() && System.nanoTime() < deadline, "the first run did not take the lock: " + Files.readString(tmp.resolve("other.log")));
                Thread.sleep(100);
            }
            PrintStream saved = System.err;
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int rc;
            try {
                System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
                rc = Main.commandLine().execute("train", "--set", "out_dir=" + out, "--set", "max_iters=1", "--progress", "off");
            } finally {
                System.setErr(saved);
            }
            assertEquals(1, rc, err.toString(StandardCharsets.UTF_8));
            List<String> lines = err.toString(StandardCharsets.UTF_8).lines().toList();
            assertEquals(1, lines.size(), lines.toString());
            assertTrue(lines.getFirst().contains("is in use by another jllm run (pid " + other.pid() + ")"), lines.toString());
        } finally {
            other.destroyForcibly().waitFor();
        }
    }
}
