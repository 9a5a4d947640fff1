package jllm.bench;

import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

import jllm.backend.cpu.Gemm;
import jllm.backend.cpu.Parallel;

/**
 * SGEMM throughput of jllm next to OpenBLAS, same shapes, same thread count, same run, so
 * the ratio is meaningful even on a noisy machine. Reports medians over repeats.
 */
public final class GemmBench {

    /** One benchmark case: {@code batch} x (op(A)[M x K] * op(B)[K x N]). */
    public record Shape(String name, boolean transA, boolean transB, int batch, int M, int N, int K) {
        double flops() {
            return 2.0 * batch * M * N * K;
        }

        String mode() {
            return (transA ? "T" : "N") + (transB ? "T" : "N");
        }
    }

    /**
     * The default cases: 1024^3, and the GPT-2 small linear layers at 256 tokens in the three
     * products training does (forward x W^T = NT, input gradient dY W = NN, weight gradient
     * dY^T x = TN), its tied output head among them (50257 x 768: a sixth of a training step's
     * FLOPs, and the largest W to pack), plus batched attention (48 = batch x heads of 64x64x64).
     */
    public static List<Shape> defaultShapes() {
        List<Shape> s = new ArrayList<>();
        s.add(new Shape("square", false, false, 1, 1024, 1024, 1024));
        s.add(new Shape("square", false, true, 1, 1024, 1024, 1024));
        int[][] lin = {{3072, 768}, {768, 3072}, {2304, 768}, {50257, 768}}; // {out, in}: c_fc, c_proj, c_attn, lm_head
        String[] names = {"mlp.fc", "mlp.proj", "attn.qkv", "lm_head"};
        for (int i = 0; i < lin.length; i++) {
            int out = lin[i][0], in = lin[i][1];
            s.add(new Shape(names[i] + " fwd", false, true, 1, 256, out, in));
            s.add(new Shape(names[i] + " dX", false, false, 1, 256, in, out));
            s.add(new Shape(names[i] + " dW", true, false, 1, out, in, 256));
        }
        s.add(new Shape("attn QK^T", false, true, 48, 64, 64, 64));
        s.add(new Shape("attn PV", false, false, 48, 64, 64, 64));
        // the CPU preset of `jllm train` (4 layers, 128 wide, B*T = 768 tokens, vocab 65)
        int[][] small = {{512, 128}, {128, 512}, {384, 128}, {128, 128}, {65, 128}};
        String[] smallNames = {"small.fc", "small.proj", "small.qkv", "small.attnproj", "small.head"};
        for (int i = 0; i < small.length; i++) {
            int out = small[i][0], in = small[i][1];
            s.add(new Shape(smallNames[i] + " fwd", false, true, 1, 768, out, in));
            s.add(new Shape(smallNames[i] + " dX", false, false, 1, 768, in, out));
            s.add(new Shape(smallNames[i] + " dW", true, false, 1, out, in, 768));
        }
        return s;
    }

    private final PrintStream out;
    private final int threads, repeats, warmup;
    /** The least warm-up time of a jllm case (see benchJllm). */
    private static final long WARM_NANOS = 1_000_000_000L;

    public GemmBench(PrintStream out, int threads, int repeats, int warmup) {
        this.out = out;
        this.threads = threads;
        this.repeats = Math.max(1, repeats);
        this.warmup = Math.max(0, warmup);
    }

    public void run(List<Shape> shapes, boolean useOpenBlas) {
        Parallel.setThreads(threads);
        String[] why = new String[1];
        OpenBlas blas = useOpenBlas ? OpenBlas.load(why) : null;
        if (blas != null) blas.setThreads(threads);
        out.printf(Locale.ROOT, "jllm sgemm: threads=%d, repeats=%d (median), cores=%d, vector=%d bits%n",
                threads, repeats, Runtime.getRuntime().availableProcessors(),
                jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize());
        if (useOpenBlas) {
            if (blas == null) out.println(why[0]);
            else {
                out.println("OpenBLAS: " + blas.library() + (blas.coreName() != null ? " (" + blas.coreName() + " kernels)" : ""));
                String warn = blas.underusesCpu(jdk.incubator.vector.FloatVector.SPECIES_PREFERRED.vectorBitSize());
                if (warn != null) out.println("WARNING: " + warn);
            }
        }
        MachineLimits limits = MachineLimits.measure(threads, 5);
        limits.print(out);
        double peak = limits.peakGflops(threads);
        out.printf(Locale.ROOT, "%-14s %-4s %5s %5s %5s %5s  %10s %6s %10s %7s   %s%n",
                "case", "op", "batch", "M", "N", "K", "jllm GF/s", "%peak", "BLAS GF/s", "ratio", "(best jllm / BLAS)");
        jitWarmup();
        for (Shape s : shapes) {
            double[] j = benchJllm(s);
            double[] b = {Double.NaN, Double.NaN};
            if (blas != null) {
                b = benchBlas(blas, s);
                pause(); // let OpenBLAS threads stop spinning before jllm runs again
            }
            boolean nb = Double.isNaN(b[0]);
            out.printf(Locale.ROOT, "%-14s %-4s %5d %5d %5d %5d  %10.1f %5.0f%% %10s %7s   (%.1f / %s)%n",
                    s.name(), s.mode(), s.batch(), s.M(), s.N(), s.K(), j[0], 100 * j[0] / peak,
                    nb ? "-" : String.format(Locale.ROOT, "%.1f", b[0]),
                    nb ? "-" : String.format(Locale.ROOT, "%.2f", j[0] / b[0]),
                    j[1], nb ? "-" : String.format(Locale.ROOT, "%.1f", b[1]));
            out.flush();
        }
    }

