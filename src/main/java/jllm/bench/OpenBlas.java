package jllm.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * OpenBLAS {@code cblas_sgemm} through the FFM API, as a yardstick for benchmarks only:
 * jllm never computes with it. Operands must be native segments (copy them once, outside
 * the timed region).
 */
public final class OpenBlas {

    /** Library names tried in order: the dynamic linker's search path first, then known paths. */
    public static final String[] CANDIDATES = {
            "libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0",
            "/usr/lib/x86_64-linux-gnu/openblas-openmp/libopenblas.so.0",
            "/usr/lib64/libopenblas.so.0",
    };
    public static final String INSTALL_HINT = "apt-get install libopenblas0-pthread";

    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;

    private final MethodHandle sgemm;
    private final MethodHandle setThreads;
    private final String library;
    private final String coreName;

    private OpenBlas(MethodHandle sgemm, MethodHandle setThreads, String library, String coreName) {
        this.sgemm = sgemm;
        this.setThreads = setThreads;
        this.library = library;
        this.coreName = coreName;
    }

    /**
     * Loads OpenBLAS ({@code -Djllm.openblas=PATH} picks the file), or returns null after
     * {@code why[0]} is set to a one-line reason.
     */
    public static OpenBlas load(String[] why) {
        Linker linker = Linker.nativeLinker();
        StringBuilder tried = new StringBuilder();
        String override = System.getProperty("jllm.openblas");
        for (String name : override != null ? new String[]{override} : CANDIDATES) {
            if (name.startsWith("/") && !Files.exists(Path.of(name))) {
                tried.append(tried.isEmpty() ? "" : ", ").append(name);
                continue;
            }
            SymbolLookup lib;
            try {
                lib = SymbolLookup.libraryLookup(name, Arena.global());
            } catch (IllegalArgumentException e) {
                tried.append(tried.isEmpty() ? "" : ", ").append(name);
                continue;
            }
            var sg = lib.find("cblas_sgemm");
            if (sg.isEmpty()) {
                tried.append(tried.isEmpty() ? "" : ", ").append(name).append(" (no cblas_sgemm)");
                continue;
            }
            var I = ValueLayout.JAVA_INT;
            var F = ValueLayout.JAVA_FLOAT;
            var P = ValueLayout.ADDRESS;
            MethodHandle gemm = linker.downcallHandle(sg.get(),
                    FunctionDescriptor.ofVoid(I, I, I, I, I, I, F, P, I, P, I, F, P, I));
            MethodHandle nt = lib.find("openblas_set_num_threads")
                    .map(a -> linker.downcallHandle(a, FunctionDescriptor.ofVoid(I)))
                    .orElse(null);
            String core = null;
            var cn = lib.find("openblas_get_corename");
            if (cn.isPresent()) {
                try {
                    MemorySegment p = (MemorySegment) linker.downcallHandle(cn.get(), FunctionDescriptor.of(P)).invokeExact();
                    core = p.reinterpret(64).getString(0);
                } catch (Throwable t) {
                    core = null;
                }
            }
            return new OpenBlas(gemm, nt, name, core);
        }
        if (why != null && why.length > 0) {
            why[0] = "OpenBLAS not found (looked for " + tried + "); install it with: " + INSTALL_HINT;
        }
        return null;
    }

    public String library() {
        return library;
    }

    /** The kernel set OpenBLAS chose for this CPU ({@code openblas_get_corename}), or null when it does not say. */
    public String coreName() {
        return coreName;
    }

    /** OpenBLAS's kernel sets that use 512-bit vectors. */
    private static final java.util.Set<String> AVX512_CORES = java.util.Set.of("skylakex", "cooperlake", "sapphirerapids");

    /**
     * A line saying that OpenBLAS runs below this CPU's vector width, or null. An OpenBLAS build
     * older than the CPU does not recognize it and falls back to an older core's kernels (Debian
     * 12's 0.3.21 on a Xeon of model 207 picks "Prescott": 40 GFLOP/s on 1024^3 where
     * OPENBLAS_CORETYPE=SkylakeX gives 190-200), which would make it a straw man.
     */
    public String underusesCpu(int vectorBits) {
        if (vectorBits < 512 || coreName == null || AVX512_CORES.contains(coreName.toLowerCase(java.util.Locale.ROOT))) return null;
        return "OpenBLAS chose its \"" + coreName + "\" kernels, which do not use this CPU's 512-bit vectors: for a fair peer rerun with "
                + "OPENBLAS_CORETYPE=SkylakeX in the environment (it is read when the library loads)";
    }

    public void setThreads(int n) {
        if (setThreads == null) return;
        try {
            setThreads.invokeExact(n);
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }

    /** Row-major {@code C = alpha * op(A) * op(B) + beta * C} on native float segments. */
    public void sgemm(boolean transA, boolean transB, int M, int N, int K, float alpha,
                      MemorySegment A, int lda, MemorySegment B, int ldb, float beta, MemorySegment C, int ldc) {
        try {
            sgemm.invokeExact(ROW_MAJOR, transA ? TRANS : NO_TRANS, transB ? TRANS : NO_TRANS, M, N, K, alpha,
                    A, lda, B, ldb, beta, C, ldc);
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
    }
}
