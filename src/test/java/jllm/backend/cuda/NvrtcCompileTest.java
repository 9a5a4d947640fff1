package jllm.backend.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kernels through NVRTC itself, as the backend compiles them (no GPU is needed to compile): runs
 * where libnvrtc is found (the toolkit, or JLLM_CUDA_LIBS pointing at e.g. the nvidia-cuda-nvrtc wheel's
 * lib directory), skipped with the reason elsewhere.
 */
class NvrtcCompileTest {
    @BeforeEach
    void needsNvrtc() {
        String reason = Nvrtc.unavailableReason();
        Assumptions.assumeTrue(reason == null, () -> "NVRTC is not available here: " + reason);
    }

    @Test
    void everyKernelFileCompilesToACubinForHopperAndAmpere() {
        Nvrtc nvrtc = Nvrtc.get();
        for (int[] cc : new int[][] {{9, 0}, {8, 0}}) {
            for (String file : KernelSources.FILES) {
                byte[] cubin = nvrtc.compile(file, KernelSources.source(file), cc[0], cc[1], List.of());
                assertTrue(cubin.length > 4 && cubin[0] == 0x7f && cubin[1] == 'E' && cubin[2] == 'L' && cubin[3] == 'F',
                        file + " for sm_" + cc[0] + cc[1] + ": not an ELF cubin");
                String text = new String(cubin, StandardCharsets.ISO_8859_1);
                for (String k : KernelSources.kernelNames(file)) {
                    assertTrue(text.contains(k + "\0"), file + ": the cubin has no symbol " + k);
                }
            }
        }
    }

    @Test
    void aCompileErrorCarriesTheCompilerLog() {
        CudaKernelCompileException e = assertThrows(CudaKernelCompileException.class,
                () -> Nvrtc.get().compile("broken.cu", "extern \"C\" __global__ void k(float* x) { x[0] = no_such_function(); }", 9, 0, List.of()));
        assertTrue(e.getMessage().contains("no_such_function") && e.getMessage().contains("broken.cu")
                && e.getMessage().contains("NVRTC_ERROR_COMPILATION"), e.getMessage());
    }
}
