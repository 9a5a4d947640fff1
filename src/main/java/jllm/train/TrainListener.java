package jllm.train;

import java.nio.file.Path;

/**
 * What the {@link Trainer} reports while it runs; a progress bar, a metrics log or a plot plugs
 * in here. Every method has an empty default. Methods run on the training thread, between
 * iterations; an exception thrown by a listener stops training (the last checkpoint stays).
 */
public interface TrainListener {

    /**
     * Training starts (or resumes) at {@code startIter} and runs until {@code maxIters}.
     * {@code numParameters} counts the model's parameters.
     */
    record Start(TrainConfig config, long startIter, long maxIters, long numParameters, boolean resumed) {}

    /**
     * One logged training iteration. {@code loss} is the mean loss over the iteration's
     * micro-batches; {@code lr} the learning rate used; {@code dtMillis} the wall time of the
     * iteration's forward, backward and update (evaluation and checkpointing excluded);
     * {@code tokensPerSec} the tokens of the iteration over that time; {@code gradNorm} the total
     * gradient norm before clipping (NaN when clipping is off).
     */
    record Log(long iter, double loss, double lr, double dtMillis, double tokensPerSec, double gradNorm) {}

    /**
     * One evaluation: mean losses over eval_iters batches of each split, taken before the update of
     * iteration {@code iter} (so iter 0 is the untrained model). {@code bestValLoss} includes this
     * evaluation.
     */
    record Eval(long iter, double trainLoss, double valLoss, double lr, double bestValLoss) {}

    /** Kinds of checkpoint: the latest state, and the best validation loss so far. */
    enum CheckpointKind { LAST, BEST }

    default void onStart(Start start) {}

    default void onLog(Log log) {}

    default void onEval(Eval eval) {}

    default void onCheckpoint(CheckpointKind kind, Path dir, long iter) {}

    /** Informational lines (parameter counts, tokens per iteration, resume notes). */
    default void onMessage(String message) {}

    /** Training ended normally at {@code iter} (not called when it stopped with an exception). */
    default void onEnd(long iter, double bestValLoss) {}
}
