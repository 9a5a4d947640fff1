package jllm.backend.cpu;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import java.util.Arrays;

/**
 * The one shared worker pool of the CPU backend.
 *
 * <p>Workers are daemon threads, created once (sized to {@link Runtime#availableProcessors()}),
 * that spin briefly and then park between jobs. The calling thread always takes part in the
 * work, so a pool of {@code t} threads has {@code t - 1} workers. Calls made from inside a job
 * (by a worker or by the caller while it runs a chunk), and calls made while another thread
 * already owns the pool, run inline on the calling thread: there is no nested parallelism and
 * no queueing. One call allocates one small job object; nothing else.
 */
public final class Parallel {

    /** Body of a parallel loop: processes the half-open range {@code [start, end)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    private Parallel() {}

    /**
     * How long an idle worker spins before parking. Waking a parked thread costs ~5-8 us in a VM,
     * which would dominate small kernels issued back to back, so workers outwait short gaps.
     * Tunable with {@code -Djllm.parallel.spinMicros=N}.
     */
    private static final long SPIN_NANOS = 1000L * Long.getLong("jllm.parallel.spinMicros", 200L);
    /**
     * How long the caller spins for the workers to finish before parking. Short on purpose: a
     * worker woken from park may be queued on the caller's own CPU, and then it only runs once
     * the caller stops spinning (measured: a tiny job took the whole spin time, 200 us).
     */
    private static final long CALLER_SPIN_NANOS = 1000L * Long.getLong("jllm.parallel.callerSpinMicros", 100L);

    /**
     * Spinners yield the CPU this often. The scheduler tends to queue a woken thread on its
     * waker's CPU; without yields, a caller woken by a worker that then spins idle waited for
     * the whole spin (~200 us) for a job of nothing.
     */
    private static final long YIELD_NANOS = 5_000L;

    private static final Object LOCK = new Object();
    private static volatile Worker[] workers = new Worker[0];
    private static volatile int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
    /** Set while some thread runs a parallel job; a second caller then runs inline. */
    private static final AtomicBoolean BUSY = new AtomicBoolean();
    /** The current job; workers compare it with the last one they ran. */
    private static volatile Job current;

    /** Number of threads parallel loops use (the caller included). */
    public static int threads() {
        return threads;
    }

    /**
     * Sets the number of threads parallel loops use (the caller included), e.g. for benchmarks;
     * {@code n <= 0} restores the default, the number of available processors. Workers are
     * started on demand and never stopped.
     */
    public static void setThreads(int n) {
        if (n <= 0) n = Math.max(1, Runtime.getRuntime().availableProcessors());
        synchronized (LOCK) {
            threads = n;
        }
    }

    /** True when the current thread is a pool worker. */
    public static boolean inWorker() {
        return Thread.currentThread() instanceof Worker;
    }

    /**
     * Runs {@code body} over {@code [0, n)}, split into at most {@link #threads()} contiguous
     * chunks of nearly equal size, each at least {@code grain} long (except when n < grain).
     * Runs inline when there would be a single chunk, when called from inside a parallel job,
     * or when the pool is in use by another thread. The first exception thrown by any chunk is
     * rethrown (after all chunks have finished).
     */
    public static void forRange(int n, int grain, RangeBody body) {
        if (n <= 0) return;
        int g = Math.max(1, grain);
        int chunks = (int) Math.min(threads, ((long) n + g - 1) / g);
        run(n, chunks, 0, body);
    }

    /**
     * Like {@link #forRange} but hands out chunks of exactly {@code chunk} indices dynamically,
     * first come first served (the last one may be shorter): for work whose cost per index
     * varies, or to spread {@code n} tasks that do not divide evenly among the threads.
     */
    public static void forDynamic(int n, int chunk, RangeBody body) {
        if (n <= 0) return;
        int c = Math.max(1, chunk);
        int chunks = (int) (((long) n + c - 1) / c);
        if (threads <= 1 || chunks <= 1) {
            body.run(0, n);
            return;
        }
        run(n, chunks, c, body);
    }

