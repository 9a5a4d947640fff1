package jllm.backend.cuda;

import jllm.backend.Backend;
import jllm.backend.BackendProvider;

/**
 * The CUDA backend as a {@link BackendProvider} ({@code META-INF/services}): device type "cuda",
 * available for an index when the driver loads, the device exists, and NVRTC and cuBLAS load. Nothing
 * native is touched until availability is asked or a device is created.
 */
public final class CudaBackendProvider implements BackendProvider {
    @Override
    public String deviceType() { return "cuda"; }

    @Override
    public boolean isAvailable(int index) { return unavailableReason(index) == null; }

    @Override
    public String unavailableReason(int index) {
        String r = CudaDriver.unavailableReason();
        if (r != null) return r;
        int n = CudaDriver.get().deviceCount();
        if (index < 0 || index >= n) return "cuda:" + index + " does not exist: the CUDA driver reports " + n + " device(s)";
        r = Nvrtc.unavailableReason();
        if (r != null) return r;
        return Cublas.unavailableReason();
    }

    @Override
    public Backend create(int index) {
        String r = unavailableReason(index);
        if (r != null) throw new CudaUnavailableException("cannot use cuda:" + index + ": " + r);
        return new CudaBackend(index);
    }
}
