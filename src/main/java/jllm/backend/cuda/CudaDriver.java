package jllm.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static jllm.backend.cuda.NativeLibrary.INT;
import static jllm.backend.cuda.NativeLibrary.LONG;
import static jllm.backend.cuda.NativeLibrary.PTR;
import static jllm.backend.cuda.NativeLibrary.SIZE_T;

/**
 * The CUDA driver API ({@code libcuda.so.1}, installed with the NVIDIA driver, not the toolkit),
 * loaded on first use. Where it cannot be loaded or initialised (no driver, no device), {@link
 * #isAvailable()} is false and {@link #unavailableReason()} says why; nothing is thrown at class
 * load. Every call is checked (CUresult named with cuGetErrorName).
 *
 * <p>Not run on a GPU yet: the signatures follow cuda.h (CUDA 12/13), the loading and failure path
 * is what has been exercised (on machines without libcuda).
 */
public final class CudaDriver {
    public static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    public static final int ATTR_COMPUTE_CAPABILITY_MAJOR = 75;
    public static final int ATTR_COMPUTE_CAPABILITY_MINOR = 76;

    private static final Object LOCK = new Object();
    private static volatile CudaDriver instance;
    private static volatile String reason;

    final NativeLibrary lib;
    final NativeLibrary.Checked cuInit, cuDriverGetVersion, cuDeviceGetCount, cuDeviceGet, cuDeviceGetName, cuDeviceGetAttribute,
            cuDeviceTotalMem, cuDevicePrimaryCtxRetain, cuCtxSetCurrent, cuCtxSynchronize, cuMemAlloc, cuMemFree, cuMemGetInfo,
            cuMemcpyHtoD, cuMemcpyDtoH, cuMemcpyDtoDAsync, cuMemsetD8Async, cuStreamCreate, cuStreamSynchronize,
            cuModuleLoadData, cuModuleGetFunction, cuLaunchKernel;
    private final int deviceCount;
    private final int version;

    /**
     * Every driver function jllm calls, by exported symbol, with its parameters as FFM layouts (CUresult
     * return). Handles (CUcontext, CUstream, CUmodule, CUfunction) and pointers are ADDRESS, CUdeviceptr
     * is a 64-bit integer, size_t is 64-bit. DriverHeaderTest checks this table against cuda.h.
     */
    static final Map<String, MemoryLayout[]> FUNCTIONS = new LinkedHashMap<>();

    static {
        FUNCTIONS.put("cuInit", new MemoryLayout[] {INT});
        FUNCTIONS.put("cuDriverGetVersion", new MemoryLayout[] {PTR});
        FUNCTIONS.put("cuDeviceGetCount", new MemoryLayout[] {PTR});
        FUNCTIONS.put("cuDeviceGet", new MemoryLayout[] {PTR, INT});
        FUNCTIONS.put("cuDeviceGetName", new MemoryLayout[] {PTR, INT, INT});
        FUNCTIONS.put("cuDeviceGetAttribute", new MemoryLayout[] {PTR, INT, INT});
        FUNCTIONS.put("cuDeviceTotalMem_v2", new MemoryLayout[] {PTR, INT});
        FUNCTIONS.put("cuDevicePrimaryCtxRetain", new MemoryLayout[] {PTR, INT});
        FUNCTIONS.put("cuCtxSetCurrent", new MemoryLayout[] {PTR});
        FUNCTIONS.put("cuCtxSynchronize", new MemoryLayout[] {});
        FUNCTIONS.put("cuMemAlloc_v2", new MemoryLayout[] {PTR, SIZE_T});
        FUNCTIONS.put("cuMemFree_v2", new MemoryLayout[] {LONG});
        FUNCTIONS.put("cuMemGetInfo_v2", new MemoryLayout[] {PTR, PTR});
        FUNCTIONS.put("cuMemcpyHtoD_v2", new MemoryLayout[] {LONG, PTR, SIZE_T});
        FUNCTIONS.put("cuMemcpyDtoH_v2", new MemoryLayout[] {PTR, LONG, SIZE_T});
        FUNCTIONS.put("cuMemcpyDtoDAsync_v2", new MemoryLayout[] {LONG, LONG, SIZE_T, PTR});
        FUNCTIONS.put("cuMemsetD8Async", new MemoryLayout[] {LONG, ValueLayout.JAVA_BYTE, SIZE_T, PTR});
        FUNCTIONS.put("cuStreamCreate", new MemoryLayout[] {PTR, INT});
        FUNCTIONS.put("cuStreamSynchronize", new MemoryLayout[] {PTR});
        FUNCTIONS.put("cuModuleLoadData", new MemoryLayout[] {PTR, PTR});
        FUNCTIONS.put("cuModuleGetFunction", new MemoryLayout[] {PTR, PTR, PTR});
        FUNCTIONS.put("cuLaunchKernel", new MemoryLayout[] {PTR, INT, INT, INT, INT, INT, INT, INT, PTR, PTR, PTR});
        FUNCTIONS.put("cuGetErrorName", new MemoryLayout[] {INT, PTR});
    }

