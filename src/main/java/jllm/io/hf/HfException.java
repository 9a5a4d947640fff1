package jllm.io.hf;

/** A Hugging Face model directory or reference that cannot be used; the message names the file and the problem. */
public class HfException extends RuntimeException {
    public HfException(String message) { super(message); }

    public HfException(String message, Throwable cause) { super(message, cause); }
}
