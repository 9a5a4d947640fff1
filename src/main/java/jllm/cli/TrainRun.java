package jllm.cli;

import jllm.models.LanguageModel;
import jllm.nn.Module;
import jllm.train.BatchSource;
import jllm.train.Trainer;
import jllm.train.ui.LossPlot;
import jllm.train.ui.MetricsListener;
import jllm.train.ui.MetricsLog;
import jllm.train.ui.ProgressBar;
import jllm.train.ui.ProgressListener;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/** Shared by `train` and `finetune`: runs a trainer with the progress bar and metrics log, then the final eval and the loss plot. */
final class TrainRun {
    private TrainRun() {}

    /** metrics.jsonl, loss.png (null when there was nothing to plot) and the final val loss (NaN when not measured). */
    record Result(Path metrics, Path plot, double finalValLoss) {}

    static ProgressBar.Mode progressMode(String progress) {
        return switch (progress.toLowerCase(Locale.ROOT)) {
            case "auto" -> ProgressBar.Mode.AUTO;
            case "terminal" -> ProgressBar.Mode.TERMINAL;
            case "plain" -> ProgressBar.Mode.PLAIN;
            case "off" -> ProgressBar.Mode.OFF;
            default -> throw new IllegalArgumentException("--progress must be auto, terminal, plain or off, got " + progress);
        };
    }

    static <M extends Module & LanguageModel> Result fit(Trainer<M> trainer, String progress, int finalEvalIters, PrintStream out)
            throws Exception {
        Path outDir = trainer.outDir();
        Path metrics = outDir.resolve("metrics.jsonl");
        ProgressBar.Mode mode = progressMode(progress);
        if (trainer.isWriter()) {
            try (var bar = new ProgressListener(out, mode); var log = new MetricsListener(metrics)) {
                trainer.addListener(bar).addListener(log);
                long t0 = System.nanoTime();
                trainer.fit();
                out.printf(Locale.ROOT, "training took %.1f s%n", (System.nanoTime() - t0) / 1e9);
                trainer.removeListener(bar);
                trainer.removeListener(log);
            }
        } else {
            trainer.fit(); // in step with rank 0, which alone writes and prints
        }
        double finalVal = Double.NaN;
        if (finalEvalIters > 0) { // a collective when data-parallel: every rank evaluates
            finalVal = trainer.estimateLoss(BatchSource.VAL, finalEvalIters);
            out.printf(Locale.ROOT, "final val loss (%d batches): %.4f%n", finalEvalIters, finalVal);
        }
        if (!trainer.isWriter()) return new Result(metrics, null, finalVal);
        Path plot = outDir.resolve("loss.png");
        try {
            LossPlot.write(plot, MetricsLog.read(metrics));
        } catch (IllegalArgumentException e) {
            plot = null; // nothing to plot (e.g. eval_only)
        }
        return new Result(metrics, plot, finalVal);
    }
}
