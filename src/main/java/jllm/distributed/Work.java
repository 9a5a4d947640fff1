package jllm.distributed;

/**
 * The handle of a non-blocking collective, as {@code torch.distributed}'s {@code Work}: the buffer
 * it was given must not be touched until {@link #await()} returns.
 */
public interface Work {
    /** True once the operation finished (successfully or not); never blocks. */
    boolean isCompleted();

    /**
     * Blocks until the operation completes.
     *
     * @throws DistributedException if it failed or did not complete within the group's timeout
     */
    void await();

    /** A finished operation (a world of one has nothing to wait for). */
    Work DONE = new Work() {
        @Override public boolean isCompleted() { return true; }

        @Override public void await() {}
    };
}
