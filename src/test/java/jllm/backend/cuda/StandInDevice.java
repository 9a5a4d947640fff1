package jllm.backend.cuda;

import jllm.tensor.Device;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A CudaDevice without a GPU, for tests of CudaBackend's host side: "device" memory is off-heap host
 * memory under the real caching allocator, copies and fills really happen, cuBLAS GEMM is computed here
 * (column-major, as cuBLAS defines it, so the backend's row-major mapping is checked for real), and
 * kernel launches are checked against the kernels' parameter lists and recorded, not executed.
 */
class StandInDevice extends CudaDevice {
    final List<Kernel> launched = new ArrayList<>();
    int gemms;

    StandInDevice() { this(Device.cuda(0)); }

    StandInDevice(Device device) { super(device, new CachingAllocatorTest.OffHeap(1L << 30)); }

    private static MemorySegment at(long ptr, long bytes) { return MemorySegment.ofAddress(ptr).reinterpret(bytes); }

    @Override void makeCurrent() {}

    @Override void synchronize() {}

    @Override long streamId() { return 1; }

    @Override void memsetAsync(long ptr, long bytes) { at(ptr, bytes).fill((byte) 0); }

    @Override void copyHtoD(long dst, MemorySegment src, long bytes) { MemorySegment.copy(src, 0, at(dst, bytes), 0, bytes); }

    @Override void copyDtoH(MemorySegment dst, long src, long bytes) { MemorySegment.copy(at(src, bytes), 0, dst, 0, bytes); }

    @Override
    void launch(Kernel k, int gx, int gy, int gz, int bx, int sharedBytes, Object... args) {
        KernelSignature.check(k, args);
        if (gx < 1 || gy < 1 || gz < 1 || gy > 65535 || gz > 65535 || bx < 32 || bx > 1024 || bx % 32 != 0 || sharedBytes > 48 * 1024) {
            throw new IllegalArgumentException(k.symbol + ": launch configuration grid (" + gx + "," + gy + "," + gz + ") block " + bx
                    + " shared " + sharedBytes + " is not valid");
        }
        launched.add(k);
    }

    /** cublasSgemmStridedBatched's definition: column-major, C = op(A) op(B), alpha 1, beta 0. */
    @Override
    void gemm(int transA, int transB, int m, int n, int k, long a, int lda, long strideA, long b, int ldb, long strideB, long c, int ldc,
              long strideC, int batch) {
        if (lda < Math.max(1, transA == Cublas.OP_N ? m : k) || ldb < Math.max(1, transB == Cublas.OP_N ? k : n) || ldc < Math.max(1, m)) {
            throw new IllegalArgumentException("cuBLAS would refuse: lda " + lda + " ldb " + ldb + " ldc " + ldc + " for m " + m + " n " + n + " k " + k);
        }
        gemms++;
        MemorySegment all = MemorySegment.ofAddress(0).reinterpret(Long.MAX_VALUE);
        for (int z = 0; z < batch; z++) {
            long pa = a + 4L * z * strideA, pb = b + 4L * z * strideB, pc = c + 4L * z * strideC;
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int p = 0; p < k; p++) {
                        long ai = transA == Cublas.OP_N ? i + (long) p * lda : p + (long) i * lda;
                        long bi = transB == Cublas.OP_N ? p + (long) j * ldb : j + (long) p * ldb;
                        s += all.get(java.lang.foreign.ValueLayout.JAVA_FLOAT, pa + 4 * ai) * all.get(java.lang.foreign.ValueLayout.JAVA_FLOAT, pb + 4 * bi);
                    }
                    all.set(java.lang.foreign.ValueLayout.JAVA_FLOAT, pc + 4 * (i + (long) j * ldc), (float) s);
                }
            }
        }
    }
}
