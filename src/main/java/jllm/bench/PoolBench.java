package jllm.bench;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

import jllm.backend.cpu.Parallel;

/** Fixed cost of one {@link Parallel#forRange} call with (almost) no work in it. */
public final class PoolBench {

    private static volatile long sink;

    public static void run(PrintStream out, int threads, int calls, int repeats) {
        Parallel.setThreads(threads);
        long[] cells = new long[threads * 16];
        Parallel.RangeBody body = (s, e) -> {
            for (int i = s; i < e; i++) cells[i * 16]++;
        };
        out.printf(Locale.ROOT, "Parallel.forRange(%d, 1, tiny body): threads=%d, %d calls per sample%n",
                threads, threads, calls);
        for (int w = 0; w < 3; w++) loop(body, threads, calls); // warm-up
        for (int gapUs : new int[]{0, 10, 50, 1000}) {
            String mode = gapUs == 0 ? "back-to-back" : "after " + gapUs + "us idle";
            boolean gaps = gapUs > 0;
            int n = gaps ? Math.max(1, calls / (gapUs >= 1000 ? 1000 : 100)) : calls;
            double[] ns = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                long t = 0;
                if (gaps) {
                    for (int i = 0; i < n; i++) {
                        long until = System.nanoTime() + gapUs * 1000L;
                        while (System.nanoTime() < until) Thread.onSpinWait();
                        long t0 = System.nanoTime();
                        Parallel.forRange(threads, 1, body);
                        t += System.nanoTime() - t0;
                    }
                } else {
                    long t0 = System.nanoTime();
                    loop(body, threads, n);
                    t = System.nanoTime() - t0;
                }
                ns[r] = (double) t / n;
            }
            Arrays.sort(ns);
            out.printf(Locale.ROOT, "  %-16s median %.2f us/call (min %.2f)%n", mode, ns[repeats / 2] / 1e3, ns[0] / 1e3);
        }
        sink = Arrays.stream(cells).sum();
    }

    private static void loop(Parallel.RangeBody body, int threads, int n) {
        for (int i = 0; i < n; i++) Parallel.forRange(threads, 1, body);
    }
}
