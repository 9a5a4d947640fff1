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

    /**
     * Whether device index can be used on this machine (a GPU backend on the class path of a machine
     * without the GPU, its driver or its libraries says false). Must not throw.
     */
    default boolean isAvailable(int index) { return true; }

    /** Why device index is unavailable (null when it is available), for the error a use of it raises. */
    default String unavailableReason(int index) {
        return isAvailable(index) ? null : "the " + deviceType() + " backend reports device " + index + " unavailable";
    }
}
