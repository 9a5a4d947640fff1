package jllm.cli;

import jllm.distributed.ProcessGroup;
import jllm.generate.SpecialTokens;
import jllm.lora.LoraConfig;
import jllm.lora.PeftModel;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.tensor.Generator;
import jllm.tokenizer.HfTokenizer;
import jllm.train.FinetuneData;
import jllm.train.OutDirLock;
import jllm.train.TrainConfig;
import jllm.train.TrainListener;
import jllm.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code jllm finetune}: LoRA fine-tuning of a Hugging Face model directory, saving a PEFT adapter. */
@Command(name = "finetune", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"LoRA fine-tuning (as Hugging Face PEFT does it) of a Hugging Face model directory (GPT-2, Llama, Qwen2, Qwen3, Mistral, Gemma, Gemma 2, Phi-3) on plain "
                + "text or JSONL instruction data ({\"prompt\": ..., \"response\": ...} per line; the loss counts only the response).",
                "Writes the adapter as PEFT does (OUT/adapter: adapter_config.json + adapter_model.safetensors) whenever the "
                        + "validation loss improves, training checkpoints (OUT/ckpt_last, ckpt_best: adapter weights and optimizer), "
                        + "metrics.jsonl and loss.png. Then: jllm generate --model MODEL --adapter OUT/adapter"})
