package jllm.backend.cuda;

import jllm.backend.BackendProvider;
import jllm.backend.Backends;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** How the CUDA backend is found, and how it says no on a machine that cannot run it. */
class CudaDiscoveryTest {
    @Test
    void theProviderIsRegisteredBesideTheCpuOne() {
        boolean cpu = false, cuda = false;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            cpu |= p.deviceType().equals("cpu");
            cuda |= p instanceof CudaBackendProvider && p.deviceType().equals("cuda");
        }
        assertTrue(cpu && cuda, "both providers listed in META-INF/services");
        assertTrue(Backends.isAvailable(Device.CPU));
        assertTrue(new jllm.backend.cpu.CpuBackendProvider().isAvailable(-1));
    }

    @Test
    void withoutAGpuCudaIsUnavailableAndSaysWhy() {
        Assumptions.assumeFalse(CudaDriver.isAvailable(), "a CUDA driver and device are present: the no-GPU behaviour cannot be checked here");
        String reason = CudaDriver.unavailableReason();
        assertNotNull(reason);
        Device cuda0 = Device.parse("cuda:0");
        assertFalse(Backends.isAvailable(cuda0));
        assertFalse(Backends.isAvailable(Device.parse("cuda")));
        assertFalse(new CudaBackendProvider().isAvailable(0));
        assertEquals(reason, new CudaBackendProvider().unavailableReason(0));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Backends.get(cuda0));
        assertTrue(e.getMessage().contains("cuda:0") && e.getMessage().contains(reason), e.getMessage());
        IllegalStateException viaTensor = assertThrows(IllegalStateException.class, () -> Tensor.zeros(new int[] {2}, DType.F32, cuda0));
        assertTrue(viaTensor.getMessage().contains(reason), viaTensor.getMessage());
        assertThrows(IllegalStateException.class, () -> Tensor.of(new float[] {1, 2}).to("cuda"));
        CudaUnavailableException direct = assertThrows(CudaUnavailableException.class, () -> new CudaBackendProvider().create(0));
        assertTrue(direct.getMessage().contains(reason), direct.getMessage());
        assertThrows(CudaUnavailableException.class, CudaDriver::get);
    }

    @Test
    void withoutLibcudaTheReasonNamesTheLibrary() {
        Assumptions.assumeFalse(CudaDriver.isAvailable(), "a CUDA driver is present");
        Assumptions.assumeFalse(libcudaInstalled(), "libcuda.so.1 exists here (the driver is present but reports no device)");
        String reason = CudaDriver.unavailableReason();
        assertTrue(reason.contains("libcuda.so.1") && reason.contains("JLLM_CUDA_LIBS"), reason);
    }

    private static boolean libcudaInstalled() {
        try {
            java.lang.foreign.SymbolLookup.libraryLookup("libcuda.so.1", java.lang.foreign.Arena.global());
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    @Test
    void withAGpuDevicesAreNumberedFromTheDriver() {
        Assumptions.assumeTrue(CudaDriver.isAvailable(), "no CUDA driver/device: " + CudaDriver.unavailableReason());
        int n = CudaDriver.get().deviceCount();
        assertTrue(n >= 1);
        CudaBackendProvider p = new CudaBackendProvider();
        assertFalse(p.isAvailable(n));
        assertTrue(p.unavailableReason(n).contains("does not exist"), p.unavailableReason(n));
        assertFalse(Backends.isAvailable(Device.cuda(n)));
        Assumptions.assumeTrue(p.isAvailable(0), "cuda:0 unusable: " + p.unavailableReason(0));
        assertTrue(Backends.isAvailable(Device.cuda(0)));
        assertEquals(Device.cuda(0), Backends.get(Device.cuda(0)).device());
    }
}
