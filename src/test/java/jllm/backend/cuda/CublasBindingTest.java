package jllm.backend.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The cuBLAS binding against the real library where it is found (the toolkit, or JLLM_CUDA_LIBS at
 * e.g. the nvidia-cublas wheel's lib directory): every symbol jllm calls resolves, statuses are named
 * by cublasGetStatusName, and without a GPU driver cublasCreate's failure arrives as a checked error.
 */
class CublasBindingTest {
    @Test
    void symbolsResolveAndStatusesAreNamed() {
        String reason = Cublas.unavailableReason();
        Assumptions.assumeTrue(reason == null, () -> "cuBLAS is not available here: " + reason);
        Cublas blas = Cublas.get(); // resolving cublasCreate_v2, cublasSetStream_v2, cublasSetMathMode, cublasGemmStridedBatchedEx
        assertEquals("CUBLAS_STATUS_SUCCESS", blas.statusName(0));
        assertEquals("CUBLAS_STATUS_INVALID_VALUE", blas.statusName(7));
    }

    @Test
    void withoutADriverCreatingAHandleFailsAsACheckedCall() {
        String reason = Cublas.unavailableReason();
        Assumptions.assumeTrue(reason == null, () -> "cuBLAS is not available here: " + reason);
        Assumptions.assumeFalse(CudaDriver.isAvailable(), "a GPU is present: cublasCreate would succeed");
        NativeCallException e = assertThrows(NativeCallException.class, () -> Cublas.get().createHandle(MemorySegment.NULL));
        assertEquals("cublasCreate_v2", e.call());
        assertTrue(e.errorName().startsWith("CUBLAS_STATUS_"), e.getMessage());
    }
}
