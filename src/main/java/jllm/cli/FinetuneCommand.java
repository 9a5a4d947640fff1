package jllm.cli;

import jllm.io.hf.HfHub;
import jllm.lora.LoraConfig;
import jllm.lora.PeftModel;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.tensor.Generator;
import jllm.tokenizer.HfTokenizer;
import jllm.train.FinetuneData;
import jllm.train.TrainConfig;
import jllm.train.TrainListener;
import jllm.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code jllm finetune}: LoRA fine-tuning of a Hugging Face model directory, saving a PEFT adapter. */
@Command(name = "finetune", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"LoRA fine-tuning (as Hugging Face PEFT does it) of a Hugging Face model directory (GPT-2 or Llama) on plain "
                + "text or JSONL instruction data ({\"prompt\": ..., \"response\": ...} per line; the loss counts only the response).",
                "Writes the adapter as PEFT does (OUT/adapter: adapter_config.json + adapter_model.safetensors) whenever the "
                        + "validation loss improves, training checkpoints (OUT/ckpt_last, ckpt_best: adapter weights and optimizer), "
                        + "metrics.jsonl and loss.png. Then: jllm generate --model MODEL --adapter OUT/adapter"})
public final class FinetuneCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, description = "Base model directory or cached model name.")
    String model;

    @Option(names = "--data", required = true, description = "Training data: a .jsonl file of prompt/response objects, or any other file as plain text.")
    Path data;

    @Option(names = "--out", description = "Output directory (default: ${DEFAULT-VALUE}).")
    Path out = Path.of("out", "finetune");

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

    @Override
    public Integer call() throws Exception {
        PrintStream o = System.out;
        TrainRun.progressMode(progress); // bad values fail before the model is loaded
        Path dir = HfHub.resolve(model);
        PretrainedModel base = AutoModelForCausalLM.fromPretrained(dir);
        int block = Math.min(blockSize, base.blockSize());
        TrainConfig cfg = config(dir, base, block).withOverrides(sets);
        Generator.manualSeed(cfg.seed());

        LoraConfig lora = new LoraConfig(loraR, loraAlpha, loraDropout,
                targetModules == null ? null : LoraConfig.TargetModules.parse(targetModules), "none",
                "gpt2".equals(base.modelType()), useRslora, null, "CAUSAL_LM", dir.toString(), false);
        PeftModel peft = PeftModel.getPeftModel(base.asModule(), lora);
        o.println(peft.trainableParametersLine());

        try (HfTokenizer tok = HfTokenizer.fromDirectory(dir)) {
            FinetuneData batches = FinetuneData.load(data, encoding(tok, base), cfg.batchSize(), cfg.blockSize(), cfg.seed());
            o.println(batches.description());
            return train(peft, cfg, batches, o);
        }
    }

    private int train(PeftModel peft, TrainConfig cfg, FinetuneData batches, PrintStream o) throws Exception {
        Trainer<PeftModel> trainer = new Trainer<>(cfg, peft, batches);
        Path adapterDir = out.resolve("adapter");
        trainer.addListener(new TrainListener() {
            @Override
            public void onCheckpoint(TrainListener.CheckpointKind kind, Path dir, long iter) {
                if (kind == TrainListener.CheckpointKind.BEST) peft.savePretrained(adapterDir);
            }
        });
        TrainRun.Result r = TrainRun.fit(trainer, progress, cfg.evalIters(), o);
        if (!java.nio.file.Files.isDirectory(adapterDir)) peft.savePretrained(adapterDir); // no improving eval happened
        o.println("adapter:   " + adapterDir + " (PEFT format)");
        o.println("metrics:   " + r.metrics());
        if (r.plot() != null) o.println("loss plot: " + r.plot());
        o.println("generate with: ./jllm generate --model " + model + " --adapter " + adapterDir);
        o.println("merge with:    ./jllm convert merge-lora --model " + model + " --adapter " + adapterDir + " --out " + out.resolve("merged"));
        return 0;
    }

    private TrainConfig config(Path dir, PretrainedModel base, int block) {
        Map<String, Object> section = new LinkedHashMap<>();
        section.put("base_model", dir.toString());
        section.put("model_type", base.modelType());
        int warmup = Math.min(100, maxIters / 10);
        return new TrainConfig(out.toString(), evalInterval, 1, evalIters, false, true, TrainConfig.SCRATCH,
                data.toString(), 1, batchSize, block,
                learningRate, maxIters, 0.0, 0.9, 0.999, 1.0,
                true, warmup, Math.max(warmup, maxIters), learningRate / 10,
                seed, section);
    }

    /**
     * bos as the tokenizer adds it to a prompt (Llama's tokenizers do, GPT-2's does not) and the
     * model's eos after every response, so the model learns to stop.
     */
    private static FinetuneData.Encoding encoding(HfTokenizer tok, PretrainedModel base) {
        // whether the tokenizer prepends bos is decided by tokenizer_config.json or, failing that, by
        // tokenizer.json's post-processor, so it is read off an encoding (which may also append eos)
        int[] plain = tok.encode("a"), prompt = tok.encodePrompt("a");
        Integer bos = tok.bosTokenId() != null && prompt.length > plain.length && prompt[0] == tok.bosTokenId() ? tok.bosTokenId() : null;
        Integer eos = !base.eosTokenIds().isEmpty() ? base.eosTokenIds().get(0) : tok.eosTokenId();
        return new FinetuneData.Encoding(tok, bos, eos);
    }
}
