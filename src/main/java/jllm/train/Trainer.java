package jllm.train;

import jllm.data.Batch;

import jllm.autograd.Grad;
import jllm.distributed.DistributedDataParallel;
import jllm.distributed.ProcessGroup;
import jllm.distributed.ZeroRedundancyOptimizer;
import jllm.models.LanguageModel;
import jllm.nn.Module;
import jllm.optim.AdamW;
import jllm.optim.ClipGrad;
import jllm.optim.Optimizer;
import jllm.optim.ParamGroup;
import jllm.optim.lr.WarmupCosine;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * nanoGPT's training loop ({@code train.py}) for any {@link LanguageModel} that is a
 * {@link Module}:
 * <pre>{@code
 * Generator.manualSeed(cfg.seed());          // before building the model: init and dropout
 * var model = new MyModel(...);
 * var trainer = new Trainer<>(cfg, model, batches).addListener(new ConsoleListener());
 * trainer.fit();
 * }</pre>
 *
 * <p>Each iteration: set the learning rate ({@code get_lr} when {@code decay_lr}); every
 * {@code eval_interval} iterations (and at iteration 0 and at the end) estimate train and val
 * loss with the model in eval mode and grad off, then write {@code ckpt_last} and, when val loss
 * improved, {@code ckpt_best}; run {@code gradient_accumulation_steps} micro-batches, each
 * backward on {@code loss / steps}; clip the gradient norm to {@code grad_clip} when it is
 * positive; AdamW step (weight decay only on parameters with dim &gt;= 2); drop the grads.
 *
 * <p>Where this differs from nanoGPT, on purpose:
 * <ul>
 *   <li>It runs iterations {@code 0 .. max_iters-1} and evaluates once more at {@code max_iters}
 *       (nanoGPT runs one extra update and evaluates at max_iters only when it is a multiple of
 *       eval_interval).</li>
 *   <li>Batches are fetched when needed, not prefetched, so resuming needs no saved batch.</li>
 *   <li>The logged loss is the mean over micro-batches (nanoGPT logs the last one, scaled).</li>
 *   <li>Checkpoints: {@code ckpt_last} every evaluation after iteration 0 (when
 *       {@code always_save_checkpoint}; otherwise only {@code ckpt_best} is written, which is
 *       nanoGPT's behaviour with the flag off), and {@code ckpt_best} whenever val loss beats the
 *       best so far; {@code best_val_loss} is the true minimum (nanoGPT overwrites it with every
 *       val loss when always_save_checkpoint is on).</li>
 *   <li>A resumed run does not repeat the evaluation at its start iteration (the checkpoint was
 *       written right after it), so it continues bit for bit as if never interrupted.</li>
 *   <li>Batches are drawn with a generator of their own, seeded with {@code seed} (plus the rank
 *       when data-parallel); the default generator (initialisation, dropout) is the caller's to
 *       seed. Both are checkpointed, for every rank.</li>
 * </ul>
 *
 * <p>Extension points ({@link Extensions}): the process group (data-parallel training; only its
 * rank 0 is the {@linkplain #isWriter() writer} that saves checkpoints and tells the listeners), an
 * optimizer factory, and a hook around each micro-step's backward that knows whether it is the last
 * one of the iteration (where DDP synchronises). {@link #dataParallel} wires DDP into all three.
 * With {@code zero_stage=1} and more than one rank, the factory's optimizer is wrapped in a
 * {@link ZeroRedundancyOptimizer} (ZeRO-1: each rank keeps the optimizer state of its share of the
 * parameters); checkpoints gather its state to rank 0 and are the same files as without it.
 *
 * <p>Data-parallel semantics are nanoGPT's: {@code gradient_accumulation_steps} and
 * {@code batch_size} describe the whole world's iteration, which {@link TrainConfig#share} splits
 * among the ranks; tokens per iteration are the world's; evaluation losses and the logged loss are
 * averaged over the ranks.
 */
public final class Trainer<M extends Module & LanguageModel> {
    private static final double INITIAL_BEST_VAL_LOSS = 1e9; // nanoGPT's

    private final TrainConfig config;
    private final M model;
    private final BatchSource data;
    private final Generator batchGenerator;
    private final Optimizer optimizer;
    private final ProcessGroup group;
    private final BackwardHook backwardHook;
    private final TrainConfig.Share share;
    private final List<TrainListener> listeners = new CopyOnWriteArrayList<>();
    private final List<String> optimizerReport = new ArrayList<>();
    private Checkpoint.Hook checkpointHook = step -> {};

    private long iterNum;
    private double bestValLoss = INITIAL_BEST_VAL_LOSS;
    private boolean resumed;

    /** Runs one micro-step's backward on {@code loss} (already divided by the micro-step count). */
    @FunctionalInterface
    public interface BackwardHook {
        BackwardHook PLAIN = (loss, microStep, lastMicroStep) -> loss.backward();

        void backward(Tensor loss, int microStep, boolean lastMicroStep);
    }

    /** Makes the optimizer for the model's trainable parameters; {@code report} takes lines for the log. */
    @FunctionalInterface
    public interface OptimizerFactory {
        OptimizerFactory ADAMW = (model, c, report) -> configureOptimizers(model, c.weightDecay(), c.learningRate(), c.beta1(), c.beta2(), report);

        Optimizer create(Module model, TrainConfig config, Consumer<String> report);
    }

    /** How a trainer plugs into the rest of a run; {@link #DEFAULT} is one process, nanoGPT's AdamW, a plain backward. */
    public record Extensions(ProcessGroup group, OptimizerFactory optimizer, BackwardHook backward) {
        public static final Extensions DEFAULT = new Extensions(ProcessGroup.single(), OptimizerFactory.ADAMW, BackwardHook.PLAIN);

        public Extensions {
            Objects.requireNonNull(group, "group");
            Objects.requireNonNull(optimizer, "optimizer");
            Objects.requireNonNull(backward, "backward");
        }

        public Extensions withGroup(ProcessGroup g) { return new Extensions(g, optimizer, backward); }

        public Extensions withOptimizer(OptimizerFactory f) { return new Extensions(group, f, backward); }

        public Extensions withBackward(BackwardHook h) { return new Extensions(group, optimizer, h); }
    }

    public Trainer(TrainConfig config, M model, BatchSource data) {
        this(config, model, data, Extensions.DEFAULT);
    }

    public Trainer(TrainConfig config, M model, BatchSource data, Extensions ext) {
        this.config = Objects.requireNonNull(config, "config");
        this.model = Objects.requireNonNull(model, "model");
        this.data = Objects.requireNonNull(data, "data");
        Objects.requireNonNull(ext, "extensions");
        if (config.blockSize() > model.blockSize()) {
            throw new IllegalArgumentException("config block_size " + config.blockSize() + " exceeds the model's block size " + model.blockSize());
        }
        this.group = ext.group();
        this.backwardHook = ext.backward();
        this.share = config.share(group.worldSize());
        this.batchGenerator = new Generator(config.seed() + group.rank());
        Optimizer opt = Objects.requireNonNull(ext.optimizer().create(model, config, optimizerReport::add), "optimizer factory returned null");
        if (config.zeroStage() == 1 && group.worldSize() > 1 && !(opt instanceof ZeroRedundancyOptimizer)) {
            // here rather than in dataParallel, so that zero_stage holds for any optimizer factory
            ZeroRedundancyOptimizer zero = new ZeroRedundancyOptimizer(opt, group);
            long mine = 0, all = 0;
            for (Tensor p : zero.localParameters()) mine += p.numel();
            for (ParamGroup g : opt.paramGroups()) for (Tensor p : g.params()) all += p.numel();
            optimizerReport.add(String.format(Locale.ROOT, "ZeRO-1: optimizer state sharded across %d ranks (rank %d keeps %,d of %,d parameters' state)",
                    group.worldSize(), group.rank(), mine, all));
            opt = zero;
        }
        this.optimizer = opt;
    }

    /**
     * A trainer whose model is replicated over {@code group} with {@link DistributedDataParallel}
     * (rank 0's weights are broadcast; gradients are averaged during the last micro-step's
     * backward); with a world of one it is a plain trainer. {@code data} must already be this
     * rank's share ({@link TrainConfig#share}); the config must be equal on every rank (checked).
     * With {@code zero_stage=1} the optimizer is wrapped in a {@link ZeroRedundancyOptimizer} (the
     * constructor does it, for any trainer whose process group has more than one rank).
     */
    public static <M extends Module & LanguageModel> Trainer<M> dataParallel(TrainConfig config, M model, BatchSource data,
                                                                             ProcessGroup group) {
        Extensions ext = Extensions.DEFAULT.withGroup(group);
        if (group.worldSize() > 1) {
            group.verifySame("the training config", config.toJson());
            DistributedDataParallel<M> ddp = new DistributedDataParallel<>(model, group);
            ext = ext.withBackward((loss, micro, last) -> ddp.backward(loss, last));
        }
        return new Trainer<>(config, model, data, ext);
    }

    public Trainer<M> addListener(TrainListener listener) {
        listeners.add(Objects.requireNonNull(listener, "listener"));
        return this;
    }

    public boolean removeListener(TrainListener listener) { return listeners.remove(listener); }

    public TrainConfig config() { return config; }

    public M model() { return model; }

    public Optimizer optimizer() { return optimizer; }

    public ProcessGroup processGroup() { return group; }

    /** True on the rank that writes checkpoints and tells the listeners (rank 0). */
    public boolean isWriter() { return group.rank() == 0; }

    /** This rank's micro-steps and batch size per iteration. */
    public TrainConfig.Share share() { return share; }

    /** The generator batches are drawn with (seeded with config.seed). */
    public Generator batchGenerator() { return batchGenerator; }

    /** The next iteration to run. */
    public long iterNum() { return iterNum; }

    public double bestValLoss() { return bestValLoss; }

    public Path outDir() { return Path.of(config.outDir()); }

    /** Test hook for checkpoint writes (fault injection). */
    void checkpointHook(Checkpoint.Hook hook) { this.checkpointHook = hook; }

    // ------------------------------------------------------------------ optimizer and schedule

    /**
     * nanoGPT's {@code configure_optimizers}: parameters that require grad go to two AdamW groups,
     * those with dim &gt;= 2 (matmul weights, embeddings) with {@code weightDecay}, the others
     * (biases, norms) without. Both groups always exist (one may be empty), so checkpoints of
     * different models share a layout. The counts are reported as nanoGPT prints them.
     */
    public static AdamW configureOptimizers(Module model, double weightDecay, double learningRate, double beta1, double beta2,
                                            Consumer<String> report) {
        List<Tensor> decay = new ArrayList<>(), noDecay = new ArrayList<>();
        long nDecay = 0, nNoDecay = 0;
        for (Tensor p : model.namedParameters().values()) {
            if (!p.requiresGrad()) continue;
            if (p.dim() >= 2) {
                decay.add(p);
                nDecay += p.numel();
            } else {
                noDecay.add(p);
                nNoDecay += p.numel();
            }
        }
        if (decay.isEmpty() && noDecay.isEmpty()) throw new IllegalArgumentException("the model has no trainable parameters");
        report.accept(String.format(Locale.ROOT, "num decayed parameter tensors: %d, with %,d parameters", decay.size(), nDecay));
        report.accept(String.format(Locale.ROOT, "num non-decayed parameter tensors: %d, with %,d parameters", noDecay.size(), nNoDecay));
        return new AdamW(List.of(new ParamGroup(decay).weightDecay(weightDecay), new ParamGroup(noDecay).weightDecay(0.0)),
                learningRate, beta1, beta2, AdamW.DEFAULT_EPS, weightDecay, false);
    }

    /** The learning rate of iteration {@code it}: nanoGPT's get_lr when decay_lr, else learning_rate. */
    public static double lr(TrainConfig c, long it) {
        return c.decayLr() ? WarmupCosine.lr(it, c.learningRate(), c.minLr(), c.warmupIters(), c.lrDecayIters()) : c.learningRate();
    }

    // ------------------------------------------------------------------ evaluation

    /** Mean losses of one evaluation. */
    public record Losses(double train, double val) {}

    /**
     * nanoGPT's {@code estimate_loss}: model in eval mode (no dropout), grad off, the mean loss of
     * eval_iters batches of each split; the model's previous mode is restored.
     */
    public Losses estimateLoss() {
        boolean wasTraining = model.isTraining();
        model.eval();
        try (var g = Grad.off()) {
            double[] l = averageOverRanks(meanLoss(BatchSource.TRAIN, config.evalIters()), meanLoss(BatchSource.VAL, config.evalIters()));
            return new Losses(l[0], l[1]);
        } finally {
            model.train(wasTraining);
        }
    }

    /** The mean loss of {@code iters} batches of one split, in eval mode without grad (e.g. a final 200-batch val loss). */
    public double estimateLoss(String split, int iters) {
        boolean wasTraining = model.isTraining();
        model.eval();
        try (var g = Grad.off()) {
            return averageOverRanks(meanLoss(split, iters))[0];
        } finally {
            model.train(wasTraining);
        }
    }

    private double meanLoss(String split, int iters) {
        // float32 accumulation as torch.zeros(eval_iters).mean() does; summed in order
        float[] losses = new float[iters];
        for (int k = 0; k < losses.length; k++) {
            Batch b = batch(split);
            losses[k] = (float) lossOf(model.forward(b.x(), b.y()), split).item();
        }
        double sum = 0;
        for (float l : losses) sum += l;
        return (float) (sum / losses.length);
    }

    /** The mean over the ranks of each value, in float32 as the losses are (unchanged in a world of one). */
    private double[] averageOverRanks(double... values) {
        if (group.worldSize() == 1) return values;
        float[] f = new float[values.length];
        for (int i = 0; i < f.length; i++) f[i] = (float) values[i];
        Tensor t = Tensor.of(f, f.length);
        group.allReduce(t, ProcessGroup.Op.AVG);
        float[] avg = t.toFloatArray();
        double[] out = new double[avg.length];
        for (int i = 0; i < out.length; i++) out[i] = avg[i];
        return out;
    }

    private Batch batch(String split) {
        Batch b = data.get(split, batchGenerator);
        if (b == null) throw new IllegalStateException("batch source returned null for split '" + split + "'");
        return b;
    }

    private static Tensor lossOf(LanguageModel.Output out, String split) {
        if (out == null || out.loss() == null) {
            throw new IllegalStateException("model returned no loss for a '" + split + "' batch with targets");
        }
        return out.loss();
    }

    // ------------------------------------------------------------------ training

    /**
     * One iteration's forward and backward passes without the update: this rank's micro-batches
     * ({@link #share()}), each backward on {@code loss / steps} through the backward hook,
     * accumulating into the parameters' grads. Returns this rank's mean micro-batch loss and the
     * number of tokens it saw.
     */
    public StepLoss accumulateGradients() {
        int steps = share.microSteps();
        double lossSum = 0;
        long tokens = 0;
        for (int micro = 0; micro < steps; micro++) {
            Batch b = batch(BatchSource.TRAIN);
            Tensor loss = lossOf(model.forward(b.x(), b.y()), BatchSource.TRAIN);
            lossSum += loss.item();
            tokens += b.x().numel();
            backwardHook.backward(steps == 1 ? loss : loss.div(steps), micro, micro == steps - 1);
        }
        return new StepLoss(lossSum / steps, tokens);
    }

    /** The result of {@link #accumulateGradients()}. */
    public record StepLoss(double loss, long tokens) {}

    /**
     * Runs (or, with init_from=resume, continues) training until max_iters; see the class comment.
     * Returns the final evaluation (null when max_iters was already reached on resume).
     */
    public Losses fit() throws IOException {
        if (TrainConfig.RESUME.equals(config.initFrom()) && !resumed) resume();
        long startIter = iterNum;
        long skipEvalAt = resumed ? startIter : -1; // the checkpoint was written right after that evaluation
        for (String line : optimizerReport) message(line);
        message(String.format(Locale.ROOT, "tokens per iteration will be: %,d", config.tokensPerIter())
                + (group.worldSize() > 1 ? String.format(Locale.ROOT, " (%d ranks x %d micro-steps x %d sequences x %d tokens)",
                group.worldSize(), share.microSteps(), share.batchSize(), config.blockSize()) : ""));
        for (TrainListener l : writerListeners()) {
            l.onStart(new TrainListener.Start(config, startIter, config.maxIters(), model.numParameters(), resumed));
        }
        model.train();
        optimizer.zeroGrad();
        Losses last = null;
        while (true) {
            double lr = lr(config, iterNum);
            for (ParamGroup g : optimizer.paramGroups()) g.lr(lr);

            boolean evalNow = (iterNum % config.evalInterval() == 0 || iterNum == config.maxIters()) && iterNum != skipEvalAt;
            if (evalNow || config.evalOnly()) {
                last = estimateLoss();
                boolean improved = last.val() < bestValLoss;
                if (improved) bestValLoss = last.val();
                for (TrainListener l : writerListeners()) {
                    l.onEval(new TrainListener.Eval(iterNum, last.train(), last.val(), lr, bestValLoss));
                }
                if (iterNum > 0 && !config.evalOnly()) {
                    if (config.alwaysSaveCheckpoint()) save(Checkpoint.LAST, TrainListener.CheckpointKind.LAST);
                    if (improved) save(Checkpoint.BEST, TrainListener.CheckpointKind.BEST);
                }
            }
            if (config.evalOnly() || iterNum >= config.maxIters()) break;

            long t0 = System.nanoTime();
            StepLoss step = accumulateGradients();
            double gradNorm = config.gradClip() != 0.0 ? ClipGrad.clipGradNorm(model.parameters(), config.gradClip()) : Double.NaN;
            optimizer.step();
            optimizer.zeroGrad();
            double dt = (System.nanoTime() - t0) / 1e9;

            if (iterNum % config.logInterval() == 0) {
                double loss = averageOverRanks(step.loss())[0];
                long tokens = step.tokens() * group.worldSize();
                var log = new TrainListener.Log(iterNum, loss, lr, dt * 1e3, dt > 0 ? tokens / dt : Double.NaN, gradNorm);
                for (TrainListener l : writerListeners()) l.onLog(log);
            }
            iterNum++;
        }
        for (TrainListener l : writerListeners()) l.onEnd(iterNum, bestValLoss);
        return last;
    }

    /** The listeners, on the writer; nobody elsewhere (one progress bar, one metrics log for the whole world). */
    private List<TrainListener> writerListeners() {
        return isWriter() ? listeners : List.of();
    }

    private void message(String s) {
        for (TrainListener l : writerListeners()) l.onMessage(s);
    }

    // ------------------------------------------------------------------ checkpoints

    /**
     * The trainer's state as it would be checkpointed now. Data-parallel, this is a collective (call
     * it on every rank): the generator states of every rank are gathered, rank 0's under the plain
     * names and rank r's as {@code rank<r>.default} / {@code rank<r>.batch}, and a stateful batch
     * source's positions as {@code data_state.ranks[r]}, so that each rank resumes its own streams.
     */
    public Checkpoint.State state() {
        Map<String, long[]> rng = new LinkedHashMap<>();
        long[] def = Generator.defaultGenerator().getState(), bat = batchGenerator.getState();
        rng.put(Checkpoint.RNG_DEFAULT, def);
        rng.put(Checkpoint.RNG_BATCH, bat);
        Map<String, Object> dataState = data.stateDict();
        int world = group.worldSize();
        if (world > 1) {
            long[][] defs = gather(def, "the default generator states"), bats = gather(bat, "the batch generator states");
            for (int r = 1; r < world; r++) {
                rng.put(rankKey(r, Checkpoint.RNG_DEFAULT), defs[r]);
                rng.put(rankKey(r, Checkpoint.RNG_BATCH), bats[r]);
            }
            List<Map<String, Object>> positions = RankStates.gatherJson(group, dataState, "the data positions");
            dataState = positions.stream().allMatch(Map::isEmpty) ? Map.of() : Map.of(DATA_RANKS, positions);
        }
        return new Checkpoint.State(iterNum, bestValLoss, rng, dataState);
    }

    private static final String DATA_RANKS = "ranks";

    static String rankKey(int rank, String name) {
        return rank == 0 ? name : "rank" + rank + "." + name;
    }

    private long[][] gather(long[] state, String what) {
        byte[] all = group.allGatherBytes(RankStates.toBytes(state), "all-gather of " + what);
        return RankStates.fromBytes(all, group.worldSize(), state.length);
    }

    /**
     * Writes a checkpoint of the current state to {@code out_dir/name} (rank 0 only; on the other
     * ranks this only takes part in gathering the state, and with ZeRO the optimizer state). Returns
     * the directory.
     */
    public Path save(String name) throws IOException {
        Path dir = outDir().resolve(name);
        Checkpoint.State st = state();
        // a sharded optimizer's state is gathered to rank 0, which then writes it as an unsharded one would
        ZeroRedundancyOptimizer zero = optimizer instanceof ZeroRedundancyOptimizer z ? z : null;
        if (zero != null) zero.consolidateStateDict();
        try {
            if (isWriter()) Checkpoint.save(dir, config, model, optimizer, st, checkpointHook);
        } finally {
            if (zero != null) zero.releaseConsolidatedStateDict(); // rank 0 keeps only its share again
        }
        return dir;
    }

    private void save(String name, TrainListener.CheckpointKind kind) throws IOException {
        Path dir = save(name);
        for (TrainListener l : writerListeners()) l.onCheckpoint(kind, dir, iterNum);
    }

    /**
     * The checkpoint to resume from in {@code outDir}: of ckpt_last and ckpt_best, the complete one
     * with the higher iter_num (ckpt_last on a tie); null when there is none.
     */
    public static Path latestCheckpoint(Path outDir) throws IOException {
        Path best = null;
        long bestIter = -1;
        for (String name : List.of(Checkpoint.LAST, Checkpoint.BEST)) {
            Path dir = Checkpoint.readable(outDir.resolve(name)); // read-only: only the writer's save repairs
            if (dir == null) continue;
            long it = Checkpoint.readState(dir).iterNum();
            if (it > bestIter) {
                best = dir;
                bestIter = it;
            }
        }
        return best;
    }

    /** Resumes from the latest checkpoint in out_dir (see {@link #latestCheckpoint}). */
    public void resume() throws IOException {
        Path dir = latestCheckpoint(outDir());
        if (dir == null) {
            throw new NoSuchFileException(outDir().resolve(Checkpoint.LAST).toString(), null,
                    "init_from=resume but " + outDir() + " holds no complete checkpoint (" + Checkpoint.LAST + " or " + Checkpoint.BEST + ")");
        }
        resume(dir);
    }

    /**
     * Loads model weights, optimizer state, iteration, best val loss, generator states and data
     * position from a checkpoint directory; the next {@link #fit()} continues from there. Each rank
     * takes its own generator states and data position; a rank the checkpoint has none for (it was
     * written by fewer ranks) starts its streams afresh from {@code seed + rank}, with a message.
     */
    public void resume(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) throw new NoSuchFileException(dir.toString(), null, "no checkpoint directory");
        Checkpoint.State st = Checkpoint.readState(dir);
        int rank = group.rank();
        if (st.rngStates().get(Checkpoint.RNG_DEFAULT) == null || st.rngStates().get(Checkpoint.RNG_BATCH) == null) {
            throw new IllegalArgumentException(dir.resolve(Checkpoint.STATE) + ": rng_states must have '" + Checkpoint.RNG_DEFAULT
                    + "' and '" + Checkpoint.RNG_BATCH + "', got " + st.rngStates().keySet());
        }
        long[] def = st.rngStates().get(rankKey(rank, Checkpoint.RNG_DEFAULT)), bat = st.rngStates().get(rankKey(rank, Checkpoint.RNG_BATCH));
        // validate the generator states before anything changes
        try {
            if (def != null) new Generator().setState(def);
            if (bat != null) new Generator().setState(bat);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(dir.resolve(Checkpoint.STATE) + ": " + e.getMessage(), e);
        }
        Map<String, Object> dataState = st.dataState();
        if (group.worldSize() > 1 || dataState.containsKey(DATA_RANKS)) dataState = RankStates.rankEntry(dataState, DATA_RANKS, rank, dir);
        Checkpoint.load(dir, model, optimizer);
        data.loadStateDict(dataState);
        if (def != null && bat != null) {
            Generator.defaultGenerator().setState(def);
            batchGenerator.setState(bat);
        } else {
            Generator.defaultGenerator().seed(config.seed() + rank);
            batchGenerator.seed(config.seed() + rank);
            message("the checkpoint has no random state for rank " + rank + " (it was written by fewer ranks): its streams start afresh");
        }
        iterNum = st.iterNum();
        bestValLoss = st.bestValLoss();
        resumed = true;
        message("resuming training from " + dir + " at iter " + iterNum + " (best val loss " + bestValLoss + ")");
    }

    /**
     * nanoGPT's {@code init_from='resume'} for a config: the model section comes from the latest
     * checkpoint in out_dir (the rest of the config stays as given), so the same model is rebuilt.
     *
     * @throws IllegalArgumentException when out_dir holds no checkpoint
     */
    public static TrainConfig resumeConfig(TrainConfig cfg, Consumer<String> report) throws IOException {
        Path latest = latestCheckpoint(Path.of(cfg.outDir()));
        if (latest == null) {
            throw new IllegalArgumentException("nothing to resume: no complete checkpoint in " + cfg.outDir()
                    + Checkpoint.incompleteIn(Path.of(cfg.outDir())));
        }
        report.accept("resuming from " + latest + " (model settings taken from the checkpoint)");
        return cfg.withModel(Checkpoint.readConfig(latest).model());
    }
}
