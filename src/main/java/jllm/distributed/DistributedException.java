package jllm.distributed;

/**
 * A collective that failed or missed its deadline, ranks that disagree, or an MPI library that
 * cannot be used. The message is one line that names the rank and the operation; after one of
 * these the process group is broken and every later collective fails at once.
 */
public class DistributedException extends RuntimeException {
    public DistributedException(String message) {
        super(message);
    }

    public DistributedException(String message, Throwable cause) {
        super(message, cause);
    }
}
