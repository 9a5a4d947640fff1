package jllm.backend.cuda;

import jllm.tensor.Device;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.ref.Reference;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * One CUDA device as jllm uses it: its primary context, one stream (all kernels, cuBLAS and
 * device-to-device copies are queued on it; host transfers are synchronous), the caching allocator,
 * the kernels (compiled by NVRTC for the device's compute capability on first use, cubins cached on
 * disk under {@code $JLLM_CUDA_CACHE} or {@code ~/.cache/jllm/cuda}), the cuBLAS handle, and a small
 * buffer through which index kernels report an out-of-range index.
 *
 * <p>Not run on a GPU yet: everything here follows the CUDA driver API documentation. CudaBackend
 * reaches the device only through this class's instance methods, so a test subclass (built with the
 * second constructor, no driver) can stand in for it.
 */
class CudaDevice {
    static final int THREADS = 256;
    static final int MAX_GRID = 1 << 20;
    private static final int CUDA_ERROR_OUT_OF_MEMORY = 2;

    final int index;
    final Device device;
    final CudaDriver drv;
    final MemorySegment context;
    final MemorySegment stream;
    final CachingAllocator allocator;
    final int ccMajor, ccMinor;
    final String name;
    private final Map<String, MemorySegment> modules = new java.util.HashMap<>();
    private final Map<Kernel, MemorySegment> functions = new EnumMap<>(Kernel.class);
    private MemorySegment cublas;
    private CachingAllocator.Block errorBuffer;

    CudaDevice(int index) {
        this.index = index;
        this.device = Device.cuda(index);
        this.drv = CudaDriver.get();
        int dev = drv.device(index);
        this.name = drv.name(dev);
        this.ccMajor = drv.attribute(dev, CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR);
        this.ccMinor = drv.attribute(dev, CudaDriver.ATTR_COMPUTE_CAPABILITY_MINOR);
        this.context = CudaDriver.outPointer(drv.cuDevicePrimaryCtxRetain, dev);
        makeCurrent();
        this.stream = CudaDriver.outPointer(drv.cuStreamCreate, 0);
        this.allocator = new CachingAllocator(new DeviceMemory(), device.toString());
    }

    /** For a test stand-in: no driver, no context; the subclass overrides every device operation. */
    CudaDevice(Device device, CachingAllocator.RawAllocator memory) {
        this.index = device.index();
        this.device = device;
        this.drv = null;
        this.context = null;
        this.stream = null;
        this.ccMajor = 0;
        this.ccMinor = 0;
        this.name = "stand-in for " + device;
        this.allocator = new CachingAllocator(memory, device.toString());
    }

    String describe() { return name + " (sm_" + ccMajor + ccMinor + ")"; }

    /** Queues a zero fill of bytes at ptr. */
    void memsetAsync(long ptr, long bytes) {
        makeCurrent();
        drv.cuMemsetD8Async.call(ptr, (byte) 0, bytes, stream);
    }

    /** Copies host (native) memory to the device; synchronous for the host. */
    void copyHtoD(long dst, MemorySegment src, long bytes) {
        makeCurrent();
        drv.cuMemcpyHtoD.call(dst, src, bytes);
    }

    /** Copies device memory to host (native) memory after the queued work. */
    void copyDtoH(MemorySegment dst, long src, long bytes) {
        synchronize();
        drv.cuMemcpyDtoH.call(dst, src, bytes);
    }

    /** Row-major-agnostic cuBLAS call: column-major C = op(A) op(B), F32, strided batches. */
    void gemm(int transA, int transB, int m, int n, int k, long a, int lda, long strideA, long b, int ldb, long strideB, long c, int ldc,
              long strideC, int batch) {
        makeCurrent();
        Cublas.get().sgemmStridedBatched(cublas(), transA, transB, m, n, k, a, lda, strideA, b, ldb, strideB, c, ldc, strideC, batch);
    }

    void makeCurrent() { drv.cuCtxSetCurrent.call(context); }

    /** cuMemAlloc/cuMemFree under the caching allocator. */
    private final class DeviceMemory implements CachingAllocator.RawAllocator {
        @Override
        public long malloc(long bytes) {
            makeCurrent();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment p = a.allocate(ValueLayout.JAVA_LONG);
                int rc = drv.cuMemAlloc.raw(p, bytes);
                if (rc == CUDA_ERROR_OUT_OF_MEMORY) return 0;
                if (rc != 0) throw new NativeCallException(drv.lib.name(), "cuMemAlloc_v2", rc, drv.lib.errorName(rc));
                return p.get(ValueLayout.JAVA_LONG, 0);
            }
        }

        @Override
        public void free(long ptr) {
            makeCurrent();
            drv.cuMemFree.call(ptr);
        }

        @Override
        public long freeBytes() {
            makeCurrent();
            return drv.memoryInfo()[0];
        }

        @Override
        public long totalBytes() {
            makeCurrent();
            return drv.memoryInfo()[1];
        }

