package jllm.backend.cuda;

/**
 * The device could not supply memory even after the allocator released its cache; the message gives
 * requested, reserved and free bytes. A RuntimeException (as PyTorch's torch.cuda.OutOfMemoryError is a
 * RuntimeError), not a java.lang.OutOfMemoryError: the JVM heap is fine and callers may free and retry.
 */
public class CudaOutOfMemoryError extends RuntimeException {
    private final long requestedBytes, reservedBytes, freeBytes;

    public CudaOutOfMemoryError(String message, long requestedBytes, long reservedBytes, long freeBytes) {
        super(message);
        this.requestedBytes = requestedBytes;
        this.reservedBytes = reservedBytes;
        this.freeBytes = freeBytes;
    }

    public long requestedBytes() { return requestedBytes; }

    public long reservedBytes() { return reservedBytes; }

    /** -1 when the device did not say. */
    public long freeBytes() { return freeBytes; }
}
