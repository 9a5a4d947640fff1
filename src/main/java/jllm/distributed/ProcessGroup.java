package jllm.distributed;

import jllm.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Map;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A group of processes that run the same program on their share of the data and agree through
 * collectives, as {@code torch.distributed}'s default process group. {@link #init} builds it from
 * the environment {@code mpirun} sets; a process started on its own is a world of one whose
 * collectives return at once, so the same training code runs with and without MPI.
 *
 * <p>Every collective has a deadline ({@link #timeout()}, {@code ddp_timeout}): one that does not
 * complete in time (a rank died or hangs) throws a {@link DistributedException} naming this rank and
 * the operation, and the group is broken from then on. Collectives must be called in the same order
 * on every rank (MPI matches them by order); buffers are off-heap {@link MemorySegment}s, which MPI
 * reads and writes directly, or CPU tensors, which go through an off-heap staging copy.
 */
public interface ProcessGroup extends AutoCloseable {
    /** Reductions; AVG is SUM scaled by 1/worldSize. */
    enum Op { SUM, AVG, MAX, MIN }

    /** The default deadline of every collective (PyTorch's default process-group timeout is 30 minutes; nanoGPT-sized steps need far less). */
    Duration DEFAULT_TIMEOUT = Duration.ofSeconds(300);

    int rank();

    int worldSize();

    /** The rank among the processes on this machine (0 when alone). */
    int localRank();

    Duration timeout();

    /**
     * Starts an in-place all-reduce of {@code count} floats at the start of {@code buf}; {@code what}
     * names the operation in errors ("all-reduce of gradient bucket 3").
     */
    Work allReduceAsync(MemorySegment buf, long count, Op op, String what);

    /** Starts an in-place broadcast of {@code bytes} bytes from rank {@code root}. */
    Work broadcastAsync(MemorySegment buf, long bytes, int root, String what);

    /** Every rank's {@code send} (the same size on all ranks), concatenated in rank order. */
    byte[] allGatherBytes(byte[] send, String what);

    /** Returns once every rank has called it. */
    void barrier(String what);

    /**
     * Ends every rank of the job: prints nothing itself, asks the launcher to stop the others
     * ({@code MPI_Abort}), then halts this process with {@code exitCode}. Never returns.
     */
    void abort(int exitCode);

    /** Finalizes MPI (a no-op for a world of one or a broken group). */
    @Override
    void close();

    // ------------------------------------------------------------------ conveniences built on the above

    /** In-place blocking all-reduce of a float buffer. */
    default void allReduce(MemorySegment buf, long count, Op op) {
        allReduceAsync(buf, count, op, "all-reduce of " + count + " floats").await();
    }

    /** In-place blocking all-reduce of a contiguous F32 CPU tensor (through a staging copy). */
    default void allReduce(Tensor t, Op op) {
        if (worldSize() == 1 && op != Op.AVG) return;
        HostBuffer.allReduce(this, t, op);
    }

    /** Overwrites {@code t} (any dtype, CPU) with rank {@code root}'s values. */
    default void broadcast(Tensor t, int root) {
        if (worldSize() == 1) return;
        HostBuffer.broadcast(this, t, root);
    }

    /** Every rank's value, in rank order. */
    default long[] allGather(long value, String what) {
        byte[] all = allGatherBytes(java.nio.ByteBuffer.allocate(8).putLong(value).array(), what);
        long[] out = new long[worldSize()];
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(all);
        for (int r = 0; r < out.length; r++) out[r] = b.getLong();
        return out;
    }

    /** Every rank's value, in rank order. */
    default double[] allGather(double value, String what) {
        long[] bits = allGather(Double.doubleToRawLongBits(value), what);
        double[] out = new double[bits.length];
        for (int r = 0; r < out.length; r++) out[r] = Double.longBitsToDouble(bits[r]);
        return out;
    }

    /**
     * Every rank's text, in rank order; the texts may differ in length (the lengths are gathered
     * first, then the texts padded to the longest).
     */
    default List<String> allGather(String value, String what) {
        byte[] mine = value.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        long[] lengths = allGather(mine.length, "all-gather of the sizes of " + what);
        int max = (int) Arrays.stream(lengths).max().orElse(0);
        byte[] all = allGatherBytes(Arrays.copyOf(mine, max), "all-gather of " + what);
        List<String> out = new ArrayList<>(lengths.length);
        for (int r = 0; r < lengths.length; r++) out.add(new String(all, r * max, (int) lengths[r], java.nio.charset.StandardCharsets.UTF_8));
        return out;
    }

    /**
     * Checks that every rank has the same {@code value} for {@code what} (a config, a parameter
     * list, a data size): ranks that disagree would train on wrong numbers without a word, so this
     * throws on every rank, naming the first rank that differs from rank 0 and both values.
     */
    default void verifySame(String what, String value) {
        if (worldSize() == 1) return;
        Fingerprint.verify(this, what, value);
    }

    /**
     * The process group this process belongs to, from the environment: under {@code mpirun}
     * ({@code OMPI_COMM_WORLD_SIZE}) or another MPI launcher ({@code PMIX_RANK}) an MPI group;
     * {@code WORLD_SIZE > 1} without an MPI launcher is an error (MPI cannot join processes it did
     * not start); otherwise a world of one.
     */
    static ProcessGroup init(Duration timeout) {
        return init(System.getenv(), timeout);
    }

    static ProcessGroup init(Map<String, String> env, Duration timeout) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("ddp_timeout must be positive, got " + timeout);
        }
        boolean mpiLaunched = launchedByMpi(env);
        int worldEnv = intEnv(env, "OMPI_COMM_WORLD_SIZE", intEnv(env, "WORLD_SIZE", 1));
        if (!mpiLaunched) {
            if (worldEnv > 1) {
                throw new DistributedException("WORLD_SIZE=" + worldEnv + " but this process was not started by mpirun: "
                        + "launch with `jllm train --nproc N` or `mpirun -np N ./jllm train`");
            }
            return new SingleProcessGroup(timeout);
        }
        return MpiProcessGroup.start(timeout, worldEnv, intEnv(env, "OMPI_COMM_WORLD_LOCAL_RANK", intEnv(env, "LOCAL_RANK", 0)));
    }

    /** A world of one: this process alone. */
    static ProcessGroup single() {
        return new SingleProcessGroup(DEFAULT_TIMEOUT);
    }

    /** True when this process was started by mpirun (or another MPI launcher). */
    static boolean launchedByMpi() {
        return launchedByMpi(System.getenv());
    }

    private static boolean launchedByMpi(Map<String, String> env) {
        return env.containsKey("OMPI_COMM_WORLD_SIZE") || env.containsKey("PMIX_RANK");
    }

    /** True when Open MPI's library can be loaded here (what the distributed tests check before running). */
    static boolean mpiAvailable() {
        return Mpi.available();
    }

    private static int intEnv(Map<String, String> env, String key, int def) {
        String v = env.get(key);
        if (v == null || v.isBlank()) return def;
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new DistributedException("environment variable " + key + " must be an integer, got '" + v + "'");
        }
    }
}
