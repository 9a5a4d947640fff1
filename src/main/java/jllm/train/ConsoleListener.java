package jllm.train;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/** Prints nanoGPT's lines: {@code step N: train loss X, val loss Y} and {@code iter N: loss X, time Tms}. */
public final class ConsoleListener implements TrainListener {
    private final PrintStream out;

    public ConsoleListener() { this(System.out); }

    public ConsoleListener(PrintStream out) { this.out = out; }

    @Override
    public void onStart(Start s) {
        out.println(s.resumed() ? "resuming at iter " + s.startIter() : "training from iter " + s.startIter());
    }

    @Override
    public void onLog(Log l) {
        out.println(String.format(Locale.ROOT, "iter %d: loss %.4f, time %.2fms, lr %.3e, %.0f tok/s",
                l.iter(), l.loss(), l.dtMillis(), l.lr(), l.tokensPerSec()));
    }

    @Override
    public void onEval(Eval e) {
        out.println(String.format(Locale.ROOT, "step %d: train loss %.4f, val loss %.4f", e.iter(), e.trainLoss(), e.valLoss()));
    }

    @Override
    public void onCheckpoint(CheckpointKind kind, Path dir, long iter) {
        out.println("saving checkpoint to " + dir);
    }

    @Override
    public void onMessage(String message) { out.println(message); }
}