    /** {@code size == 0}: split evenly into {@code chunks}; else chunks of {@code size}. */
    private static void run(int n, int chunks, int size, RangeBody body) {
        if (chunks <= 1 || Thread.currentThread() instanceof Worker || !BUSY.compareAndSet(false, true)) {
            body.run(0, n);
            return;
        }
        try {
            int t = threads;
            Worker[] ws = workers;
            if (ws.length < t - 1) ws = grow(t - 1);
            Job job = new Job(body, n, chunks, size, Math.min(t - 1, chunks - 1));
            current = job;
            for (int i = 0, w = Math.min(ws.length, chunks - 1); i < w; i++) {
                if (ws[i].parked) LockSupport.unpark(ws[i]);
            }
            job.work();
            job.awaitDone();
            if (current == job) current = null;
            Throwable e = job.error;
            if (e != null) {
                if (e instanceof RuntimeException re) throw re;
                if (e instanceof Error er) throw er;
                throw new RuntimeException(e);
            }
        } finally {
            BUSY.set(false);
        }
    }

    private static Worker[] grow(int n) {
        synchronized (LOCK) {
            Worker[] ws = workers;
            if (ws.length >= n) return ws;
            Worker[] nw = Arrays.copyOf(ws, n);
            for (int i = ws.length; i < n; i++) {
                Worker w = new Worker(i);
                nw[i] = w;
                w.start();
            }
            workers = nw;
            return nw;
        }
    }

    private static final class Job {
        private static final VarHandle NEXT, DONE;

        static {
            try {
                MethodHandles.Lookup l = MethodHandles.lookup();
                NEXT = l.findVarHandle(Job.class, "next", int.class);
                DONE = l.findVarHandle(Job.class, "done", int.class);
            } catch (ReflectiveOperationException e) {
                throw new ExceptionInInitializerError(e);
            }
        }

        final RangeBody body;
        final int n, chunks, size;
        /** How many workers may still join; keeps surplus workers (threads lowered) idle. */
        final int maxWorkers;
        volatile int next;
        volatile int done;
        volatile Throwable error;
        volatile Thread waiter;

        Job(RangeBody body, int n, int chunks, int size, int maxWorkers) {
            this.body = body;
            this.n = n;
            this.chunks = chunks;
            this.size = size;
            this.maxWorkers = maxWorkers;
        }

        void work() {
            int c;
            while ((c = (int) NEXT.getAndAdd(this, 1)) < chunks) {
                int s, e;
                if (size == 0) {
                    s = (int) ((long) n * c / chunks);
                    e = (int) ((long) n * (c + 1) / chunks);
                } else {
                    s = c * size;
                    e = Math.min(n, s + size);
                }
                try {
                    if (error == null) body.run(s, e);
                } catch (Throwable t) {
                    if (error == null) error = t;
                }
                if ((int) DONE.getAndAdd(this, 1) + 1 == chunks) {
                    Thread w = waiter;
                    if (w != null) LockSupport.unpark(w);
                }
            }
        }

        void awaitDone() {
            if (done >= chunks) return;
            long now = System.nanoTime(), deadline = now + CALLER_SPIN_NANOS, yieldAt = now + YIELD_NANOS;
            while (done < chunks) {
                if ((now = System.nanoTime()) >= deadline) {
                    waiter = Thread.currentThread();
                    while (done < chunks) LockSupport.park(this);
                    waiter = null;
                    return;
                }
                if (now >= yieldAt) {
                    Thread.yield();
                    yieldAt = now + YIELD_NANOS;
                } else {
                    Thread.onSpinWait();
                }
            }
        }
    }

    private static final class Worker extends Thread {
        final int index;
        volatile boolean parked;

        Worker(int index) {
            super("jllm-cpu-" + index);
            this.index = index;
            setDaemon(true);
        }

        @Override
        public void run() {
            Job last = null;
            while (true) {
                Job j = current;
                if (j == null || j == last) {
                    long now = System.nanoTime(), deadline = now + SPIN_NANOS, yieldAt = now + YIELD_NANOS;
                    while (((j = current) == null || j == last) && (now = System.nanoTime()) < deadline) {
                        if (now >= yieldAt) {
                            Thread.yield();
                            yieldAt = now + YIELD_NANOS;
                        } else {
                            Thread.onSpinWait();
                        }
                    }
                    if (j == null || j == last) {
                        parked = true;
                        while ((j = current) == null || j == last) LockSupport.park(Parallel.class);
                        parked = false;
                    }
                }
                last = j;
                if (index < j.maxWorkers) j.work();
            }
        }
    }
}
