package jllm.distributed;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * The few Open MPI functions jllm calls, bound with the FFM API. Open MPI's handles are pointers:
 * {@code MPI_COMM_WORLD} is the address of the symbol {@code ompi_mpi_comm_world}, {@code MPI_FLOAT}
 * that of {@code ompi_mpi_float}, and so on, so they are looked up as symbols rather than compiled
 * in. The library is opened with {@code RTLD_GLOBAL} (as mpi4py does) so that the components Open
 * MPI loads at {@code MPI_Init} resolve their symbols against it.
 *
 * <p>Every call here is made by the one communication thread of {@link MpiProcessGroup}
 * ({@code MPI_THREAD_FUNNELED}); nothing in this class is thread-safe.
 */
final class Mpi {
    static final String LIBRARY = "libmpi.so.40";
    static final String PACKAGE_HINT = "install Open MPI: apt-get install openmpi-bin (Debian/Ubuntu: libopenmpi3, Open MPI 4.x)";

    static final int THREAD_FUNNELED = 1;
    static final int SUCCESS = 0;
    /** {@code MPI_IN_PLACE} is {@code (void *) 1} in Open MPI. */
    static final MemorySegment IN_PLACE = MemorySegment.ofAddress(1);
    /** sizeof(MPI_Status) in Open MPI 4: three ints, an int, a size_t. */
    static final long STATUS_SIZE = 24;

    private static final int RTLD_NOW = 2, RTLD_GLOBAL = 0x100;

    final MemorySegment commWorld, typeFloat, typeDouble, typeLong, typeByte, opSum, opMax, opMin;
    private final MethodHandle initThread, commRank, commSize, iallreduce, ibcast, iallgather, ibarrier,
            test, abort, finalizeFn;

