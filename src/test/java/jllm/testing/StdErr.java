package jllm.testing;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Captures what a piece of code prints to System.err (warnings), restoring the stream afterwards. */
public final class StdErr {
    private StdErr() {}

    @FunctionalInterface
    public interface Body {
        void run() throws Exception;
    }

    public static String capture(Body body) throws Exception {
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            body.run();
        } finally {
            System.setErr(saved);
        }
        return err.toString(StandardCharsets.UTF_8);
    }
}
