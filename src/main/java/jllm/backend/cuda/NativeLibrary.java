package jllm.backend.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A shared library opened through the FFM API ({@link Linker#nativeLinker()}), with <em>checked</em>
 * downcalls: every function of the CUDA libraries returns a status (CUresult, cudaError_t,
 * cublasStatus_t, nvrtcResult) where 0 means success, and {@link Checked#call} turns any other value
 * into a {@link NativeCallException} naming the call and the library's name for the status (looked up
 * with the library's own function: cuGetErrorName, nvrtcGetErrorString, cublasGetStatusName).
 *
 * <p>Loading searches, for each candidate file name, the directories in {@code JLLM_CUDA_LIBS}
 * (colon-separated), then the dynamic loader's own search (LD_LIBRARY_PATH, ld.so.cache), then the
 * usual toolkit directories; a failure lists every attempt.
 */
public final class NativeLibrary {
    /** Maps a non-zero status to its name. */
    @FunctionalInterface
    public interface ErrorNames {
        String name(int code);
    }

    static final Linker LINKER = Linker.nativeLinker();
    static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;
    static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG;
    static final ValueLayout.OfLong SIZE_T = ValueLayout.JAVA_LONG;
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT;
    static final ValueLayout.OfDouble DOUBLE = ValueLayout.JAVA_DOUBLE;
    static final MemoryLayout PTR = ValueLayout.ADDRESS;

    private static final List<String> TOOLKIT_DIRS = List.of("/usr/local/cuda/lib64", "/usr/local/cuda/lib",
            "/usr/local/cuda/targets/x86_64-linux/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib");

    private final String name;
    private final SymbolLookup lookup;
    private volatile ErrorNames errorNames = code -> "error " + code;

    private NativeLibrary(String name, SymbolLookup lookup) {
        this.name = name;
        this.lookup = lookup;
    }

    /** A library over any symbol lookup (tests bind upcall stubs this way). */
    static NativeLibrary of(String name, SymbolLookup lookup) { return new NativeLibrary(name, lookup); }

    /** The C library (and whatever else the JVM's default lookup sees): for tests of this machinery. */
    public static NativeLibrary libc() { return new NativeLibrary("libc", LINKER.defaultLookup()); }

    /**
     * Opens the first of the candidate names that loads (a name with a '/' is a path).
     *
     * @throws NativeLibraryException listing every path and name tried and why each failed
     */
    public static NativeLibrary open(String what, List<String> candidates) {
        Set<String> tries = new LinkedHashSet<>();
        String env = System.getenv("JLLM_CUDA_LIBS");
        for (String c : candidates) {
            if (c.contains("/")) {
                tries.add(c);
                continue;
            }
            if (env != null) for (String dir : env.split(":")) if (!dir.isBlank()) tries.add(Path.of(dir, c).toString());
            tries.add(c);
            for (String dir : TOOLKIT_DIRS) {
                Path p = Path.of(dir, c);
                if (Files.exists(p)) tries.add(p.toString());
            }
        }
        List<String> failures = new ArrayList<>();
        for (String t : tries) {
            if (t.contains("/") && !Files.exists(Path.of(t))) continue;
            try {
                SymbolLookup l = t.contains("/") ? SymbolLookup.libraryLookup(Path.of(t), Arena.global())
                        : SymbolLookup.libraryLookup(t, Arena.global());
                return new NativeLibrary(t, l);
            } catch (IllegalArgumentException | IllegalCallerException e) {
                failures.add(t + ": " + e.getMessage());
            }
        }
        throw new NativeLibraryException(what + " could not be loaded (tried " + String.join("; ", failures.isEmpty() ? tries : failures)
                + "). Install it or point JLLM_CUDA_LIBS (or LD_LIBRARY_PATH) at the directory holding it.");
    }

    public String name() { return name; }

    /** Sets how this library's status codes are named in exceptions. */
    public void setErrorNames(ErrorNames names) { this.errorNames = Objects.requireNonNull(names); }

    public boolean has(String symbol) { return lookup.find(symbol).isPresent(); }

    /** A downcall handle; throws naming the library and symbol when it is absent. */
    public MethodHandle function(String symbol, FunctionDescriptor fd) {
        MemorySegment addr = lookup.find(symbol).orElseThrow(() -> new NativeLibraryException(name + " has no symbol " + symbol
                + " (a library older than jllm expects?)"));
        return LINKER.downcallHandle(addr, fd);
    }

    /** A checked function: returns a 32-bit status, 0 meaning success. */
    public Checked checked(String symbol, MemoryLayout... args) {
        return new Checked(symbol, function(symbol, FunctionDescriptor.of(INT, args)));
    }

    /** Names a status with this library's namer, never throwing. */
    public String errorName(int code) {
        try {
            String n = errorNames.name(code);
            return n == null ? "unknown error " + code : n;
        } catch (RuntimeException e) {
            return "unknown error " + code;
        }
    }

    /** A status-returning native function. */
    public final class Checked {
        private final String symbol;
        private final MethodHandle handle;

        Checked(String symbol, MethodHandle handle) {
            this.symbol = symbol;
            this.handle = handle;
        }

        public String symbol() { return symbol; }

        /** Calls the function; a non-zero status throws {@link NativeCallException}. */
        public void call(Object... args) {
            int rc = raw(args);
            if (rc != 0) throw new NativeCallException(name, symbol, rc, errorName(rc));
        }

        /** Calls the function and returns its status unchecked (for calls where a status is an answer, not a failure). */
        public int raw(Object... args) {
            try {
                return (int) handle.invokeWithArguments(args);
            } catch (RuntimeException | Error e) {
                throw e;
            } catch (Throwable t) {
                throw new IllegalStateException(symbol + ": " + t, t);
            }
        }
    }

    // ---- error namers ----

    /** Namer through a function {@code const char* f(int status)} (cudaGetErrorName, nvrtcGetErrorString, cublasGetStatusName). */
    public static ErrorNames stringReturning(MethodHandle f) {
        return code -> {
            try {
                MemorySegment p = (MemorySegment) f.invokeExact(code);
                return p.equals(MemorySegment.NULL) ? null : cString(p);
            } catch (Throwable t) {
                return null;
            }
        };
    }

    /** Namer through a function {@code int f(int status, const char** name)} (cuGetErrorName): null when it fails. */
    public static ErrorNames outPointer(MethodHandle f) {
        return code -> {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ValueLayout.ADDRESS);
                int rc = (int) f.invokeExact(code, out);
                if (rc != 0) return null;
                MemorySegment p = out.get(ValueLayout.ADDRESS, 0);
                return p.equals(MemorySegment.NULL) ? null : cString(p);
            } catch (Throwable t) {
                return null;
            }
        };
    }

    /** Reads a NUL-terminated string at a native address. */
    public static String cString(MemorySegment p) {
        return p.reinterpret(Long.MAX_VALUE).getString(0);
    }
}
