package jllm.cli;

import jllm.backend.cpu.Parallel;
import jllm.distributed.ProcessGroup;
import jllm.train.TrainConfig;
import picocli.CommandLine;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What {@code train} and {@code finetune} share to run data-parallel: {@code --nproc N} relaunches
 * the same command under {@code mpirun -np N} on this machine (as torchrun does), and each rank runs
 * its command body inside a process group, printing only on rank 0. A failure on any rank prints
 * one line naming the rank and ends every rank through MPI_Abort, so no rank waits for a peer that
 * will never come.
 */
final class DataParallel {
    private DataParallel() {}

    /** The body of a command, given this rank's process group and where it prints. */
    @FunctionalInterface
    interface Body {
        int run(ProcessGroup group, PrintStream out) throws Exception;
    }

    /**
     * Runs {@code body} as one rank of the job this process belongs to (a world of one when not
     * started by mpirun). Rank 0 prints to {@code out}; the other ranks print nothing but errors.
     */
    static int run(String command, TrainConfig cfg, PrintStream out, Body body) throws Exception {
        ProcessGroup group = ProcessGroup.init(cfg.ddpTimeoutDuration());
        if (group.worldSize() == 1) {
            try (group) {
                return body.run(group, out);
            }
        }
        int localSize = intEnv("OMPI_COMM_WORLD_LOCAL_SIZE", 1);
        // ranks on one machine share its cores: no rank's kernels may take more than its part
        Parallel.setThreads(Math.max(1, Runtime.getRuntime().availableProcessors() / Math.max(1, localSize)));
        PrintStream mine = group.rank() == 0 ? out : new PrintStream(OutputStream.nullOutputStream());
        int rc;
        try {
            rc = body.run(group, mine);
        } catch (Throwable t) {
            String msg = CliErrors.describe(t);
            System.err.println("jllm " + command + ": " + (msg.startsWith("rank ") ? msg : "rank " + group.rank() + ": " + msg));
            if (CliErrors.debug()) t.printStackTrace();
            System.err.flush();
            group.abort(1);
            throw t; // not reached: abort halts
        }
        group.close();
        return rc;
    }

    private static int intEnv(String key, int def) {
        String v = System.getenv(key);
        try {
            return v == null ? def : Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            return def;
        }
    }

    /** True when {@code --nproc} asks this process to launch the ranks rather than be one. */
    static boolean shouldLaunch(CommandLine.Model.CommandSpec spec, int nproc) {
        CliErrors.check(spec, nproc >= 1, "--nproc must be >= 1, got " + nproc);
        return nproc > 1 && !ProcessGroup.launchedByMpi();
    }

    /**
     * Runs this same command line ({@code originalArgs}: the whole command line, command name
     * included), without {@code --nproc}, as {@code nproc} ranks under mpirun on
     * this machine, and returns mpirun's exit code.
     */
    static int launch(int nproc, String command, List<String> originalArgs, String progress) throws IOException, InterruptedException {
        String mpirun = findOnPath("mpirun");
        if (mpirun == null) {
            throw new IllegalArgumentException("--nproc " + nproc + " needs Open MPI's mpirun, which is not on PATH: apt-get install openmpi-bin");
        }
        List<String> cmd = new ArrayList<>(List.of(mpirun, "-np", Integer.toString(nproc)));
        if ("root".equals(System.getProperty("user.name"))) cmd.add("--allow-run-as-root");
        if (nproc > Runtime.getRuntime().availableProcessors()) cmd.add("--oversubscribe");
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        List<String> args = withoutNproc(originalArgs);
        // the ranks' output goes through mpirun's pipes: keep the live bar when this process has a terminal
        if ("auto".equals(progress.toLowerCase(Locale.ROOT)) && System.console() != null && System.console().isTerminal()) {
            args.addAll(List.of("--progress", "terminal"));
        }
        cmd.addAll(args);
        System.err.println("jllm " + command + ": launching " + nproc + " ranks: mpirun -np " + nproc + " ... jllm " + String.join(" ", args));
        Process p = new ProcessBuilder(cmd).inheritIO().start();
        Thread stop = new Thread(p::destroy);
        Runtime.getRuntime().addShutdownHook(stop);
        int rc = p.waitFor();
        Runtime.getRuntime().removeShutdownHook(stop);
        return rc;
    }

    static List<String> withoutNproc(List<String> args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--nproc")) {
                i++; // and its value
            } else if (!a.startsWith("--nproc=")) {
                out.add(a);
            }
        }
        return out;
    }

    private static String findOnPath(String exe) {
        String path = System.getenv("PATH");
        if (path == null) return null;
        for (String dir : path.split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, exe);
            if (Files.isExecutable(p)) return p.toString();
        }
        return null;
    }
}