public final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Base model directory, GGUF file or cached model name.")
    String model;

    @Option(names = "--data", required = true, description = "Training data: a .jsonl file of prompt/response objects, or any other file as plain text.")
    Path data;

    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("out", "finetune");

    @Option(names = "--dtype", description = "Keep the frozen base weights in this type while the adapters train in float32: "
            + "f32, bf16, f16, q8_0, q4_0 (QLoRA-style with q8_0/q4_0; default: the model directory's own).")
    String dtype;

    @Option(names = "--lora-r", description = "LoRA rank (default: ${DEFAULT-VALUE}).")
    int loraR = 8;

    @Option(names = "--lora-alpha", description = "LoRA alpha; scaling = alpha / r (default: ${DEFAULT-VALUE}).")
    double loraAlpha = 32;

    @Option(names = "--lora-dropout", description = "Dropout on the LoRA branch (default: ${DEFAULT-VALUE}).")
    double loraDropout = 0.1;

    @Option(names = "--target-modules", description = "Comma-separated module names, a regex, or all-linear "
            + "(default: PEFT's for the model type: q_proj,v_proj for Llama, c_attn for GPT-2).")
    String targetModules;

    @Option(names = "--use-rslora", description = "Rank-stabilised LoRA: scaling = alpha / sqrt(r).")
    boolean useRslora;

    @Option(names = "--max-iters", description = "Optimizer steps (default: ${DEFAULT-VALUE}).")
    int maxIters = 200;

    @Option(names = "--batch-size", description = "Sequences per step (default: ${DEFAULT-VALUE}).")
    int batchSize = 4;

    @Option(names = "--block-size", description = "Longest training sequence, capped at the model's context (default: ${DEFAULT-VALUE}).")
    int blockSize = 256;

    @Option(names = "--learning-rate", description = "Peak AdamW learning rate (default: ${DEFAULT-VALUE}); warmup then cosine decay to a tenth.")
    double learningRate = 2e-4;

    @Option(names = "--eval-interval", description = "Evaluate (and save when improved) every N steps (default: ${DEFAULT-VALUE}).")
    int evalInterval = 50;

    @Option(names = "--eval-iters", description = "Batches per evaluation (default: ${DEFAULT-VALUE}).")
    int evalIters = 10;

    @Option(names = "--seed", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed = 1337;

    @Option(names = "--set", description = "Further training settings as key=value (jllm train's keys, e.g. --set weight_decay=0.01), repeatable.")
    List<String> sets = new ArrayList<>();

    @Option(names = "--progress", description = "Progress display: auto, terminal, plain or off (default: ${DEFAULT-VALUE}).")
    String progress = "auto";

    @Option(names = "--nproc", description = "Data-parallel ranks on this machine, launched with `mpirun -np N` (Open MPI); "
            + "across machines use mpirun -np N --hostfile HOSTS ./jllm finetune ... (default: ${DEFAULT-VALUE}).")
    int nproc = 1;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        // bad values fail before the model is loaded
        CliErrors.usage(spec, () -> TrainRun.progressMode(progress));
        if (dtype != null) CliErrors.usage(spec, () -> jllm.nn.Quantize.parse(dtype));
        CliErrors.check(spec, loraR >= 1, "--lora-r must be >= 1, got " + loraR);
        CliErrors.check(spec, Double.isFinite(loraAlpha) && loraAlpha > 0, "--lora-alpha must be a positive number, got " + loraAlpha);
        CliErrors.check(spec, loraDropout >= 0 && loraDropout < 1, "--lora-dropout must be in [0, 1), got " + loraDropout);
        CliErrors.check(spec, maxIters >= 0, "--max-iters must be >= 0, got " + maxIters);
        CliErrors.check(spec, batchSize >= 1, "--batch-size must be >= 1, got " + batchSize);
        CliErrors.check(spec, blockSize >= 1, "--block-size must be >= 1, got " + blockSize);
        CliErrors.check(spec, evalInterval >= 1, "--eval-interval must be >= 1, got " + evalInterval);
        CliErrors.check(spec, evalIters >= 1, "--eval-iters must be >= 1, got " + evalIters);
        CliErrors.check(spec, Double.isFinite(learningRate) && learningRate >= 0, "--learning-rate must be a finite number >= 0, got " + learningRate);
        if (DataParallel.shouldLaunch(spec, nproc)) {
            return DataParallel.launch(nproc, "finetune", spec.commandLine().getParseResult().originalArgs(), progress);
        }
        TrainConfig settings = TrainConfig.defaults().withOverrides(sets); // ddp_timeout (and bad keys) before any work
        return DataParallel.run("finetune", settings, System.out, this::finetune);
    }

    private int finetune(ProcessGroup group, PrintStream o) throws Exception {
        jllm.io.ModelSource src = jllm.io.ModelSource.open(model);
        Path dir = Path.of(src.name());
        PretrainedModel base = dtype == null ? AutoModelForCausalLM.fromPretrained(src)
                : AutoModelForCausalLM.fromPretrained(src, jllm.nn.Quantize.parse(dtype));
        TrainConfig cfg = config(dir, base.modelType(), base.blockSize());
        TrainConfig.Share share = cfg.share(group.worldSize());
        Generator.manualSeed(cfg.seed() + group.rank()); // LoRA's init is broadcast from rank 0; dropout differs per rank

        // fan_in_fan_out and the default target modules come from the model's family (ModelRegistry), as PEFT sets them
        LoraConfig lora = LoraConfig.of(loraR, loraAlpha).withDropout(loraDropout).withRslora(useRslora).withBaseModelNameOrPath(dir.toString());
        if (targetModules != null) lora = lora.withTargetModules(LoraConfig.TargetModules.parse(targetModules));
        PeftModel peft = PeftModel.getPeftModel(base.asModule(), lora);
        o.println(peft.trainableParametersLine());

        try (HfTokenizer tok = src.tokenizer()) {
            // the split and shuffle use the config's seed on every rank, so all ranks hold the same examples
            FinetuneData batches = FinetuneData.load(data, encoding(tok, base), share.batchSize(), cfg.blockSize(), cfg.seed());
            group.verifySame("the fine-tuning data", batches.description());
            o.println(batches.description());
            return train(peft, cfg, batches, group, o);
        }
    }

    private int train(PeftModel peft, TrainConfig cfg, FinetuneData batches, ProcessGroup group, PrintStream o) throws Exception {
        try (OutDirLock lock = group.rank() == 0 ? OutDirLock.acquire(out) : null) { // rank 0 alone writes
            return trainLocked(peft, cfg, batches, group, o);
        }
    }

    private int trainLocked(PeftModel peft, TrainConfig cfg, FinetuneData batches, ProcessGroup group, PrintStream o) throws Exception {
        Trainer<PeftModel> trainer = Trainer.dataParallel(cfg, peft, batches, group);
        Path adapterDir = out.resolve("adapter");
        trainer.addListener(new TrainListener() {
            @Override
            public void onCheckpoint(TrainListener.CheckpointKind kind, Path dir, long iter) {
                if (kind == TrainListener.CheckpointKind.BEST) peft.savePretrained(adapterDir);
            }
        });
        TrainRun.Result r = TrainRun.fit(trainer, progress, cfg.evalIters(), o);
        if (!trainer.isWriter()) return 0;
        if (!java.nio.file.Files.isDirectory(adapterDir)) peft.savePretrained(adapterDir); // no improving eval happened
        o.println("adapter:   " + adapterDir + " (PEFT format)");
        o.println("metrics:   " + r.metrics());
        if (r.plot() != null) o.println("loss plot: " + r.plot());
        o.println("generate with: ./jllm generate --model " + model + " --adapter " + adapterDir);
        o.println("merge with:    ./jllm convert merge-lora --model " + model + " --adapter " + adapterDir + " --out " + out.resolve("merged"));
        return 0;
    }

    /** The run's settings for a base model of this type and context, the --set overrides applied. */
    TrainConfig config(Path dir, String modelType, int context) {
        int block = Math.min(blockSize, context);
        Map<String, Object> section = new LinkedHashMap<>();
        section.put("base_model", dir.toString());
        section.put("model_type", modelType);
        int warmup = Math.min(100, maxIters / 10);
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("out_dir", out.toString());
        c.put("eval_interval", evalInterval);
        c.put("log_interval", 1);
        c.put("eval_iters", evalIters);
        c.put("dataset", data.toString());
        c.put("gradient_accumulation_steps", 1);
        c.put("batch_size", batchSize);
        c.put("block_size", block);
        c.put("learning_rate", learningRate);
        c.put("max_iters", maxIters);
        c.put("weight_decay", 0.0);
        c.put("beta2", 0.999);
        c.put("grad_clip", 1.0);
        c.put("decay_lr", true);
        c.put("warmup_iters", warmup);
        c.put("lr_decay_iters", Math.max(warmup, maxIters));
        c.put("min_lr", learningRate / 10);
        c.put("seed", seed);
        c.put("model", section);
        return TrainConfig.defaults().with(c).withOverrides(sets);
    }

    /** bos as the tokenizer adds it to a prompt, and the eos generation stops at after every response, so the model learns to stop. */
    private static FinetuneData.Encoding encoding(HfTokenizer tok, PretrainedModel base) {
        return new FinetuneData.Encoding(tok, tok.prependedBos(), SpecialTokens.of(base, tok).responseEos());
    }
}
