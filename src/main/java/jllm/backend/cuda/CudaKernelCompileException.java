package jllm.backend.cuda;

/** NVRTC rejected a kernel source; the message holds the compiler log. */
public class CudaKernelCompileException extends RuntimeException {
    public CudaKernelCompileException(String message) { super(message); }
}
