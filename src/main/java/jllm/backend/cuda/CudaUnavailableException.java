package jllm.backend.cuda;

/** CUDA was asked for where it cannot run: no driver library, no device, or an index past the devices; the message says which. */
public class CudaUnavailableException extends IllegalStateException {
    public CudaUnavailableException(String message) { super(message); }

    public CudaUnavailableException(String message, Throwable cause) { super(message, cause); }
}
