package jllm.backend.cuda;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The checked-downcall machinery of the CUDA backend, exercised against libc and upcall stubs (no GPU needed). */
class NativeLibraryTest {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT;

    @Test
    void zeroStatusPassesAndNonZeroThrowsNamingTheCallAndStatus() {
        NativeLibrary libc = NativeLibrary.libc();
        MethodHandle strerror = libc.function("strerror", FunctionDescriptor.of(ValueLayout.ADDRESS, INT));
        libc.setErrorNames(NativeLibrary.stringReturning(strerror));
        NativeLibrary.Checked abs = libc.checked("abs", INT);
        abs.call(0);
        assertEquals(7, abs.raw(-7));
        NativeCallException e = assertThrows(NativeCallException.class, () -> abs.call(-2));
        assertEquals("abs", e.call());
        assertEquals(2, e.code());
        String enoent = NativeLibrary.cString(callAddress(strerror, 2));
        assertEquals(enoent, e.errorName());
        assertTrue(e.getMessage().startsWith("abs failed: " + enoent + " (2)"), e.getMessage());
    }

    @Test
    void pointerArgumentsAndStringsRoundTrip() {
        NativeLibrary libc = NativeLibrary.libc();
        NativeLibrary.Checked strcmp = libc.checked("strcmp", ValueLayout.ADDRESS, ValueLayout.ADDRESS);
        try (Arena a = Arena.ofConfined()) {
            strcmp.call(a.allocateFrom("cuda"), a.allocateFrom("cuda"));
            NativeCallException e = assertThrows(NativeCallException.class, () -> strcmp.call(a.allocateFrom("cuda"), a.allocateFrom("cudb")));
            assertTrue(e.code() < 0, "strcmp(cuda, cudb) < 0, got " + e.code());
        }
    }

    @Test
    void missingSymbolAndLibraryAreNamed() {
        NativeLibraryException sym = assertThrows(NativeLibraryException.class, () -> NativeLibrary.libc().checked("cuNoSuchFunction_v9"));
        assertTrue(sym.getMessage().contains("cuNoSuchFunction_v9"), sym.getMessage());
        NativeLibraryException lib = assertThrows(NativeLibraryException.class,
                () -> NativeLibrary.open("the test library", List.of("libjllm-does-not-exist.so.7")));
        assertTrue(lib.getMessage().contains("the test library") && lib.getMessage().contains("libjllm-does-not-exist.so.7"), lib.getMessage());
    }

    // ---- a fake driver made of upcall stubs: the out-pointer namer, as cuGetErrorName is used ----

    private static final Map<Integer, String> NAMES = Map.of(2, "CUDA_ERROR_OUT_OF_MEMORY", 100, "CUDA_ERROR_NO_DEVICE");
    private static Arena names;

    static int fakeCall(int status) { return status; }

    static int fakeGetErrorName(int code, MemorySegment out) {
        String n = NAMES.get(code);
        if (n == null) return 1; // CUDA_ERROR_INVALID_VALUE, as the real one for an unknown code
        out.reinterpret(8).set(ValueLayout.ADDRESS, 0, names.allocateFrom(n));
        return 0;
    }

    @Test
    void outPointerNamerAsCuGetErrorName() throws Exception {
        try (Arena arena = Arena.ofShared()) {
            names = arena;
            var lookup = MethodHandles.lookup();
            MemorySegment call = NativeLibrary.LINKER.upcallStub(lookup.findStatic(NativeLibraryTest.class, "fakeCall",
                    MethodType.methodType(int.class, int.class)), FunctionDescriptor.of(INT, INT), arena);
            MemorySegment getName = NativeLibrary.LINKER.upcallStub(lookup.findStatic(NativeLibraryTest.class, "fakeGetErrorName",
                    MethodType.methodType(int.class, int.class, MemorySegment.class)), FunctionDescriptor.of(INT, INT, ValueLayout.ADDRESS), arena);
            NativeLibrary fake = NativeLibrary.of("libfakecuda.so", name -> switch (name) {
                case "cuFake" -> Optional.of(call);
                case "cuGetErrorName" -> Optional.of(getName);
                default -> Optional.empty();
            });
            fake.setErrorNames(NativeLibrary.outPointer(fake.function("cuGetErrorName", FunctionDescriptor.of(INT, INT, ValueLayout.ADDRESS))));
            NativeLibrary.Checked f = fake.checked("cuFake", INT);
            f.call(0);
            NativeCallException oom = assertThrows(NativeCallException.class, () -> f.call(2));
            assertEquals("cuFake failed: CUDA_ERROR_OUT_OF_MEMORY (2) [libfakecuda.so]", oom.getMessage());
            assertEquals("libfakecuda.so", oom.library());
            NativeCallException unknown = assertThrows(NativeCallException.class, () -> f.call(999));
            assertEquals("unknown error 999", unknown.errorName());
        }
    }

    @Test
    void aThrowingNamerDoesNotHideTheFailure() {
        NativeLibrary libc = NativeLibrary.libc();
        libc.setErrorNames(code -> { throw new IllegalStateException("namer broke"); });
        NativeCallException e = assertThrows(NativeCallException.class, () -> libc.checked("abs", INT).call(5));
        assertEquals("unknown error 5", e.errorName());
    }

    private static MemorySegment callAddress(MethodHandle f, int arg) {
        try {
            return (MemorySegment) f.invokeExact(arg);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
