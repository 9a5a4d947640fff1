package jllm.distributed;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;

/** A world of one: every collective is complete at once and leaves its buffer as it is (AVG over one rank is the value). */
final class SingleProcessGroup implements ProcessGroup {
    private final Duration timeout;

    SingleProcessGroup(Duration timeout) {
        this.timeout = timeout;
    }

    @Override public int rank() { return 0; }

    @Override public int worldSize() { return 1; }

    @Override public int localRank() { return 0; }

    @Override public Duration timeout() { return timeout; }

    @Override
    public Work allReduceAsync(MemorySegment buf, long count, Op op, String what) {
        if (buf.byteSize() < count * ValueLayout.JAVA_FLOAT.byteSize()) {
            throw new IllegalArgumentException(what + ": buffer of " + buf.byteSize() + " bytes is too small for " + count + " floats");
        }
        return Work.DONE;
    }

    @Override
    public Work broadcastAsync(MemorySegment buf, long bytes, int root, String what) {
        if (root != 0) throw new IllegalArgumentException(what + ": root rank " + root + " is outside a world of one");
        return Work.DONE;
    }

    @Override public byte[] allGatherBytes(byte[] send, String what) { return send.clone(); }

    @Override public void barrier(String what) {}

    @Override
    public void abort(int exitCode) {
        Runtime.getRuntime().halt(exitCode);
    }

    @Override public void close() {}

    @Override public String toString() { return "ProcessGroup(world of one)"; }
}
