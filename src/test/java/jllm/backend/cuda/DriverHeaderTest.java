package jllm.backend.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The driver binding against the toolkit's cuda.h (no libcuda is needed to read a header): every symbol
 * jllm calls is the one cuda.h maps its function to (cuMemAlloc -> cuMemAlloc_v2, ...), with parameters
 * of the same count and ABI class, and the enum values jllm hard-codes are cuda.h's. Skipped where no
 * CUDA headers are installed.
 */
class DriverHeaderTest {
    private static Path include(String file) {
        List<String> roots = new ArrayList<>();
        String home = System.getenv("CUDA_HOME");
        if (home != null) roots.add(home + "/include");
        roots.addAll(List.of("/usr/local/cuda/include", "/usr/local/cuda-13.0/include", "/usr/local/cuda-12.8/include", "/usr/include"));
        for (String r : roots) if (Files.isRegularFile(Path.of(r, file))) return Path.of(r, file);
        return null;
    }

    @Test
    void everyDriverFunctionMatchesItsCudaHPrototype() throws IOException {
        Path h = include("cuda.h");
        Assumptions.assumeTrue(h != null, "no cuda.h (CUDA toolkit headers) on this machine");
        String text = Files.readString(h);
        for (Map.Entry<String, MemoryLayout[]> e : CudaDriver.FUNCTIONS.entrySet()) {
            String symbol = e.getKey();
            String base = symbol.replaceFirst("_v2$", "");
            if (!base.equals(symbol)) {
                Matcher d = Pattern.compile("#define\\s+" + base + "\\s+(?:__CUDA_API_PT(?:DS|SZ)\\()?(\\w+)\\)?").matcher(text);
                assertTrue(d.find(), "cuda.h does not #define " + base);
                assertEquals(symbol, d.group(1), "cuda.h maps " + base + " to");
            }
            Matcher m = Pattern.compile("CUresult CUDAAPI " + base + "\\(([^;]*?)\\);", Pattern.DOTALL).matcher(text);
            if (!m.find()) fail("cuda.h declares no " + base);
            String params = m.group(1).replaceAll("\\s+", " ").trim();
            List<String> ps = params.equals("void") || params.isEmpty() ? List.of() : List.of(params.split(","));
            MemoryLayout[] mine = e.getValue();
            assertEquals(ps.size(), mine.length, symbol + "(" + params + ")");
            for (int i = 0; i < mine.length; i++) {
                String p = ps.get(i).trim();
                assertEquals(abiClass(p), describe(mine[i]), symbol + " parameter " + i + " '" + p + "'");
            }
        }
    }

    /** The FFM layout a C parameter needs on x86-64 Linux. */
    private static String abiClass(String p) {
        if (p.contains("*")) return "address";
        String type = p.replace("const ", "").trim();
        type = type.substring(0, type.lastIndexOf(' ')).trim();
        return switch (type) {
            case "CUcontext", "CUstream", "CUmodule", "CUfunction" -> "address";
            case "CUdeviceptr", "size_t" -> "int64";
            case "unsigned int", "int", "CUdevice", "CUdevice_attribute", "CUresult" -> "int32";
            case "unsigned char" -> "int8";
            default -> throw new AssertionError("unmapped C type " + type);
        };
    }

    private static String describe(MemoryLayout l) {
        if (l instanceof java.lang.foreign.AddressLayout) return "address";
        if (l instanceof ValueLayout.OfLong) return "int64";
        if (l instanceof ValueLayout.OfInt) return "int32";
        if (l instanceof ValueLayout.OfByte) return "int8";
        return l.toString();
    }

    @Test
    void hardCodedEnumValuesAreCudaHs() throws IOException {
        Path h = include("cuda.h");
        Assumptions.assumeTrue(h != null, "no cuda.h (CUDA toolkit headers) on this machine");
        String text = Files.readString(h);
        assertEquals(CudaDriver.ATTR_MULTIPROCESSOR_COUNT, value(text, "CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT"));
        assertEquals(CudaDriver.ATTR_COMPUTE_CAPABILITY_MAJOR, value(text, "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR"));
        assertEquals(CudaDriver.ATTR_COMPUTE_CAPABILITY_MINOR, value(text, "CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR"));
        assertEquals(2, value(text, "CUDA_ERROR_OUT_OF_MEMORY"), "CudaDevice treats status 2 as out of memory");
        Path lt = include("library_types.h");
        if (lt != null) assertEquals(Cublas.CUDA_R_32F, value(Files.readString(lt), "CUDA_R_32F"));
    }

    private static int value(String text, String name) {
        Matcher m = Pattern.compile("\\b" + name + "\\s*=\\s*(\\d+)").matcher(text);
        assertTrue(m.find(), "no " + name);
        return Integer.parseInt(m.group(1));
    }
}
