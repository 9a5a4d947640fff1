package jllm.distributed;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;

/**
 * A process group on Open MPI. One daemon thread, the communication thread, makes every MPI call
 * (so MPI needs only {@code MPI_THREAD_FUNNELED}): it initialises MPI, starts the non-blocking
 * collectives that other threads submit, and drives them with {@code MPI_Test}. Open MPI moves data
 * only inside MPI calls, so this polling is what lets an all-reduce progress while the training
 * thread runs backward; the thread spins while someone waits on a result and backs off to short
 * sleeps otherwise, so that it does not take a core from the computation it overlaps.
 *
 * <p>Each operation carries a deadline; one that passes it fails with a message naming this rank
 * and the operation, and breaks the group (MPI offers no way to cancel a collective, so nothing can
 * be issued after it).
 */
final class MpiProcessGroup implements ProcessGroup {
    /** Sleep between polls while nobody waits on a result: frequent enough to keep a transfer moving, rare enough to cost ~1% of a core. */
    private static final long IDLE_POLL_NANOS = 50_000;

    private final Duration timeout;
    private final int localRank;
    private final LinkedBlockingQueue<Task> submitted = new LinkedBlockingQueue<>();
    private final AtomicInteger waiters = new AtomicInteger();
    private final Thread thread;
    private final CompletableFuture<int[]> ready = new CompletableFuture<>();
    private volatile String broken; // the first failure, after which nothing more is issued
    private volatile boolean closed;
    private int rank = -1, world = -1;
    private Mpi mpi;

    private MpiProcessGroup(Duration timeout, int localRank) {
        this.timeout = timeout;
        this.localRank = localRank;
        this.thread = Thread.ofPlatform().daemon().name("jllm-mpi").unstarted(this::run);
    }

