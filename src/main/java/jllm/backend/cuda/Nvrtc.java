package jllm.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

import static jllm.backend.cuda.NativeLibrary.INT;
import static jllm.backend.cuda.NativeLibrary.PTR;
import static jllm.backend.cuda.NativeLibrary.SIZE_T;

/**
 * NVRTC, the CUDA runtime compiler ({@code libnvrtc.so}, from the toolkit or the nvidia-cuda-nvrtc
 * wheel), loaded on first use: compiles a kernel source to a cubin for one compute capability. Every
 * call is checked (nvrtcResult named with nvrtcGetErrorString); a compile error carries the log.
 * Not run on a GPU machine yet.
 */
final class Nvrtc {
    private static final Object LOCK = new Object();
    private static volatile Nvrtc instance;
    private static volatile String reason;

    private final NativeLibrary lib;
    private final NativeLibrary.Checked version, createProgram, compileProgram, getProgramLogSize, getProgramLog, getCubinSize, getCubin,
            destroyProgram;
    final String versionString;

    private Nvrtc(NativeLibrary lib) {
        this.lib = lib;
        lib.setErrorNames(NativeLibrary.stringReturning(lib.function("nvrtcGetErrorString", FunctionDescriptor.of(ValueLayout.ADDRESS, INT))));
        version = lib.checked("nvrtcVersion", PTR, PTR);
        createProgram = lib.checked("nvrtcCreateProgram", PTR, PTR, PTR, INT, PTR, PTR);
        compileProgram = lib.checked("nvrtcCompileProgram", PTR, INT, PTR);
        getProgramLogSize = lib.checked("nvrtcGetProgramLogSize", PTR, PTR);
        getProgramLog = lib.checked("nvrtcGetProgramLog", PTR, PTR);
        getCubinSize = lib.checked("nvrtcGetCUBINSize", PTR, PTR);
        getCubin = lib.checked("nvrtcGetCUBIN", PTR, PTR);
        destroyProgram = lib.checked("nvrtcDestroyProgram", PTR);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(INT), minor = a.allocate(INT);
            version.call(major, minor);
            versionString = major.get(INT, 0) + "." + minor.get(INT, 0);
        }
    }

    static Nvrtc get() {
        if (instance == null && reason == null) {
            synchronized (LOCK) {
                if (instance == null && reason == null) {
                    try {
                        NativeLibrary lib = NativeLibrary.open("NVRTC (libnvrtc.so, the CUDA runtime compiler)",
                                List.of("libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2"));
                        preloadBuiltins(lib.name());
                        instance = new Nvrtc(lib);
                    } catch (NativeLibraryException | NativeCallException e) {
                        reason = e.getMessage();
                    }
                }
            }
        }
        if (instance == null) throw new CudaUnavailableException("CUDA kernels cannot be compiled: " + reason);
        return instance;
    }

    /**
     * NVRTC dlopens libnvrtc-builtins.so.X.Y by name at its first compile; found through a directory
     * (JLLM_CUDA_LIBS, a pip wheel's lib/) rather than the loader's path, it would not be found. Loading
     * it first from libnvrtc's own directory makes that dlopen find the loaded copy (same soname).
     */
    private static void preloadBuiltins(String nvrtcPath) {
        if (!nvrtcPath.contains("/")) return;
        java.nio.file.Path dir = java.nio.file.Path.of(nvrtcPath).getParent();
        try (var files = java.nio.file.Files.list(dir)) {
            for (java.nio.file.Path p : files.filter(f -> f.getFileName().toString().startsWith("libnvrtc-builtins.so")).toList()) {
                try {
                    java.lang.foreign.SymbolLookup.libraryLookup(p, Arena.global());
                } catch (IllegalArgumentException ignored) {
                    // NVRTC reports a missing builtins library itself, with its name
                }
            }
        } catch (java.io.IOException ignored) {
            // as above
        }
    }

    /** Why NVRTC cannot be used, or null. */
    static String unavailableReason() {
        try {
            get();
            return null;
        } catch (CudaUnavailableException e) {
            return e.getMessage();
        }
    }

    /** Compiles one source for sm_{major}{minor}; the log is in the exception on failure. */
    byte[] compile(String name, String source, int major, int minor, List<String> extraOptions) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment progOut = a.allocate(ValueLayout.ADDRESS);
            createProgram.call(progOut, a.allocateFrom(source), a.allocateFrom(name), 0, MemorySegment.NULL, MemorySegment.NULL);
            MemorySegment prog = progOut.get(ValueLayout.ADDRESS, 0);
            try {
                List<String> opts = new java.util.ArrayList<>(List.of("--gpu-architecture=sm_" + major + minor, "-DJLLM_NVRTC=1"));
                opts.addAll(extraOptions);
                MemorySegment argv = a.allocate(ValueLayout.ADDRESS, opts.size());
                for (int i = 0; i < opts.size(); i++) argv.setAtIndex(ValueLayout.ADDRESS, i, a.allocateFrom(opts.get(i)));
                int rc = compileProgram.raw(prog, opts.size(), argv);
                if (rc != 0) {
                    throw new CudaKernelCompileException(name + ": NVRTC " + versionString + " failed (" + lib.errorName(rc) + ") for sm_" + major
                            + minor + " with options " + opts + ":\n" + log(a, prog));
                }
                MemorySegment size = a.allocate(SIZE_T);
                getCubinSize.call(prog, size);
                MemorySegment cubin = a.allocate(size.get(SIZE_T, 0));
                getCubin.call(prog, cubin);
                return cubin.toArray(ValueLayout.JAVA_BYTE);
            } finally {
                destroyProgram.call(progOut);
            }
        }
    }

    private String log(Arena a, MemorySegment prog) {
        MemorySegment size = a.allocate(SIZE_T);
        getProgramLogSize.call(prog, size);
        long n = size.get(SIZE_T, 0);
        if (n <= 1) return "(empty log)";
        MemorySegment text = a.allocate(n);
        getProgramLog.call(prog, text);
        return text.getString(0);
    }
}
