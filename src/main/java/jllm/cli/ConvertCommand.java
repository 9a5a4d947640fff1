package jllm.cli;

import jllm.io.ModelSource;
import jllm.io.gguf.GgufModel;
import jllm.io.hf.HfHub;
import jllm.io.llama2c.Llama2cConverter;
import jllm.lora.PeftModel;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.models.gpt.GPT;
import jllm.tokenizer.HfTokenizer;
import jllm.train.SavedModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** {@code jllm convert}: between llama2.c, jllm checkpoints, Hugging Face directories and GGUF files; LoRA merging. */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Convert checkpoints to Hugging Face model directories or GGUF files, quantize them, and merge LoRA adapters.",
        subcommands = {ConvertCommand.Llama2c.class, ConvertCommand.MergeLora.class, ConvertCommand.Hf.class, ConvertCommand.Quantize.class,
                ConvertCommand.Gguf.class,
                ConvertCommand.Checkpoint.class})
public final class ConvertCommand implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() { spec.commandLine().usage(System.out); }

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
        @Option(names = "--model", required = true, description = "Model directory, GGUF file or cached model name.")
        String model;

        @Option(names = "--out", required = true, description = "Output directory.")
        Path out;

        @Option(names = "--max-shard-size", description = "Split the weights into shards of at most this size (e.g. 2GB; default: one file).")
        String maxShardSize = "0";

        @CommandLine.Spec(CommandLine.Spec.Target.MIXEE)
        CommandLine.Model.CommandSpec mixee;

        /**
         * The --model directory or GGUF file, after the checks that come before any work: a bad
         * size is bad usage, and --out must not be what is being read (its files are memory-mapped
         * while the new ones are written).
         */
        ModelSource source() throws IOException {
            CliErrors.usage(mixee, () -> parseSize(maxShardSize));
            Path in = Files.isRegularFile(Path.of(model)) ? Path.of(model) : HfHub.resolve(model);
            boolean same = Files.exists(out) && Files.isSameFile(out, in);
            CliErrors.check(mixee, !same, "--out " + out + " is the --model " + in + "; write to another directory");
            return ModelSource.open(in);
        }

        /** Writes m to --out (sharded as asked) with the tokenizer and generation files of the source. */
        void save(PretrainedModel m, ModelSource source) throws IOException {
            m.savePretrained(out, parseSize(maxShardSize));
            source.writeTokenizerFiles(out);
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
            ModelSource src = io.source(); // options checked before the model is loaded
            PeftModel peft = PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(src).asModule(), adapter);
            int layers = peft.loraLayerNames().size();
            io.save((PretrainedModel) peft.mergeAndUnload(), src);
            System.out.println("merged " + layers + " LoRA layers of " + adapter);
            return 0;
        }
    }

    @Command(name = "hf", mixinStandardHelpOptions = true,
            description = "Re-save a Hugging Face directory (any family jllm loads) or a GGUF file as a float32 Hugging Face directory, in one file or in shards.")
    static final class Hf implements Callable<Integer> {
        @Mixin
        HfInOut io = new HfInOut();

        @Override
        public Integer call() throws Exception {
            ModelSource src = io.source();
            io.save(AutoModelForCausalLM.fromPretrained(src, jllm.tensor.DType.F32), src);
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
            ModelSource src = io.source();
            PretrainedModel m = AutoModelForCausalLM.fromPretrained(src, t);
            List<String> kept = jllm.nn.Quantize.describe(m.asModule(), t).kept();
            io.save(m, src);
            System.out.printf(Locale.ROOT, "weights: %s, %.1f MB%s%n", t.torchName(), jllm.bench.DecodeBench.weightBytes(m.asModule()) / 1e6,
                    kept.isEmpty() ? "" : "; kept in float32 (rows not whole blocks): " + String.join(", ", kept));
            return 0;
        }
    }

    @Command(name = "gguf", mixinStandardHelpOptions = true,
            description = {"A Llama model (Hugging Face directory or GGUF file) -> a GGUF file for llama.cpp: architecture llama, "
                    + "q/k rows permuted to ggml's RoPE layout, the tokenizer and chat template in tokenizer.ggml.* / tokenizer.chat_template.",
                    "--dtype stores the matrices as f32, f16, bf16, or llama.cpp's q8_0 / q4_0 blocks (a matrix whose rows are not whole "
                            + "32-element blocks is stored f16); norms stay f32, as llama.cpp's converter keeps them."})
    static final class Gguf implements Callable<Integer> {
        @CommandLine.Spec
        CommandLine.Model.CommandSpec spec;

        @Option(names = "--model", required = true, description = "Model directory, GGUF file or cached model name.")
        String model;

        @Option(names = "--out", required = true, description = "The GGUF file to write (replaced atomically).")
        Path out;

        @Option(names = "--dtype", description = "Type of the weight matrices: f32, f16, bf16, q8_0 or q4_0 (default: ${DEFAULT-VALUE}).")
        String dtype = "f16";

        @Override
        public Integer call() throws Exception {
            GgufModel.FileType type = CliErrors.usage(spec, () -> fileType(dtype));
            Path in = Files.isRegularFile(Path.of(model)) ? Path.of(model) : HfHub.resolve(model);
            CliErrors.check(spec, !(Files.exists(out) && Files.isSameFile(out, in)), "--out " + out + " is the --model " + in + "; write another file");
            CliErrors.check(spec, !Files.isDirectory(out), "--out " + out + " is a directory; give the GGUF file to write");
            ModelSource src = ModelSource.open(in);
            PretrainedModel m = AutoModelForCausalLM.fromPretrained(src);
            try (HfTokenizer tok = src.tokenizer()) {
                String name = in.getFileName().toString().replaceFirst("\\.gguf$", "");
                GgufModel.write(out, m.configJson(), m.hfStateDict(), src.tokenizerJson(), tok, type, name);
            }
            System.out.printf(Locale.ROOT, "wrote %s (%s, %,d parameters, %s matrices, %,d bytes)%n", out, m.modelType(),
                    m.asModule().numParameters(), type.name().toLowerCase(Locale.ROOT), Files.size(out));
            return 0;
        }

        static GgufModel.FileType fileType(String s) {
            for (GgufModel.FileType t : GgufModel.FileType.values()) if (t.name().equalsIgnoreCase(s)) return t;
            throw new IllegalArgumentException("--dtype must be one of " + java.util.Arrays.stream(GgufModel.FileType.values())
                    .map(t -> t.name().toLowerCase(Locale.ROOT)).toList() + ", got '" + s + "'");
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
