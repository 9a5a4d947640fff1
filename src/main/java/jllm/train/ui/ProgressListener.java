package jllm.train.ui;

import jllm.train.TrainListener;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Shows a training run on the terminal: a progress bar with loss, tokens/s and ETA, and one line
 * per evaluation and checkpoint printed above it (the same lines nanoGPT prints).
 */
public final class ProgressListener implements TrainListener, AutoCloseable {
    private final PrintStream out;
    private final ProgressBar.Mode mode;
    private ProgressBar bar;
    private double lastVal = Double.NaN;

    public ProgressListener(PrintStream out) { this(out, ProgressBar.Mode.AUTO); }

    public ProgressListener(PrintStream out, ProgressBar.Mode mode) {
        this.out = out;
        this.mode = mode;
    }

    @Override
    public void onStart(Start s) {
        print(String.format(Locale.ROOT, "%s at iter %d of %d (%,d parameters)", s.resumed() ? "resuming" : "training",
                s.startIter(), s.maxIters(), s.numParameters()));
        bar = ProgressBar.builder(s.maxIters()).out(out).mode(mode).startIter(s.startIter()).label("train")
                .tokensPerIter(s.config().tokensPerIter()).build();
    }

    @Override
    public void onLog(Log l) {
        if (bar != null) bar.update(l.iter() + 1, new ProgressBar.Metrics(l.loss(), lastVal, l.lr(), l.tokensPerSec()));
    }

    @Override
    public void onEval(Eval e) {
        lastVal = e.valLoss();
        print(String.format(Locale.ROOT, "step %d: train loss %.4f, val loss %.4f", e.iter(), e.trainLoss(), e.valLoss()));
    }

    @Override
    public void onCheckpoint(CheckpointKind kind, Path dir, long iter) {
        print("saved " + kind.name().toLowerCase(Locale.ROOT) + " checkpoint to " + dir);
    }

    @Override
    public void onMessage(String message) { print(message); }

    @Override
    public void onEnd(long iter, double bestValLoss) { close(); }

    private void print(String line) {
        if (bar != null) bar.println(line);
        else out.println(line);
    }

    @Override
    public void close() {
        if (bar != null) bar.close();
        bar = null;
    }
}
