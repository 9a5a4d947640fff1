package jllm.backend.cuda;

/** A native library (or one of its symbols) that could not be found or loaded; the message says which and why. */
public class NativeLibraryException extends RuntimeException {
    public NativeLibraryException(String message) { super(message); }

    public NativeLibraryException(String message, Throwable cause) { super(message, cause); }
}