    static MpiProcessGroup start(Duration timeout, int expectedWorld, int localRank) {
        MpiProcessGroup pg = new MpiProcessGroup(timeout, localRank);
        pg.thread.start();
        int[] rw;
        try {
            rw = pg.ready.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw e.getCause() instanceof DistributedException d ? d : new DistributedException("MPI start-up failed: " + e.getCause(), e);
        } catch (java.util.concurrent.TimeoutException e) {
            throw new DistributedException("MPI_Init_thread did not return within " + seconds(timeout) + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DistributedException("interrupted while starting MPI");
        }
        pg.rank = rw[0];
        pg.world = rw[1];
        if (expectedWorld != pg.world) {
            throw new DistributedException("rank " + pg.rank + ": the launcher announced " + expectedWorld + " processes but MPI_COMM_WORLD has "
                    + pg.world);
        }
        return pg;
    }

    @Override public int rank() { return rank; }

    @Override public int worldSize() { return world; }

    @Override public int localRank() { return localRank; }

    @Override public Duration timeout() { return timeout; }

    @Override
    public String toString() {
        return "ProcessGroup(mpi, rank " + rank + " of " + world + ")";
    }

    // ------------------------------------------------------------------ operations

    /** A collective in flight: started on the communication thread, then tested until done or late. */
    private class Task implements Work {
        final String what;
        final Consumer<MemorySegment> start; // issues the non-blocking call, writing the MPI_Request into its argument
        final Runnable onDone;               // runs on the communication thread after a successful completion
        final CompletableFuture<Void> done = new CompletableFuture<>();
        long deadline;
        MemorySegment request;

        Task(String what, Consumer<MemorySegment> start, Runnable onDone) {
            this.what = what;
            this.start = start;
            this.onDone = onDone;
        }

        @Override public boolean isCompleted() { return done.isDone(); }

        @Override
        public void await() {
            waiters.incrementAndGet();
            try {
                // the communication thread enforces the deadline; this bound only guards against that thread being gone
                done.get(timeout.toMillis() + 60_000, TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                throw new DistributedException("rank " + rank + ": " + what + " did not complete and the MPI communication thread stopped");
            } catch (ExecutionException e) {
                throw e.getCause() instanceof DistributedException d ? new DistributedException(d.getMessage(), d)
                        : new DistributedException("rank " + rank + ": " + what + " failed: " + e.getCause(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new DistributedException("rank " + rank + ": interrupted while waiting for " + what);
            } finally {
                waiters.decrementAndGet();
            }
        }
    }

    private Work submit(String what, Consumer<MemorySegment> start, Runnable onDone) {
        Task t = new Task(what, start, onDone);
        String why = broken;
        if (why != null) {
            t.done.completeExceptionally(new DistributedException("rank " + rank + ": cannot start " + what + ": the process group is broken ("
                    + why + ")"));
        } else if (closed) {
            t.done.completeExceptionally(new DistributedException("rank " + rank + ": cannot start " + what + ": the process group is closed"));
        } else {
            submitted.add(t);
        }
        return t;
    }

    @Override
    public Work allReduceAsync(MemorySegment buf, long count, Op op, String what) {
        checkBuffer(buf, count * 4, what);
        if (count > Integer.MAX_VALUE) throw new IllegalArgumentException(what + ": " + count + " floats exceed MPI's int count");
        int n = (int) count;
        Runnable scale = op == Op.AVG ? () -> scale(buf, n, 1f / world) : null;
        return submit(what, req -> mpi.iallreduce(buf, n, mpi.typeFloat, switch (op) {
            case SUM, AVG -> mpi.opSum;
            case MAX -> mpi.opMax;
            case MIN -> mpi.opMin;
        }, req), scale);
    }

    @Override
    public Work broadcastAsync(MemorySegment buf, long bytes, int root, String what) {
        checkBuffer(buf, bytes, what);
        if (root < 0 || root >= world) throw new IllegalArgumentException(what + ": root rank " + root + " is outside [0, " + world + ")");
        if (bytes > Integer.MAX_VALUE) throw new IllegalArgumentException(what + ": " + bytes + " bytes exceed MPI's int count");
        return submit(what, req -> mpi.ibcast(buf, (int) bytes, mpi.typeByte, root, req), null);
    }

    @Override
    public byte[] allGatherBytes(byte[] send, String what) {
        try (Arena a = Arena.ofShared()) {
            MemorySegment s = a.allocate(Math.max(1, send.length)), r = a.allocate(Math.max(1, (long) send.length * world));
            MemorySegment.copy(send, 0, s, ValueLayout.JAVA_BYTE, 0, send.length);
            submit(what, req -> mpi.iallgather(s, r, send.length, mpi.typeByte, req), null).await();
            return r.asSlice(0, (long) send.length * world).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    @Override
    public void barrier(String what) {
        submit(what, req -> mpi.ibarrier(req), null).await();
    }

    private static void checkBuffer(MemorySegment buf, long bytes, String what) {
        if (!buf.isNative()) throw new IllegalArgumentException(what + ": MPI buffers must be off-heap memory segments");
        if (buf.byteSize() < bytes) throw new IllegalArgumentException(what + ": buffer of " + buf.byteSize() + " bytes is smaller than " + bytes);
    }

    private static void scale(MemorySegment buf, int n, float s) {
        for (long i = 0; i < n; i++) buf.setAtIndex(ValueLayout.JAVA_FLOAT, i, buf.getAtIndex(ValueLayout.JAVA_FLOAT, i) * s);
    }

    // ------------------------------------------------------------------ the communication thread

    private void run() {
        try {
            mpi = Mpi.load();
            int provided = mpi.initThread();
            if (provided < Mpi.THREAD_FUNNELED) {
                throw new DistributedException("MPI provides thread level " + provided + "; jllm needs MPI_THREAD_FUNNELED");
            }
            ready.complete(new int[] {mpi.commRank(), mpi.commSize()});
        } catch (Throwable t) {
            ready.completeExceptionally(t);
            return;
        }
        List<Task> active = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment flag = arena.allocate(ValueLayout.JAVA_INT), status = arena.allocate(Mpi.STATUS_SIZE);
            while (true) {
                Task next = active.isEmpty() ? submitted.poll(IDLE_POLL_NANOS * 20, TimeUnit.NANOSECONDS) : submitted.poll();
                for (; next != null; next = submitted.poll()) {
                    if (next instanceof Shutdown s) {
                        s.run(active);
                        return;
                    }
                    next.request = arena.allocate(ValueLayout.ADDRESS);
                    next.deadline = System.nanoTime() + timeout.toNanos();
                    active.add(next); // first, so that a call that fails to start fails its task too
                    next.start.accept(next.request);
                }
                // MPI matches collectives by issue order; testing them in that order completes them in that order
                while (!active.isEmpty() && mpi.test(active.getFirst().request, flag, status)) {
                    Task t = active.removeFirst();
                    if (t.onDone != null) t.onDone.run();
                    t.done.complete(null);
                }
                if (!active.isEmpty()) {
                    Task late = active.getFirst();
                    if (System.nanoTime() - late.deadline > 0) {
                        fail(active, "rank " + rank + ": " + late.what + " did not complete within " + seconds(timeout)
                                + " s (ddp_timeout): another rank has died or hangs");
                        return;
                    }
                    if (waiters.get() == 0) LockSupport.parkNanos(IDLE_POLL_NANOS);
                    else Thread.onSpinWait();
                }
            }
        } catch (InterruptedException e) {
            fail(active, "rank " + rank + ": the MPI communication thread was interrupted");
        } catch (Throwable t) {
            fail(active, "rank " + rank + ": " + (t.getMessage() != null ? t.getMessage() : t.toString()));
            if (!(t instanceof DistributedException)) t.printStackTrace(); // a bug here, not a fault of the job
        }
    }

    private void fail(List<Task> active, String message) {
        if (broken == null) broken = message;
        DistributedException e = new DistributedException(message);
        for (Task t : active) t.done.completeExceptionally(e);
        for (Task t; (t = submitted.poll()) != null; ) t.done.completeExceptionally(e);
    }

    /** The last task the communication thread runs: finalize or abort. */
    private final class Shutdown extends Task {
        final int abortCode; // < 0: MPI_Finalize

        Shutdown(int abortCode) {
            super(abortCode < 0 ? "MPI_Finalize" : "MPI_Abort", r -> {}, null);
            this.abortCode = abortCode;
        }

        void run(List<Task> active) {
            try {
                if (abortCode >= 0) {
                    mpi.abort(abortCode);
                } else if (active.isEmpty() && broken == null) {
                    mpi.finalizeMpi();
                }
                done.complete(null);
            } catch (Throwable t) {
                done.completeExceptionally(t);
            }
        }
    }

    @Override
    public void abort(int exitCode) {
        closed = true;
        Shutdown s = new Shutdown(exitCode);
        submitted.add(s);
        try {
            // MPI_Abort normally ends this process too; halt anyway if it does not within a few seconds
            s.done.get(5, TimeUnit.SECONDS);
        } catch (Exception ignored) {
            // fall through to halt
        }
        Runtime.getRuntime().halt(exitCode);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (broken != null || !thread.isAlive()) return; // a broken group cannot finalize: MPI_Finalize would wait for the lost collective
        Shutdown s = new Shutdown(-1);
        submitted.add(s);
        try {
            s.done.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException e) {
            throw new DistributedException("rank " + rank + ": MPI_Finalize failed: " + e.getCause().getMessage(), e.getCause());
        } catch (java.util.concurrent.TimeoutException e) {
            throw new DistributedException("rank " + rank + ": MPI_Finalize did not return within " + seconds(timeout) + " s");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String seconds(Duration d) {
        return String.format(Locale.ROOT, "%.0f", d.toMillis() / 1e3);
    }
}
