package jllm.distributed;

import org.junit.jupiter.api.Assumptions;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs Java main classes as the ranks of a real {@code mpirun} job, for the distributed tests. The
 * tests are skipped, with what to install, where Open MPI is missing.
 */
final class MpiJob {
    private MpiJob() {}

    /** The output and exit code of a finished job, and how long it ran. */
    record Result(int exitCode, String output, double seconds) {}

    static String mpirun() {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(File.pathSeparator)) {
                Path p = Path.of(dir, "mpirun");
                if (Files.isExecutable(p)) return p.toString();
            }
        }
        return null;
    }

    /** Skips the calling test unless mpirun and libmpi are installed. */
    static void assumeMpi() {
        Assumptions.assumeTrue(mpirun() != null && ProcessGroup.mpiAvailable(),
                "Open MPI is not installed (apt-get install openmpi-bin): distributed tests skipped");
    }

    /** The java command line of one rank: this JVM's java, the test class path, the module flags. */
    static List<String> java(String mainClass, String... args) {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-Xmx1g", "-XX:+UseSerialGC",
                "-cp", cp, mainClass));
        cmd.addAll(List.of(args));
        return cmd;
    }

    /** mpirun's own flags for a test job on this machine (root in CI, more ranks than cores). */
    static List<String> mpirunFlags() {
        List<String> f = new ArrayList<>(List.of(mpirun(), "--oversubscribe"));
        if ("root".equals(System.getProperty("user.name"))) f.add("--allow-run-as-root");
        return f;
    }

    static Process start(List<String> command, Path log) throws IOException {
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    /** Runs {@code nproc} ranks of {@code mainClass args} and waits at most {@code timeoutSeconds}. */
    static Result run(int nproc, int timeoutSeconds, Path dir, String mainClass, String... args) throws Exception {
        List<String> cmd = mpirunFlags();
        cmd.addAll(List.of("-np", Integer.toString(nproc)));
        cmd.addAll(java(mainClass, args));
        return run(cmd, timeoutSeconds, dir);
    }

    static Result run(List<String> cmd, int timeoutSeconds, Path dir) throws Exception {
        Path log = Files.createTempFile(dir, "mpirun", ".log");
        long t0 = System.nanoTime();
        Process p = start(cmd, log);
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor();
            throw new AssertionError("mpirun job did not finish within " + timeoutSeconds + " s:\n" + Files.readString(log, StandardCharsets.UTF_8));
        }
        return new Result(p.exitValue(), Files.readString(log, StandardCharsets.UTF_8), (System.nanoTime() - t0) / 1e9);
    }
}
