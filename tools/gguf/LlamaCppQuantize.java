import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;

/**
 * llama.cpp's own quantizer (what its llama-quantize tool runs: llama_model_quantize), called through
 * the FFM API in the libllama that node-llama-cpp 3.21.1 ships, so that check_gguf.mjs can give jllm
 * GGUF files written by llama.cpp rather than by jllm.
 *
 * Usage: java --enable-native-access=ALL-UNNAMED tools/gguf/LlamaCppQuantize.java BINS_DIR IN.gguf OUT.gguf FTYPE
 * (FTYPE: llama.cpp's llama_ftype number, e.g. 1 = F16, 2 = Q4_0, 7 = Q8_0).
 */
public class LlamaCppQuantize {
    /** llama_model_quantize_params of llama.h (v0.4.0): nthread, ftype, ..., 64 bytes; returned through a hidden pointer. */
    private static final MemoryLayout PARAMS = MemoryLayout.structLayout(MemoryLayout.sequenceLayout(8, ValueLayout.JAVA_LONG));

    public static void main(String[] args) throws Throwable {
        Path bins = Path.of(args[0]);
        Linker linker = Linker.nativeLinker();
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup ggml = SymbolLookup.libraryLookup(bins.resolve("libggml.v0.4.0.so"), arena);
            SymbolLookup llama = SymbolLookup.libraryLookup(bins.resolve("libllama.v0.4.0.so"), arena);
            MethodHandle loadAll = linker.downcallHandle(ggml.find("ggml_backend_load_all_from_path").orElseThrow(),
                    FunctionDescriptor.ofVoid(ValueLayout.ADDRESS));
            loadAll.invokeExact(arena.allocateFrom(bins.toString()));
            MethodHandle defaults = linker.downcallHandle(llama.find("llama_model_quantize_default_params").orElseThrow(), FunctionDescriptor.of(PARAMS));
            MethodHandle quantize = linker.downcallHandle(llama.find("llama_model_quantize").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.ADDRESS));
            MemorySegment params = (MemorySegment) defaults.invokeExact((SegmentAllocator) arena);
            params.set(ValueLayout.JAVA_INT, 0, 1); // nthread
            params.set(ValueLayout.JAVA_INT, 4, Integer.parseInt(args[3])); // ftype
            int rc = (int) quantize.invokeExact(arena.allocateFrom(args[1]), arena.allocateFrom(args[2]), params);
            if (rc != 0) throw new IllegalStateException("llama_model_quantize returned " + rc);
        }
    }
}
