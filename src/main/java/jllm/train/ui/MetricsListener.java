package jllm.train.ui;

import jllm.train.TrainListener;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Appends a JSON line per logged iteration and per evaluation to {@code metrics.jsonl}; on resume
 * the lines after the resumed iteration are dropped so the file reads as one continuous run.
 */
public final class MetricsListener implements TrainListener, AutoCloseable {
    private final Path file;
    private MetricsLog log;
    private final long t0 = System.nanoTime();

    public MetricsListener(Path file) { this.file = file; }

    public Path file() { return file; }

    @Override
    public void onStart(Start s) {
        try {
            log = s.resumed() ? MetricsLog.resume(file, s.startIter()) : MetricsLog.create(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open metrics log " + file, e);
        }
    }

    @Override
    public void onLog(Log l) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("train_loss", l.loss());
        m.put("lr", l.lr());
        m.put("dt_ms", l.dtMillis());
        m.put("tokens_per_sec", l.tokensPerSec());
        if (!Double.isNaN(l.gradNorm())) m.put("grad_norm", l.gradNorm());
        m.put("time_s", (System.nanoTime() - t0) / 1e9);
        write(l.iter(), m);
    }

    @Override
    public void onEval(Eval e) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("eval_train_loss", e.trainLoss());
        m.put("val_loss", e.valLoss());
        m.put("lr", e.lr());
        m.put("time_s", (System.nanoTime() - t0) / 1e9);
        write(e.iter(), m);
    }

    private void write(long iter, Map<String, Object> m) {
        if (log == null) return;
        try {
            log.log(iter, m);
        } catch (RuntimeException e) {
            throw new IllegalStateException("cannot write metrics log " + file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void onEnd(long iter, double bestValLoss) { close(); }

    @Override
    public void close() {
        if (log == null) return;
        try {
            log.close();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot close metrics log " + file, e);
        } finally {
            log = null;
        }
    }
}
