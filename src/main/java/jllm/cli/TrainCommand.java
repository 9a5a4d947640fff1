package jllm.cli;

import jllm.models.LanguageModel;
import jllm.models.ModelFactory;
import jllm.nn.Module;
import jllm.tensor.Generator;
import jllm.train.Checkpoint;
import jllm.train.Presets;
import jllm.train.SavedModel;
import jllm.train.TrainConfig;
import jllm.train.TrainData;
import jllm.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code jllm train}: nanoGPT's train.py. With no arguments it runs the CPU recipe on the bundled
 * Tiny Shakespeare, reports the final validation loss over 200 batches, and prints a sample.
 */
@Command(name = "train", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a GPT (default: nanoGPT's CPU recipe with learning rate 2e-3, on the bundled Tiny Shakespeare), then print a sample.",
                "Presets: shakespeare-char-cpu (default), shakespeare-char, seed003, gpt2-shakespeare."})
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

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        TrainConfig cfg = Presets.load(preset);
        if (config != null) {
            if (!Files.exists(config)) throw new IllegalArgumentException("config file " + config + " does not exist");
            cfg = TrainConfig.fromJson(new com.fasterxml.jackson.databind.ObjectMapper().readTree(config.toFile()), cfg);
        }
        cfg = cfg.withOverrides(sets);
        if (resume) cfg = cfg.with("init_from", TrainConfig.RESUME);
        Path outDir = Path.of(cfg.outDir());
        if (TrainConfig.RESUME.equals(cfg.initFrom())) {
            Path latest = Trainer.latestCheckpoint(outDir);
            if (latest == null) throw new IllegalArgumentException("nothing to resume: no checkpoint in " + outDir);
            Map<String, Object> model = Checkpoint.readConfig(latest).model();
            cfg = new TrainConfig(cfg.outDir(), cfg.evalInterval(), cfg.logInterval(), cfg.evalIters(), cfg.evalOnly(),
                    cfg.alwaysSaveCheckpoint(), cfg.initFrom(), cfg.dataset(), cfg.gradientAccumulationSteps(), cfg.batchSize(),
                    cfg.blockSize(), cfg.learningRate(), cfg.maxIters(), cfg.weightDecay(), cfg.beta1(), cfg.beta2(), cfg.gradClip(),
                    cfg.decayLr(), cfg.warmupIters(), cfg.lrDecayIters(), cfg.minLr(), cfg.seed(), model);
            out.println("resuming from " + latest + " (model settings taken from the checkpoint)");
        }
        Generator.manualSeed(cfg.seed());
        TrainData data = TrainData.load(cfg.dataset());
        out.printf(Locale.ROOT, "dataset %s: %,d train / %,d val tokens, tokenizer %s (vocab %d)%n", data.name(),
                data.train().length(), data.val().length(), data.tokenizer().name(), data.tokenizer().vocabSize());
        Module model = ModelFactory.build(cfg.model(), data.tokenizer().vocabSize(), cfg.blockSize());
        SavedModel.writeTokenizer(outDir, data.tokenizer());
        return train((Module & LanguageModel) model, cfg, data, outDir, out);
    }

    private <M extends Module & LanguageModel> int train(M model, TrainConfig cfg, TrainData data, Path outDir, PrintStream out)
            throws Exception {
        Trainer<M> trainer = new Trainer<>(cfg, model, data.batches(cfg.batchSize(), cfg.blockSize()));
        TrainRun.Result r = TrainRun.fit(trainer, progress, finalEvalIters, out);
        if (sampleTokens > 0) {
            out.println("---------------- sample ----------------");
            Sampling.run(model, data.tokenizer(), new Sampling.Settings("\n", 1, sampleTokens, 0.8, 200, null, 1337, true), out);
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
