package jllm.io;

/** A safetensors file or a tensor handed to the writer is malformed; the message names file and key. */
public class SafeTensorsException extends RuntimeException {
    public SafeTensorsException(String message) {
        super(message);
    }

    public SafeTensorsException(String message, Throwable cause) {
        super(message, cause);
    }
}
