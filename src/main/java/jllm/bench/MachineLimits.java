package jllm.bench;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CyclicBarrier;

/**
 * What this machine can do, measured in the same run as the benchmarks that are reported against
 * it (a shared VM's numbers move from minute to minute): the single-precision FMA peak through the
 * Vector API, on 1 thread and on N, and the memory bandwidth of a STREAM triad. Each is the
 * median of repeated samples, with their min and max.
 *
 * @param fmaGflops    FMA peak in GFLOP/s by thread count (index 0 = 1 thread, 1 = N threads)
 * @param streamGBs    triad bandwidth in GB/s, same indexing
 * @param threads      N
 */
public record MachineLimits(Stats[] fmaGflops, Stats[] streamGBs, int threads) {

    /** min, median, max of samples. */
    public record Stats(double min, double median, double max) {
        static Stats of(double[] s) {
            double[] c = s.clone();
            Arrays.sort(c);
            return new Stats(c[0], c[c.length / 2], c[c.length - 1]);
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%.1f (min %.1f, max %.1f)", median, min, max);
        }
    }

    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    /** Independent accumulators: enough to cover the FMA latency times the ports on current x86. */
    private static final int ACC = 12;

    /** Measures both limits on 1 and on threads threads; repeats samples of each. */
    public static MachineLimits measure(int threads, int repeats) {
        Stats[] fma = new Stats[2], stream = new Stats[2];
        int[] counts = {1, Math.max(1, threads)};
        // C2 compiles both kernels before anything is timed
        float[] w = new float[1 << 14];
        for (int i = 0; i < 3000; i++) {
            fmaKernel(2_000);
            triad(w, w, w, 1);
        }
        for (int i = 0; i < 2; i++) {
            double[] f = new double[repeats], m = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                f[r] = fmaSample(counts[i], 100_000_000);
                m[r] = streamSample(counts[i]);
            }
            fma[i] = Stats.of(f);
            stream[i] = Stats.of(m);
        }
        return new MachineLimits(fma, stream, threads);
    }

    /** The FMA peak for a thread count: 1 thread's or N threads' (in between: N threads'). */
    public double peakGflops(int threadsUsed) {
        return (threadsUsed <= 1 ? fmaGflops[0] : fmaGflops[1]).median();
    }

    public double bandwidthGBs(int threadsUsed) {
        return (threadsUsed <= 1 ? streamGBs[0] : streamGBs[1]).median();
    }

    public void print(PrintStream out) {
        out.printf(Locale.ROOT, "machine: FMA peak %s GFLOP/s on 1 thread, %s on %d threads (%d-bit vectors); "
                        + "memory bandwidth (triad) %s GB/s on 1 thread, %s on %d%n",
                fmaGflops[0], fmaGflops[1], threads, S.vectorBitSize(), streamGBs[0], streamGBs[1], threads);
    }

    /** ACC accumulator chains of FMAs on registers, on each of n threads at once: GFLOP/s of them all. */
    private static double fmaSample(int n, int iters) {
        return parallel(n, () -> fmaKernel(iters), 2.0 * S.length() * ACC * (double) iters);
    }

    /**
     * 12 independent FMA chains (enough to cover the FMA latency times the issue ports), in a
     * method of its own so that C2 compiles it whole (an OSR-compiled lambda keeps its vectors boxed).
     */
    static float fmaKernel(int iters) {
        FloatVector a = FloatVector.broadcast(S, 0.999999f), b = FloatVector.broadcast(S, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(S, 0f), c1 = FloatVector.broadcast(S, 1f), c2 = FloatVector.broadcast(S, 2f);
        FloatVector c3 = FloatVector.broadcast(S, 3f), c4 = FloatVector.broadcast(S, 4f), c5 = FloatVector.broadcast(S, 5f);
        FloatVector c6 = FloatVector.broadcast(S, 6f), c7 = FloatVector.broadcast(S, 7f), c8 = FloatVector.broadcast(S, 8f);
        FloatVector c9 = FloatVector.broadcast(S, 9f), c10 = FloatVector.broadcast(S, 10f), c11 = FloatVector.broadcast(S, 11f);
        for (int i = 0; i < iters; i++) {
            c0 = c0.fma(a, b); c1 = c1.fma(a, b); c2 = c2.fma(a, b); c3 = c3.fma(a, b);
            c4 = c4.fma(a, b); c5 = c5.fma(a, b); c6 = c6.fma(a, b); c7 = c7.fma(a, b);
            c8 = c8.fma(a, b); c9 = c9.fma(a, b); c10 = c10.fma(a, b); c11 = c11.fma(a, b);
        }
        return c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11)
                .reduceLanes(jdk.incubator.vector.VectorOperators.ADD);
    }

    /** a[i] = b[i] * s + c[i] over arrays far beyond the caches, in a method C2 compiles whole. */
    static void triad(float[] a, float[] b, float[] c, int rounds) {
        int bound = S.loopBound(a.length);
        FloatVector s3 = FloatVector.broadcast(S, 3f);
        for (int r = 0; r < rounds; r++) {
            for (int i = 0; i < bound; i += S.length()) {
                FloatVector.fromArray(S, c, i).fma(s3, FloatVector.fromArray(S, b, i)).intoArray(a, i);
            }
        }
    }

    /** a = b + s * c over 3 arrays of 32 MB per thread (far beyond the caches): GB/s counting 12 bytes per element. */
    private static double streamSample(int n) {
        int len = 8 << 20;
        List<float[][]> arrays = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            float[] b = new float[len], c = new float[len];
            Arrays.fill(b, 1f);
            Arrays.fill(c, 2f);
            arrays.add(new float[][] {new float[len], b, c});
        }
        int[] next = {0};
        int rounds = 4;
        return parallel(n, () -> {
            float[][] x;
            synchronized (next) {
                x = arrays.get(next[0]++);
            }
            triad(x[0], x[1], x[2], rounds);
        }, 12.0 * len * rounds); // the units here are bytes
    }

    /** Runs body on n threads started together; returns work units per nanosecond summed over threads (GFLOP/s or GB/s). */
    private static double parallel(int n, Runnable body, double unitsPerThread) {
        CyclicBarrier start = new CyclicBarrier(n + 1), end = new CyclicBarrier(n + 1);
        List<Thread> ts = new ArrayList<>();
        for (int t = 0; t < n; t++) {
            Thread th = Thread.ofPlatform().daemon().start(() -> {
                try {
                    start.await();
                    body.run();
                    end.await();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            ts.add(th);
        }
        try {
            start.await();
            long t0 = System.nanoTime();
            end.await();
            long ns = System.nanoTime() - t0;
            for (Thread th : ts) th.join();
            return unitsPerThread * n / ns;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