    private NativeLibrary.Checked bind(String symbol) { return lib.checked(symbol, FUNCTIONS.get(symbol)); }

    private CudaDriver(NativeLibrary lib) {
        this.lib = lib;
        lib.setErrorNames(NativeLibrary.outPointer(lib.function("cuGetErrorName", FunctionDescriptor.of(INT, FUNCTIONS.get("cuGetErrorName")))));
        cuInit = bind("cuInit");
        cuDriverGetVersion = bind("cuDriverGetVersion");
        cuDeviceGetCount = bind("cuDeviceGetCount");
        cuDeviceGet = bind("cuDeviceGet");
        cuDeviceGetName = bind("cuDeviceGetName");
        cuDeviceGetAttribute = bind("cuDeviceGetAttribute");
        cuDeviceTotalMem = bind("cuDeviceTotalMem_v2");
        cuDevicePrimaryCtxRetain = bind("cuDevicePrimaryCtxRetain");
        cuCtxSetCurrent = bind("cuCtxSetCurrent");
        cuCtxSynchronize = bind("cuCtxSynchronize");
        cuMemAlloc = bind("cuMemAlloc_v2");
        cuMemFree = bind("cuMemFree_v2");
        cuMemGetInfo = bind("cuMemGetInfo_v2");
        cuMemcpyHtoD = bind("cuMemcpyHtoD_v2");
        cuMemcpyDtoH = bind("cuMemcpyDtoH_v2");
        cuMemcpyDtoDAsync = bind("cuMemcpyDtoDAsync_v2");
        cuMemsetD8Async = bind("cuMemsetD8Async");
        cuStreamCreate = bind("cuStreamCreate");
        cuStreamSynchronize = bind("cuStreamSynchronize");
        cuModuleLoadData = bind("cuModuleLoadData");
        cuModuleGetFunction = bind("cuModuleGetFunction");
        cuLaunchKernel = bind("cuLaunchKernel");
        cuInit.call(0);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(INT);
            cuDriverGetVersion.call(p);
            version = p.get(INT, 0);
            cuDeviceGetCount.call(p);
            deviceCount = p.get(INT, 0);
        }
    }

    /** Loads and initialises the driver once; later calls return the outcome of the first. */
    private static void load() {
        if (instance != null || reason != null) return;
        synchronized (LOCK) {
            if (instance != null || reason != null) return;
            try {
                NativeLibrary lib = NativeLibrary.open("the CUDA driver library (libcuda.so.1, part of the NVIDIA driver)",
                        List.of("libcuda.so.1", "libcuda.so"));
                CudaDriver d = new CudaDriver(lib);
                if (d.deviceCount == 0) reason = "the CUDA driver (" + lib.name() + ") reports no CUDA devices";
                else instance = d;
            } catch (NativeLibraryException | NativeCallException e) {
                reason = e.getMessage();
            } catch (RuntimeException | LinkageError e) {
                reason = "the CUDA driver could not be initialised: " + e;
            }
        }
    }

    public static boolean isAvailable() {
        load();
        return instance != null;
    }

    /** Why CUDA cannot be used here, or null when it can. */
    public static String unavailableReason() {
        load();
        return reason;
    }

    /** The driver, or a {@link CudaUnavailableException} saying why there is none. */
    public static CudaDriver get() {
        load();
        if (instance == null) throw new CudaUnavailableException("CUDA is not available: " + reason);
        return instance;
    }

    public int deviceCount() { return deviceCount; }

    /** The driver's CUDA version as major*1000 + minor*10 (e.g. 12040). */
    public int version() { return version; }

    public int device(int index) {
        if (index < 0 || index >= deviceCount) {
            throw new CudaUnavailableException("cuda:" + index + " does not exist: the driver reports " + deviceCount + " device(s)");
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(INT);
            cuDeviceGet.call(p, index);
            return p.get(INT, 0);
        }
    }

    public int attribute(int device, int attribute) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(INT);
            cuDeviceGetAttribute.call(p, attribute, device);
            return p.get(INT, 0);
        }
    }

    public String name(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(256);
            cuDeviceGetName.call(p, 256, device);
            return p.getString(0);
        }
    }

    public long totalMemory(int device) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(SIZE_T);
            cuDeviceTotalMem.call(p, device);
            return p.get(SIZE_T, 0);
        }
    }

    /** {free, total} bytes of the current context's device. */
    public long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(SIZE_T), t = a.allocate(SIZE_T);
            cuMemGetInfo.call(f, t);
            return new long[] {f.get(SIZE_T, 0), t.get(SIZE_T, 0)};
        }
    }

    /** Reads a pointer-sized out parameter filled by a call. */
    static MemorySegment outPointer(NativeLibrary.Checked fn, Object... argsAfterOut) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            Object[] args = new Object[argsAfterOut.length + 1];
            args[0] = p;
            System.arraycopy(argsAfterOut, 0, args, 1, argsAfterOut.length);
            fn.call(args);
            return p.get(ValueLayout.ADDRESS, 0);
        }
    }
}
