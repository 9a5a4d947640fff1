package jllm.autograd;

/**
 * Thread-local grad mode. {@code try (var g = Grad.off()) { ... }} runs a block without recording
 * a graph (like {@code torch.no_grad()}); the previous mode is restored on close.
 */
public final class Grad {
    private static final ThreadLocal<boolean[]> ENABLED = ThreadLocal.withInitial(() -> new boolean[] {true});

    private Grad() {}

    public static boolean isEnabled() { return ENABLED.get()[0]; }

    /** A scope with grad mode off. */
    public static Scope off() { return set(false); }

    /** A scope with grad mode on (inside an outer {@link #off()}). */
    public static Scope on() { return set(true); }

    public static Scope set(boolean enabled) {
        boolean[] cell = ENABLED.get();
        boolean prev = cell[0];
        cell[0] = enabled;
        return () -> cell[0] = prev;
    }

    /** An {@link AutoCloseable} that restores the previous grad mode and throws nothing. */
    @FunctionalInterface
    public interface Scope extends AutoCloseable {
        @Override void close();
    }
}
