package jllm.backend.cpu;

import jllm.backend.Backend;
import jllm.backend.BackendProvider;

/** The CPU backend as a {@link BackendProvider}: one instance for every index. */
public final class CpuBackendProvider implements BackendProvider {
    @Override
    public String deviceType() { return "cpu"; }

    @Override
    public Backend create(int index) { return CpuBackend.INSTANCE; }
}
