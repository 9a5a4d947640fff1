package jllm.backend.cuda;

/**
 * A native call that returned an error status: names the library, the call, the numeric status and
 * the library's own name for it (e.g. {@code cuMemAlloc_v2 failed: CUDA_ERROR_OUT_OF_MEMORY (2)}).
 */
public class NativeCallException extends RuntimeException {
    private final String library;
    private final String call;
    private final int code;
    private final String errorName;

    public NativeCallException(String library, String call, int code, String errorName) {
        super(call + " failed: " + errorName + " (" + code + ") [" + library + "]");
        this.library = library;
        this.call = call;
        this.code = code;
        this.errorName = errorName;
    }

    public String library() { return library; }

    public String call() { return call; }

    public int code() { return code; }

    public String errorName() { return errorName; }
}
