package jllm.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import static jllm.backend.cuda.NativeLibrary.FLOAT;
import static jllm.backend.cuda.NativeLibrary.INT;
import static jllm.backend.cuda.NativeLibrary.LONG;
import static jllm.backend.cuda.NativeLibrary.PTR;

/**
 * cuBLAS ({@code libcublas.so}) for GEMM: {@code cublasGemmStridedBatchedEx} with F32 operands and
 * CUBLAS_COMPUTE_32F (TF32 tensor cores off by default, for parity with the CPU; the system property
 * {@code jllm.cuda.tf32=true} selects CUBLAS_COMPUTE_32F_FAST_TF32). Column-major, as cuBLAS is; the
 * row-major mapping is the caller's ({@link CudaBackend#matmul}). Not run on a GPU machine yet.
 */
final class Cublas {
    static final int OP_N = 0, OP_T = 1;
    static final int CUDA_R_32F = 0;
    static final int COMPUTE_32F = 68, COMPUTE_32F_FAST_TF32 = 77;
    static final int GEMM_DEFAULT = -1;
    static final int DEFAULT_MATH = 0;

    private static final Object LOCK = new Object();
    private static volatile Cublas instance;
    private static volatile String reason;

    private final NativeLibrary lib;
    private final NativeLibrary.Checked create, setStream, setMathMode, gemmStridedBatchedEx;

    private Cublas(NativeLibrary lib) {
        this.lib = lib;
        if (lib.has("cublasGetStatusName")) {
            lib.setErrorNames(NativeLibrary.stringReturning(lib.function("cublasGetStatusName", FunctionDescriptor.of(ValueLayout.ADDRESS, INT))));
        }
        create = lib.checked("cublasCreate_v2", PTR);
        setStream = lib.checked("cublasSetStream_v2", PTR, PTR);
        setMathMode = lib.checked("cublasSetMathMode", PTR, INT);
        gemmStridedBatchedEx = lib.checked("cublasGemmStridedBatchedEx", PTR, INT, INT, INT, INT, INT,
                PTR, LONG, INT, INT, LONG,
                LONG, INT, INT, LONG,
                PTR, LONG, INT, INT, LONG,
                INT, INT, INT);
    }

    static Cublas get() {
        if (instance == null && reason == null) {
            synchronized (LOCK) {
                if (instance == null && reason == null) {
                    try {
                        instance = new Cublas(NativeLibrary.open("cuBLAS (libcublas.so)",
                                List.of("libcublas.so", "libcublas.so.13", "libcublas.so.12", "libcublas.so.11")));
                    } catch (NativeLibraryException | NativeCallException e) {
                        reason = e.getMessage();
                    }
                }
            }
        }
        if (instance == null) throw new CudaUnavailableException("cuBLAS is not available: " + reason);
        return instance;
    }

    static String unavailableReason() {
        try {
            get();
            return null;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        }
    }

    /** A handle bound to a stream (the caller's context must be current). */
    MemorySegment createHandle(MemorySegment stream) {
        MemorySegment h = CudaDriver.outPointer(create);
        setStream.call(h, stream);
        setMathMode.call(h, DEFAULT_MATH);
        return h;
    }

    /** cuBLAS's name for a status (cublasGetStatusName). */
    String statusName(int status) { return lib.errorName(status); }

    static boolean tf32() { return Boolean.getBoolean("jllm.cuda.tf32"); }

    /** C = op(A) op(B), column-major, F32, batched with element strides (0 broadcasts one matrix). */
    void sgemmStridedBatched(MemorySegment handle, int transA, int transB, int m, int n, int k, long a, int lda, long strideA, long b, int ldb,
                             long strideB, long c, int ldc, long strideC, int batch) {
        try (Arena ar = Arena.ofConfined()) {
            MemorySegment alpha = ar.allocateFrom(FLOAT, 1f), beta = ar.allocateFrom(FLOAT, 0f);
            gemmStridedBatchedEx.call(handle, transA, transB, m, n, k, alpha, a, CUDA_R_32F, lda, strideA, b, CUDA_R_32F, ldb, strideB, beta, c,
                    CUDA_R_32F, ldc, strideC, batch, tf32() ? COMPUTE_32F_FAST_TF32 : COMPUTE_32F, GEMM_DEFAULT);
        }
    }
}
