package jllm.cli;

import jllm.io.ModelSource;
import jllm.io.SafeTensors;
import jllm.io.SafeTensorsFile;
import jllm.io.hf.HfHub;
import jllm.io.hf.HfModelDir;
import jllm.models.MemoryFootprint;
import jllm.models.ModelFactory;
import jllm.nn.Init;
import jllm.nn.Quantize;
import jllm.tensor.DType;
import jllm.train.Checkpoint;
import jllm.train.SavedModel;
import jllm.train.TrainConfig;
import jllm.train.TrainData;
import jllm.train.Trainer;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code jllm heap COMMAND ARGS...} (hidden): the JVM options the launcher starts {@code train},
 * {@code finetune} and {@code generate} with, sized by {@link HeapPlan} from the run's model and
 * settings, read exactly as the command itself reads them (its options, presets, config files,
 * --set, the checkpoint to resume, config.json and the weight files' headers). Prints one line of
 * options, or nothing when there is nothing to size (another command, or arguments the command
 * will reject itself, with its own message). When this machine cannot hold the run it prints why
 * on stderr and exits 1, before anything is loaded.
 */
@Command(name = "heap", hidden = true, description = "Print the JVM options for a train, finetune, generate or sample command line (the launcher uses them).")
final class HeapCommand implements Callable<Integer> {
    /** Tokens a chat template may add around the prompt (system prompt, role markers). */
    static final int TEMPLATE_TOKENS = 512;

    @CommandLine.Unmatched
    List<String> args = new ArrayList<>();

    /**
     * The launcher's entry: the same as {@code jllm heap ARGS}, without building every command's
     * parser first (a third of the 0.2 s this costs generate's start-up).
     */
    public static void main(String[] args) {
        HeapCommand h = new HeapCommand();
        h.args = List.of(args);
        System.exit(h.call());
    }

    @Override
    public Integer call() {
        Sized sized = size(args);
        if (sized == null) return 0;
        String why = sized.plan().doesNotFit(memoryBytes(), sized.ranks());
        if (why != null) {
            System.err.println("jllm " + sized.command() + ": " + why);
            return CliErrors.BAD_INPUT;
        }
        System.out.println(sized.plan().jvmOptions());
        return 0;
    }

    /** A command line's heap, for ranks processes of it on this machine. */
    record Sized(String command, HeapPlan plan, int ranks) {}

    /** The plan for a train, finetune, generate or sample command line; null for another command or one the command will reject. */
    static Sized size(List<String> commandLine) {
        List<String> rest = new ArrayList<>(commandLine);
        rest.remove("--debug");
        if (rest.isEmpty()) return null;
        Object cmd = switch (rest.getFirst()) {
            case "train" -> new TrainCommand();
            case "finetune" -> new FinetuneCommand();
            case "generate" -> new GenerateCommand();
            case "sample" -> new SampleCommand();
            default -> null;
        };
        if (cmd == null) return null;
        try {
            new CommandLine(cmd).parseArgs(rest.subList(1, rest.size()).toArray(String[]::new));
            int ranks = ranksOnThisMachine(cmd);
            HeapPlan plan = switch (cmd) {
                case TrainCommand t -> train(t, ranks);
                case FinetuneCommand f -> finetune(f, ranks);
                case GenerateCommand g -> generate(g);
                case SampleCommand s -> sample(s);
                default -> throw new IllegalStateException();
            };
            return new Sized(rest.getFirst(), plan, ranks);
        } catch (Exception e) {
            return null; // the command reports it, with the message it always gives
        }
    }

    /** --nproc N starts N ranks here; under mpirun, the ranks Open MPI put on this machine. */
    private static int ranksOnThisMachine(Object cmd) {
        int nproc = switch (cmd) {
            case TrainCommand t -> t.nproc;
            case FinetuneCommand f -> f.nproc;
            default -> 1;
        };
        if (nproc > 1) return nproc;
        String local = System.getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
        try {
            return local == null ? 1 : Math.max(1, Integer.parseInt(local.trim()));
        } catch (NumberFormatException e) {
            return 1;
        }
    }

    private static HeapPlan train(TrainCommand t, int ranks) throws Exception {
        TrainConfig cfg = t.config();
        if (TrainConfig.RESUME.equals(cfg.initFrom())) cfg = Trainer.resumeConfig(cfg, line -> { });
        MemoryFootprint fp = ModelFactory.footprint(cfg.model(), TrainData.vocabSize(cfg.dataset()), cfg.blockSize());
        return HeapPlan.training(fp, HeapPlan.float32(fp.weightMatrices()), fp.parameters(), batchPerRank(cfg, ranks), cfg.blockSize());
    }

    private static HeapPlan finetune(FinetuneCommand f, int ranks) throws Exception {
        Path dir = HfHub.resolve(f.model);
        HfModelDir d = HfModelDir.open(dir);
        MemoryFootprint fp = MemoryFootprint.ofHuggingFace(d.config(), parameters(d));
        TrainConfig cfg = f.config(dir, d.config().path("model_type").asText(), fp.context());
        // LoRA's A and B on every projection of every layer, at most: q, k, v, o (C in, C out) and the MLP's three
        long adapter = (long) fp.layers() * f.loraR * (8L * fp.width() + 3L * (fp.width() + fp.mlpWidth()));
        return HeapPlan.training(fp, arrays(d, f.dtype), adapter, batchPerRank(cfg, ranks), cfg.blockSize());
    }

    private static HeapPlan generate(GenerateCommand g) throws Exception {
        ModelSource d = ModelSource.open(g.model); // a GGUF file too
        MemoryFootprint fp = MemoryFootprint.ofHuggingFace(d.config(), parameters(d));
        // a token is at least one byte of the prompt (byte-level BPE and byte fallback never make more tokens than bytes)
        int prompt = g.prompt.getBytes(StandardCharsets.UTF_8).length + (g.system == null ? 0 : g.system.getBytes(StandardCharsets.UTF_8).length)
                + (g.chat ? TEMPLATE_TOKENS : 1);
        int positions = (int) Math.min(fp.context(), (long) prompt + g.maxNewTokens);
        DType type = weightType(d, g.dtype.name);
        return HeapPlan.inference(fp, arrays(d, g.dtype.name), type == null ? "float32" : type.torchName(), positions, 1, Math.min(prompt, fp.context()),
                !g.sampling.noCache);
    }

    /** A training checkpoint's model (float32, as saved) generating --num-samples sequences at once. */
    private static HeapPlan sample(SampleCommand s) throws Exception {
        Path dir = SavedModel.resolve(s.checkpoint);
        TrainConfig cfg = Checkpoint.readConfig(dir);
        MemoryFootprint fp = ModelFactory.footprint(cfg.model(), SavedModel.tokenizer(dir).vocabSize(), cfg.blockSize());
        long[] arrays;
        try (SafeTensorsFile f = SafeTensors.open(dir.resolve(Checkpoint.MODEL))) {
            arrays = f.entries().stream().mapToLong(e -> elements(e.shape()) * Float.BYTES).toArray();
        }
        int prompt = s.prompt.getBytes(StandardCharsets.UTF_8).length + 1;
        int positions = (int) Math.min(cfg.blockSize(), (long) prompt + s.maxNewTokens);
        return HeapPlan.inference(fp, arrays, "float32", positions, s.numSamples, Math.min(prompt, cfg.blockSize()), !s.sampling.noCache);
    }

    private static int batchPerRank(TrainConfig cfg, int ranks) {
        try {
            return cfg.share(ranks).batchSize();
        } catch (IllegalArgumentException unevenSplit) {
            return cfg.batchSize(); // the run stops with its own message; size for the whole batch meanwhile
        }
    }

    /** The weight matrices' type: --dtype's, else the one the directory stores (null: float32). */
    private static DType weightType(ModelSource d, String option) {
        return option != null ? Quantize.parse(option) : d.weightType();
    }

    /**
     * The bytes every tensor of the weight files takes once loaded: a weight matrix in its type where
     * its rows are whole blocks of it (as {@link Quantize#weights} converts them), the rest in float32.
     * The type is --dtype's (option), else the matrix's own as the model loads it (a GGUF file's may
     * differ between matrices: see {@link ModelSource#weightType(String)}).
     */
    private static long[] arrays(ModelSource d, String option) {
        DType chosen = option != null ? Quantize.parse(option) : null;
        java.util.function.Function<String, DType> type = option != null ? k -> chosen : d::weightType;
        return d.keys().stream().mapToLong(k -> {
            long[] shape = d.shape(k);
            long e = elements(shape);
            return shape.length == 2 ? Init.matrixType(type.apply(k), shape[1]).bytes(e) : e * Float.BYTES;
        }).toArray();
    }

    private static long parameters(ModelSource d) {
        return d.keys().stream().mapToLong(k -> elements(d.shape(k))).sum();
    }

    private static long elements(long[] shape) {
        long e = 1;
        for (long s : shape) e *= s;
        return e;
    }

    /** This machine's memory, or the container's limit when there is one. */
    static long memoryBytes() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
    }
}