        @Override
        public void synchronize() { CudaDevice.this.synchronize(); }
    }

    void synchronize() {
        makeCurrent();
        drv.cuStreamSynchronize.call(stream);
    }

    long streamId() { return stream.address(); }

    synchronized MemorySegment cublas() {
        if (cublas == null) {
            makeCurrent();
            cublas = Cublas.get().createHandle(stream);
        }
        return cublas;
    }

    // ---- kernels ----

    private synchronized MemorySegment function(Kernel k) {
        MemorySegment f = functions.get(k);
        if (f != null) return f;
        makeCurrent();
        MemorySegment module = modules.get(k.file);
        if (module == null) {
            byte[] cubin = cubin(k.file);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment image = a.allocate(cubin.length + 1L);
                MemorySegment.copy(cubin, 0, image, ValueLayout.JAVA_BYTE, 0, cubin.length);
                module = CudaDriver.outPointer(drv.cuModuleLoadData, image);
            }
            modules.put(k.file, module);
        }
        try (Arena a = Arena.ofConfined()) {
            f = CudaDriver.outPointer(drv.cuModuleGetFunction, module, a.allocateFrom(k.symbol));
        }
        functions.put(k, f);
        return f;
    }

    /** The file's cubin for this device: from the disk cache when the same source, options and NVRTC were compiled before. */
    private byte[] cubin(String file) {
        Nvrtc nvrtc = Nvrtc.get();
        String source = KernelSources.source(file);
        List<String> extra = List.of();
        String key = sha256(source + "\0sm_" + ccMajor + ccMinor + "\0" + nvrtc.versionString + "\0" + extra);
        Path dir = cacheDir();
        Path cached = dir == null ? null : dir.resolve(file.replace(".cu", "") + "-sm" + ccMajor + ccMinor + "-" + key.substring(0, 24) + ".cubin");
        if (cached != null && Files.isRegularFile(cached)) {
            try {
                return Files.readAllBytes(cached);
            } catch (IOException ignored) {
                // recompile
            }
        }
        byte[] cubin = nvrtc.compile(file, source, ccMajor, ccMinor, extra);
        if (cached != null) {
            try {
                Files.createDirectories(dir);
                Path tmp = Files.createTempFile(dir, "kernel", ".tmp");
                Files.write(tmp, cubin);
                Files.move(tmp, cached, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (IOException | UnsupportedOperationException ignored) {
                // an unwritable cache only costs a compile next time
            }
        }
        return cubin;
    }

    private static Path cacheDir() {
        String env = System.getenv("JLLM_CUDA_CACHE");
        if (env != null && !env.isBlank()) return Path.of(env);
        String home = System.getProperty("user.home");
        return home == null ? null : Path.of(home, ".cache", "jllm", "cuda");
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Grid size for a grid-stride loop over n elements. */
    static int gridFor(long n) { return (int) Math.max(1, Math.min(MAX_GRID, (n + THREADS - 1) / THREADS)); }

    /**
     * Launches a kernel on this device's stream. Arguments: Integer (int), Long (64-bit value or
     * device pointer), Float, Double, int[] (a struct of ints passed by value: Strides, S4), Tensor (the
     * device address of its first element), CudaStorage (its base address), null (a null pointer).
     */
    void launch(Kernel k, int gx, int gy, int gz, int bx, int sharedBytes, Object... args) {
        KernelSignature.check(k, args);
        makeCurrent();
        MemorySegment f = function(k);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = a.allocate(ValueLayout.ADDRESS, Math.max(args.length, 1));
            for (int i = 0; i < args.length; i++) params.setAtIndex(ValueLayout.ADDRESS, i, marshal(a, args[i]));
            drv.cuLaunchKernel.call(f, gx, gy, gz, bx, 1, 1, sharedBytes, stream, params, MemorySegment.NULL);
        } finally {
            Reference.reachabilityFence(args);
        }
    }

    static MemorySegment marshal(Arena a, Object arg) {
        return switch (arg) {
            case null -> a.allocateFrom(ValueLayout.JAVA_LONG, 0L);
            case Integer v -> a.allocateFrom(ValueLayout.JAVA_INT, v);
            case Long v -> a.allocateFrom(ValueLayout.JAVA_LONG, v);
            case Float v -> a.allocateFrom(ValueLayout.JAVA_FLOAT, v);
            case Double v -> a.allocateFrom(ValueLayout.JAVA_DOUBLE, v);
            case int[] v -> a.allocateFrom(ValueLayout.JAVA_INT, v);
            case Tensor t -> a.allocateFrom(ValueLayout.JAVA_LONG, CudaStorage.address(t));
            case CudaStorage s -> a.allocateFrom(ValueLayout.JAVA_LONG, s.ptr());
            default -> throw new IllegalArgumentException("cannot pass a " + arg.getClass().getName() + " to a kernel");
        };
    }

    // ---- out-of-range index reports ----

    /** The {int flag; int pad; long value} buffer, cleared; pass {@link #errorFlag()} and {@link #errorValue()} to the kernel. */
    synchronized void clearError() {
        if (errorBuffer == null) errorBuffer = allocator.allocate(16, streamId());
        memsetAsync(errorBuffer.ptr(), 16L);
    }

    long errorFlag() { return errorBuffer.ptr(); }

    long errorValue() { return errorBuffer.ptr() + 8; }

    /** The reported index, or null when none was (waits for the queued work). */
    synchronized Long reportedIndex() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(16, 8);
            copyDtoH(host, errorBuffer.ptr(), 16L);
            return host.get(ValueLayout.JAVA_INT, 0) != 0 ? host.get(ValueLayout.JAVA_LONG, 8) : null;
        }
    }
}