    private Mpi(SymbolLookup lib) {
        Linker linker = Linker.nativeLinker();
        commWorld = symbol(lib, "ompi_mpi_comm_world");
        typeFloat = symbol(lib, "ompi_mpi_float");
        typeDouble = symbol(lib, "ompi_mpi_double");
        typeLong = symbol(lib, "ompi_mpi_long");
        typeByte = symbol(lib, "ompi_mpi_byte");
        opSum = symbol(lib, "ompi_mpi_op_sum");
        opMax = symbol(lib, "ompi_mpi_op_max");
        opMin = symbol(lib, "ompi_mpi_op_min");
        initThread = fn(linker, lib, "MPI_Init_thread", ADDRESS, ADDRESS, JAVA_INT, ADDRESS);
        commRank = fn(linker, lib, "MPI_Comm_rank", ADDRESS, ADDRESS);
        commSize = fn(linker, lib, "MPI_Comm_size", ADDRESS, ADDRESS);
        iallreduce = fn(linker, lib, "MPI_Iallreduce", ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        ibcast = fn(linker, lib, "MPI_Ibcast", ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, ADDRESS);
        iallgather = fn(linker, lib, "MPI_Iallgather", ADDRESS, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS);
        ibarrier = fn(linker, lib, "MPI_Ibarrier", ADDRESS, ADDRESS);
        test = fn(linker, lib, "MPI_Test", ADDRESS, ADDRESS, ADDRESS);
        abort = fn(linker, lib, "MPI_Abort", ADDRESS, JAVA_INT);
        finalizeFn = fn(linker, lib, "MPI_Finalize");
    }

    /**
     * Open MPI settings jllm prefers, applied unless the user's environment already sets them.
     * The non-blocking all-reduce (libnbc) picks recursive doubling or binomial trees by default,
     * which send and reduce the whole buffer on every rank; the ring (reduce-scatter then
     * all-gather) moves and reduces 2(n-1)/n of it and measured twice the bandwidth for 4-512 MB
     * between 2 ranks here (1.45 -> 2.9 GB/s, `jllm bench ddp`).
     */
    static final Map<String, String> MCA_DEFAULTS = Map.of("OMPI_MCA_coll_libnbc_iallreduce_algorithm", "1");

    /**
     * Opens libmpi (after setting {@link #MCA_DEFAULTS} in this process's environment, which
     * MPI_Init reads).
     *
     * @throws DistributedException naming the library and the package to install when it is missing
     */
    static Mpi load() {
        return load(LIBRARY);
    }

    static Mpi load(String library) {
        Linker linker = Linker.nativeLinker();
        SymbolLookup libc = linker.defaultLookup();
        MethodHandle setenv = linker.downcallHandle(libc.find("setenv").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
        try (Arena a = Arena.ofConfined()) {
            for (var e : MCA_DEFAULTS.entrySet()) {
                int ignored = (int) setenv.invokeExact(a.allocateFrom(e.getKey()), a.allocateFrom(e.getValue()), 0); // 0: keep the user's
            }
        } catch (Throwable t) {
            throw new DistributedException("setenv failed: " + t, t);
        }
        MethodHandle dlopen = linker.downcallHandle(libc.find("dlopen").orElseThrow(), FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_INT));
        MethodHandle dlerror = linker.downcallHandle(libc.find("dlerror").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        MemorySegment handle;
        try (Arena a = Arena.ofConfined()) {
            handle = (MemorySegment) dlopen.invokeExact(a.allocateFrom(library), RTLD_NOW | RTLD_GLOBAL);
            if (handle.equals(MemorySegment.NULL)) {
                MemorySegment err = (MemorySegment) dlerror.invokeExact();
                String why = err.equals(MemorySegment.NULL) ? "not found" : err.reinterpret(4096).getString(0);
                throw new DistributedException("cannot load " + library + " (" + why + "); " + PACKAGE_HINT);
            }
        } catch (DistributedException e) {
            throw e;
        } catch (Throwable t) {
            throw new DistributedException("cannot load " + library + ": " + t, t);
        }
        // the library stays loaded for the life of the process (it is never dlclose'd)
        return new Mpi(SymbolLookup.libraryLookup(library, Arena.global()));
    }

    /** True when libmpi can be opened (without initialising MPI). */
    static boolean available() {
        try {
            SymbolLookup.libraryLookup(LIBRARY, Arena.global());
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    private static MemorySegment symbol(SymbolLookup lib, String name) {
        return lib.find(name).orElseThrow(() -> new DistributedException(LIBRARY + " has no symbol " + name
                + ": jllm needs Open MPI 4.x (" + PACKAGE_HINT + ")"));
    }

    private static MethodHandle fn(Linker linker, SymbolLookup lib, String name, ValueLayout... args) {
        return linker.downcallHandle(symbol(lib, name), FunctionDescriptor.of(JAVA_INT, args));
    }

    // ------------------------------------------------------------------ calls (ints are MPI error codes)

    /** A downcall returning an MPI error code. */
    @FunctionalInterface
    private interface Call {
        int run() throws Throwable;
    }

    private static void call(String name, Call c) {
        int rc;
        try {
            rc = c.run();
        } catch (Throwable t) {
            throw new DistributedException(name + ": " + t, t);
        }
        if (rc != SUCCESS) throw new DistributedException(name + " failed with MPI error code " + rc);
    }

    /** Calls {@code f(out)} with a fresh int out-parameter and returns what it wrote. */
    private static int intOut(String name, java.util.function.Function<MemorySegment, Call> f) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            call(name, f.apply(v));
            return v.get(JAVA_INT, 0);
        }
    }

    /** MPI_Init_thread(NULL, NULL, FUNNELED); returns the thread level provided. */
    int initThread() {
        return intOut("MPI_Init_thread", v -> () -> (int) initThread.invokeExact(MemorySegment.NULL, MemorySegment.NULL, THREAD_FUNNELED, v));
    }

    int commRank() {
        return intOut("MPI_Comm_rank", v -> () -> (int) commRank.invokeExact(commWorld, v));
    }

    int commSize() {
        return intOut("MPI_Comm_size", v -> () -> (int) commSize.invokeExact(commWorld, v));
    }

    /** MPI_Iallreduce in place on {@code count} elements of {@code buf}; the request handle goes to {@code request}. */
    void iallreduce(MemorySegment buf, int count, MemorySegment type, MemorySegment op, MemorySegment request) {
        call("MPI_Iallreduce", () -> (int) iallreduce.invokeExact(IN_PLACE, buf, count, type, op, commWorld, request));
    }

    void ibcast(MemorySegment buf, int count, MemorySegment type, int root, MemorySegment request) {
        call("MPI_Ibcast", () -> (int) ibcast.invokeExact(buf, count, type, root, commWorld, request));
    }

    /** Each rank sends {@code count} elements of {@code send}; {@code recv} gets size*count, in rank order. */
    void iallgather(MemorySegment send, MemorySegment recv, int count, MemorySegment type, MemorySegment request) {
        call("MPI_Iallgather", () -> (int) iallgather.invokeExact(send, count, type, recv, count, type, commWorld, request));
    }

    void ibarrier(MemorySegment request) {
        call("MPI_Ibarrier", () -> (int) ibarrier.invokeExact(commWorld, request));
    }

    /** MPI_Test: true when the request completed (the handle is then freed by MPI). */
    boolean test(MemorySegment request, MemorySegment flag, MemorySegment status) {
        call("MPI_Test", () -> (int) test.invokeExact(request, flag, status));
        return flag.get(JAVA_INT, 0) != 0;
    }

    /** MPI_Abort on MPI_COMM_WORLD: asks mpirun to end every rank with this code. */
    void abort(int code) {
        try {
            int ignored = (int) abort.invokeExact(commWorld, code);
        } catch (Throwable t) {
            // the caller halts the JVM next anyway
        }
    }

    void finalizeMpi() {
        call("MPI_Finalize", () -> (int) finalizeFn.invokeExact());
    }
}
