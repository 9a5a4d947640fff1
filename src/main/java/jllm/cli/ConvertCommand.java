package jllm.cli;

import jllm.io.hf.HfHub;
import jllm.io.llama2c.Llama2cConverter;
import jllm.lora.PeftModel;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.models.gpt.GPT;
import jllm.train.SavedModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code jllm convert}: between llama2.c, jllm checkpoints and Hugging Face directories; LoRA merging. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert checkpoints to Hugging Face model directories, quantize them, and merge LoRA adapters.",
        subcommands = {ConvertCommand.Llama2c.class, ConvertCommand.MergeLora.class, ConvertCommand.Hf.class, ConvertCommand.Quantize.class,
                ConvertCommand.Checkpoint.class})
public final class ConvertCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.out); }

    /** Files of a model directory that describe the tokenizer and generation, copied next to converted weights. */
    static final List<String> SIDE_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "generation_config.json", "chat_template.jinja");

    static void copySideFiles(Path from, Path to) throws IOException {
        for (String f : SIDE_FILES) {
            Path src = from.resolve(f);
            if (Files.isRegularFile(src)) Files.copy(src, to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** "2GB", "500MB", "10KB" (powers of 1000, as transformers' max_shard_size) or plain bytes; 0 = one file. */
    static long parseSize(String s) {
        Matcher m = Pattern.compile("(?i)\\s*(\\d+(?:\\.\\d+)?)\\s*(b|kb|mb|gb|kib|mib|gib)?\\s*").matcher(s);
        if (!m.matches()) throw new IllegalArgumentException("--max-shard-size: expected a size like 2GB, 500MB or 1000000, got '" + s + "'");
        double v = Double.parseDouble(m.group(1));
        String u = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
        long mult = switch (u) {
            case "kb" -> 1000L;
            case "mb" -> 1000L * 1000;
            case "gb" -> 1000L * 1000 * 1000;
            case "kib" -> 1L << 10;
            case "mib" -> 1L << 20;
            case "gib" -> 1L << 30;
            default -> 1L;
        };
        return (long) (v * mult);
    }

    /** --model / --out / --max-shard-size of the subcommands that load a Hugging Face directory and write another. */
    static final class HfInOut {
        @Option(names = "--model", required = true, description = "Model directory or cached model name.")
        String model;

        @Option(names = "--out", required = true, description = "Output directory.")
        Path out;

        @Option(names = "--max-shard-size", description = "Split the weights into shards of at most this size (e.g. 2GB; default: one file).")
        String maxShardSize = "0";

        @CommandLine.Spec(CommandLine.Spec.Target.MIXEE)
        CommandLine.Model.CommandSpec mixee;

        /**
         * The --model directory, after the checks that come before any work: a bad size is bad
         * usage, and --out must not be the directory being read (its files are memory-mapped while
         * the new ones are written).
         */
        Path source() throws IOException {
            CliErrors.usage(mixee, () -> parseSize(maxShardSize));
            Path dir = HfHub.resolve(model);
            boolean same = Files.exists(out) && Files.isSameFile(out, dir);
            CliErrors.check(mixee, !same, "--out " + out + " is the --model directory " + dir + "; write to another directory");
            return dir;
        }

        /** Writes m to --out (sharded as asked) with the tokenizer and generation files of the source directory. */
        void save(PretrainedModel m, Path sourceDir) throws IOException {
            m.savePretrained(out, parseSize(maxShardSize));
            copySideFiles(sourceDir, out);
            System.out.printf(Locale.ROOT, "wrote %s (%s, %,d parameters)%n", out, m.modelType(), m.asModule().numParameters());
        }
    }

    @Command(name = "llama2c", mixinStandardHelpOptions = true,
            description = "Karpathy's llama2.c checkpoint (.bin, with its tokenizer.bin) -> Hugging Face Llama directory "
                    + "(q/k rows permuted from llama2.c's interleaved RoPE to HF's rotate-half; tokenizer.json from tokenizer.bin).")
    static final class Llama2c implements Callable<Integer> {
        @Option(names = "--checkpoint", required = true, description = "The llama2.c model file (version 0 or 1, fp32).")
        Path checkpoint;

        @Option(names = "--tokenizer", description = "The llama2.c tokenizer.bin (default: none, weights only).")
        Path tokenizer;

        @Option(names = "--out", required = true, description = "Output directory (must not exist or be empty).")
        Path out;

        @Override
        public Integer call() throws Exception {
            var s = Llama2cConverter.convert(checkpoint, tokenizer, out);
            System.out.printf(Locale.ROOT, "wrote %s: %d tensors, %,d bytes, config %s%s%n", s.outDir(), s.tensorCount(), s.tensorBytes(),
                    s.config(), s.withTokenizer() ? ", tokenizer.json" : "");
            return 0;
        }
    }

    @Command(name = "merge-lora", mixinStandardHelpOptions = true,
            description = "Merge a PEFT LoRA adapter into its base model (W += scaling * B A) and save a plain Hugging Face directory.")
    static final class MergeLora implements Callable<Integer> {
        @Mixin
        HfInOut io = new HfInOut();

        @Option(names = "--adapter", required = true, description = "The adapter directory (adapter_config.json + adapter_model.safetensors).")
        Path adapter;

        @Override
        public Integer call() throws Exception {
            Path dir = io.source(); // options checked before the model is loaded
            PeftModel peft = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(dir).asModule(), adapter);
            int layers = peft.loraLayerNames().size();
            io.save((PretrainedModel) peft.mergeAndUnload(), dir);
            System.out.println("merged " + layers + " LoRA layers of " + adapter);
            return 0;
        }
    }

    @Command(name = "hf", mixinStandardHelpOptions = true,
            description = "Re-save a Hugging Face directory (any family jllm loads) as float32, in one file or in shards.")
    static final class Hf implements Callable<Integer> {
        @Mixin
        HfInOut io = new HfInOut();

        @Override
        public Integer call() throws Exception {
            Path dir = io.source();
            io.save(AutoModelForCausalLM.fromPretrained(dir, jllm.tensor.DType.F32), dir);
            return 0;
        }
    }

    @Command(name = "quantize", mixinStandardHelpOptions = true,
            description = {"Re-save a model directory with its weight matrices (Linear and embedding layers) in another type, as "
                    + "llama.cpp's quantize does; norms and biases stay float32.",
                    "bf16/f16: a plain Hugging Face directory (torch_dtype set). q8_0/q4_0: llama.cpp's blocks (32 weights per f16 "
                            + "scale), stored as uint8 rows under quantization_config {\"quant_method\": \"jllm\"}; jllm's generate, "
                            + "eval and finetune read it, transformers does not (use convert gguf for llama.cpp)."})
    static final class Quantize implements Callable<Integer> {
        @Mixin
        HfInOut io = new HfInOut();

        @Option(names = "--dtype", required = true, description = "bf16, f16, q8_0, q4_0 (or f32).")
        String dtype;

        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            jllm.tensor.DType t = CliErrors.usage(spec, () -> jllm.nn.Quantize.parse(dtype));
            Path dir = io.source();
            PretrainedModel m = AutoModelForCausalLM.fromPretrained(dir, t);
            List<String> kept = new java.util.ArrayList<>();
            for (var e : m.asModule().namedParameters().entrySet()) {
                if (e.getValue().dim() == 2 && e.getValue().dtype() != t) kept.add(e.getKey());
            }
            io.save(m, dir);
            System.out.printf(Locale.ROOT, "weights: %s, %.1f MB%s%n", t.torchName(), jllm.bench.DecodeBench.weightBytes(m.asModule()) / 1e6,
                    kept.isEmpty() ? "" : "; kept in float32 (rows not whole blocks): " + String.join(", ", kept));
            return 0;
        }
    }

    @Command(name = "checkpoint", mixinStandardHelpOptions = true,
            description = "A GPT checkpoint written by `jllm train` (model type gpt) -> Hugging Face GPT-2 directory (Conv1D layout).")
    static final class Checkpoint implements Callable<Integer> {
        @Option(names = "--checkpoint", required = true, description = "A checkpoint directory, or a run's out_dir (uses ckpt_best, else ckpt_last).")
        Path checkpoint;

        @Option(names = "--out", required = true, description = "Output directory.")
        Path out;

        @Override
        public Integer call() throws Exception {
            SavedModel s = SavedModel.load(checkpoint);
            if (!(s.model() instanceof PretrainedModel pm)) {
                String type = s.model() instanceof jllm.models.CausalLM c ? c.modelType() : s.model().getClass().getSimpleName();
                throw new IllegalArgumentException(s.dir() + ": a " + type + " checkpoint has no Hugging Face format; the families that have one: "
                        + String.join(", ", jllm.models.ModelRegistry.huggingFaceTypes()));
            }
            pm.savePretrained(out);
            String tokenizer;
            if (s.tokenizer() instanceof jllm.tokenizer.CharTokenizer ct) {
                jllm.io.AtomicFiles.writeString(out.resolve("tokenizer.json"),
                        new com.fasterxml.jackson.databind.ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(ct.toHuggingFaceJson()));
                tokenizer = "tokenizer.json (character level, " + ct.vocabSize() + " ids)";
            } else {
                tokenizer = "tokenizer " + s.tokenizer().name() + ": no tokenizer.json is written (a gpt2-BPE model works with GPT-2's tokenizer files)";
            }
            String biases = pm instanceof GPT gpt && !gpt.config().bias() ? ", zero biases for the bias-free layers" : "";
            System.out.printf(Locale.ROOT, "wrote %s (%s%s, %,d parameters); %s%n", out, pm.modelType(), biases, pm.asModule().numParameters(), tokenizer);
            return 0;
        }
    }
}