    /**
     * Gets the kernels compiled by C2 before anything is timed, on every path the cases take
     * (all transpose modes, K above the K block so C is accumulated, small batched matrices),
     * so no case pays for a deoptimisation.
     */
    private void jitWarmup() {
        int n = 128, k = 1100;
        float[] a = random(n * k, 1), b = random(n * k, 2), c = new float[n * n];
        float[] sa = random(48 * 64 * 64, 3), sb = random(48 * 64 * 64, 4), sc = new float[48 * 64 * 64];
        long end = System.nanoTime() + 2_000_000_000L;
        boolean[] tf = {false, true};
        while (System.nanoTime() < end) {
            for (boolean ta : tf) {
                for (boolean tb : tf) {
                    Gemm.sgemm(ta, tb, n, n, k, 1f, a, 0, ta ? n : k, b, 0, tb ? k : n, 0f, c, 0, n);
                    Gemm.sgemmBatched(ta, tb, 48, 64, 64, 64, 1f, sa, 0, 64, 4096, sb, 0, 64, 4096, 0f, sc, 0, 64, 4096);
                }
            }
        }
    }

    private static void pause() {
        try {
            Thread.sleep(250);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return x;
    }

    /** {median, best} GFLOP/s. */
    private double[] benchJllm(Shape s) {
        int lda = s.transA() ? s.M() : s.K(), ldb = s.transB() ? s.K() : s.N(), ldc = s.N();
        int sa = s.M() * s.K(), sb = s.K() * s.N(), sc = s.M() * s.N();
        float[] a = random(sa * s.batch(), 1), b = random(sb * s.batch(), 2), c = new float[sc * s.batch()];
        double[] t = new double[repeats];
        // warm-up: the runs asked for, and at least WARM_NANOS: a kernel that a shape reaches first
        // (the narrow-strip edge of N = 65) runs C1's code until C2 has compiled it, 30-50x slower
        long warmEnd = System.nanoTime() + WARM_NANOS;
        for (int w = 0; w < warmup || System.nanoTime() < warmEnd; w++) {
            Gemm.sgemmBatched(s.transA(), s.transB(), s.batch(), s.M(), s.N(), s.K(), 1f, a, 0, lda, sa,
                    b, 0, ldb, sb, 0f, c, 0, ldc, sc);
        }
        for (int r = 0; r < repeats; r++) {
            long t0 = System.nanoTime();
            Gemm.sgemmBatched(s.transA(), s.transB(), s.batch(), s.M(), s.N(), s.K(), 1f, a, 0, lda, sa,
                    b, 0, ldb, sb, 0f, c, 0, ldc, sc);
            t[r] = (System.nanoTime() - t0) * 1e-9;
        }
        return gflops(s, t);
    }

    /** {median, best} GFLOP/s. */
    private double[] benchBlas(OpenBlas blas, Shape s) {
        int lda = s.transA() ? s.M() : s.K(), ldb = s.transB() ? s.K() : s.N(), ldc = s.N();
        long sa = (long) s.M() * s.K(), sb = (long) s.K() * s.N(), sc = (long) s.M() * s.N();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(ValueLayout.JAVA_FLOAT, sa * s.batch());
            MemorySegment b = arena.allocate(ValueLayout.JAVA_FLOAT, sb * s.batch());
            MemorySegment c = arena.allocate(ValueLayout.JAVA_FLOAT, sc * s.batch());
            MemorySegment.copy(random((int) (sa * s.batch()), 1), 0, a, ValueLayout.JAVA_FLOAT, 0, (int) (sa * s.batch()));
            MemorySegment.copy(random((int) (sb * s.batch()), 2), 0, b, ValueLayout.JAVA_FLOAT, 0, (int) (sb * s.batch()));
            MemorySegment[] as = new MemorySegment[s.batch()], bs = new MemorySegment[s.batch()], cs = new MemorySegment[s.batch()];
            for (int i = 0; i < s.batch(); i++) {
                as[i] = a.asSlice(i * sa * 4, sa * 4);
                bs[i] = b.asSlice(i * sb * 4, sb * 4);
                cs[i] = c.asSlice(i * sc * 4, sc * 4);
            }
            double[] t = new double[repeats];
            for (int r = -Math.max(2, warmup); r < repeats; r++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < s.batch(); i++) {
                    blas.sgemm(s.transA(), s.transB(), s.M(), s.N(), s.K(), 1f, as[i], lda, bs[i], ldb, 0f, cs[i], ldc);
                }
                long t1 = System.nanoTime();
                if (r >= 0) t[r] = (t1 - t0) * 1e-9;
            }
            return gflops(s, t);
        }
    }

    private static double[] gflops(Shape s, double[] seconds) {
        return new double[]{s.flops() / median(seconds) * 1e-9, s.flops() / Arrays.stream(seconds).min().orElseThrow() * 1e-9};
    }

    private static double median(double[] x) {
        double[] y = x.clone();
        Arrays.sort(y);
        int n = y.length;
        return n % 2 == 1 ? y[n / 2] : 0.5 * (y[n / 2 - 1] + y[n / 2]);
    }
}
