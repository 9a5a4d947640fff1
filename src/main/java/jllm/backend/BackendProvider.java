package jllm.backend;

/**
 * A device type's backend, found with {@link java.util.ServiceLoader}: a jar that implements a
 * device (CUDA) lists its provider in {@code META-INF/services/jllm.backend.BackendProvider} and
 * is on the class path; nothing in jllm names it.
 */
public interface BackendProvider {
    /** The device type it runs: "cpu", "cuda". */
    String deviceType();

    /** The backend of device index (-1 for a device type without indices, as cpu). */
    Backend create(int index);
}
