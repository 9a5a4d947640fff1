package jllm.cli;

import jllm.distributed.ProcessGroup;
import jllm.generate.TextGenerator;
import jllm.generate.TextStream;
import jllm.models.LanguageModel;
import jllm.models.ModelFactory;
import jllm.nn.Module;
import jllm.tensor.Generator;
import jllm.train.Checkpoint;
import jllm.train.OutDirLock;
import jllm.train.Presets;
import jllm.train.SavedModel;
import jllm.train.TrainConfig;
import jllm.train.TrainData;
import jllm.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * {@code jllm train}: nanoGPT's train.py. With no arguments it runs the CPU recipe on the bundled
 * Tiny Shakespeare, reports the final validation loss over 200 batches, and prints a sample.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a GPT (default: nanoGPT's CPU recipe with learning rate 2e-3, on the bundled Tiny Shakespeare), then print a sample.",
                "Presets: shakespeare-char-cpu (default), shakespeare-char, seed003, gpt2-shakespeare.",
                "Data-parallel: --nproc N on this machine, or mpirun -np N [--hostfile HOSTS] ./jllm train ... across machines."})
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--preset", description = "A bundled recipe (default: ${DEFAULT-VALUE}).")
    String preset = Presets.DEFAULT;

    @Option(names = "--config", description = "A JSON config applied on top of the preset (nanoGPT's key names, snake_case; a \"model\" object).")
    Path config;

    @Option(names = "--set", description = "key=value overrides applied last, e.g. --set max_iters=500 --set model.n_layer=2 (repeatable).")
    List<String> sets = new ArrayList<>();

    @Option(names = "--resume", description = "Continue from the latest checkpoint in out_dir (same as --set init_from=resume).")
    boolean resume;

    @Option(names = "--final-eval-iters", description = "Validation batches for the final loss report (default: ${DEFAULT-VALUE}).")
    int finalEvalIters = 200;

    @Option(names = "--sample-tokens", description = "Length of the sample printed at the end (default: ${DEFAULT-VALUE}; 0 = none).")
    int sampleTokens = 500;

    @Option(names = "--progress", description = "Progress display: auto, terminal, plain or off (default: ${DEFAULT-VALUE}).")
    String progress = "auto";

    @Option(names = "--nproc", description = "Data-parallel ranks on this machine: relaunches this command under `mpirun -np N` "
            + "(Open MPI). Across machines run `mpirun -np N --hostfile HOSTS ./jllm train ...` instead (default: ${DEFAULT-VALUE}).")
    int nproc = 1;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        CliErrors.check(spec, finalEvalIters >= 0, "--final-eval-iters must be >= 0, got " + finalEvalIters);
        CliErrors.check(spec, sampleTokens >= 0, "--sample-tokens must be >= 0, got " + sampleTokens);
        CliErrors.usage(spec, () -> TrainRun.progressMode(progress));
        if (DataParallel.shouldLaunch(spec, nproc)) return DataParallel.launch(nproc, "train", spec.commandLine().getParseResult().originalArgs(), progress);
        TrainConfig cfg = config();
        return DataParallel.run("train", cfg, System.out, (group, out) -> train(cfg, group, out));
    }

    /** The run's config: the preset, then --config, then the --set overrides, then --resume. */
    TrainConfig config() throws java.io.IOException {
        TrainConfig cfg = Presets.load(preset);
        if (config != null) cfg = TrainConfig.load(config, cfg);
        cfg = cfg.withOverrides(sets);
        return resume ? cfg.with("init_from", TrainConfig.RESUME) : cfg;
    }

    private int train(TrainConfig cfg, ProcessGroup group, PrintStream out) throws Exception {
        if (TrainConfig.RESUME.equals(cfg.initFrom())) cfg = Trainer.resumeConfig(cfg, out::println);
        TrainConfig.Share share = cfg.share(group.worldSize()); // an uneven split fails before any work
        Path outDir = Path.of(cfg.outDir());
        Generator.manualSeed(cfg.seed() + group.rank()); // nanoGPT's seed offset: dropout differs per rank; DDP broadcasts rank 0's init
        TrainData data = TrainData.load(cfg.dataset());
        String summary = String.format(Locale.ROOT, "dataset %s: %,d train / %,d val tokens, tokenizer %s (vocab %d)", data.name(),
                data.train().length(), data.val().length(), data.tokenizer().name(), data.tokenizer().vocabSize());
        group.verifySame("the dataset", summary);
        out.println(summary);
        if (group.worldSize() > 1) {
            out.printf(Locale.ROOT, "data-parallel: %d ranks (Open MPI), each %d micro-step(s) of %d sequences per iteration%n",
                    group.worldSize(), share.microSteps(), share.batchSize());
        }
        Module model = ModelFactory.build(cfg.model(), data.tokenizer().vocabSize(), cfg.blockSize());
        try (OutDirLock lock = group.rank() == 0 ? OutDirLock.acquire(outDir) : null) { // rank 0 alone writes
            if (group.rank() == 0) SavedModel.writeTokenizer(outDir, data.tokenizer());
            return train((Module & LanguageModel) model, cfg, data, share, group, outDir, out);
        }
    }

    private <M extends Module & LanguageModel> int train(M model, TrainConfig cfg, TrainData data, TrainConfig.Share share,
                                                         ProcessGroup group, Path outDir, PrintStream out) throws Exception {
        Trainer<M> trainer = Trainer.dataParallel(cfg, model, data.batches(share.batchSize(), cfg.blockSize()), group);
        TrainRun.Result r = TrainRun.fit(trainer, progress, finalEvalIters, out);
        if (!trainer.isWriter()) return 0;
        if (sampleTokens > 0) {
            out.println("---------------- sample ----------------");
            // nanoGPT's sample.py settings: a newline prompt, temperature 0.8, top-k 200, seed 1337
            TextStream.run(model, data.tokenizer(), data.tokenizer().encode("\n"), "\n",
                    TextGenerator.Options.of(sampleTokens).temperature(0.8).topK(200).seed(1337), out);
            out.println("----------------------------------------");
        }
        Path best = outDir.resolve(Checkpoint.BEST), last = outDir.resolve(Checkpoint.LAST);
        out.println("checkpoint: " + (Checkpoint.isComplete(best) ? best : Checkpoint.isComplete(last) ? last : "(none written)"));
        out.println("metrics:    " + r.metrics());
        if (r.plot() != null) out.println("loss plot:  " + r.plot());
        out.println("sample more with: ./jllm sample --checkpoint " + outDir);
        return 0;
    }
}
