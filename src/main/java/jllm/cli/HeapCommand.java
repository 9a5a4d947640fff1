package jllm.cli;

import jllm.io.hf.HfHub;
import jllm.io.hf.HfModelDir;
import jllm.models.MemoryFootprint;
import jllm.models.ModelFactory;
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
@Command(name = "heap", hidden = true, description = "Print the JVM options for a train, finetune or generate command line (the launcher uses them).")
final class HeapCommand implements Callable<Integer> {
    /** Tokens a chat template may add around the prompt (system prompt, role markers). */
    static final int TEMPLATE_TOKENS = 512;

    @CommandLine.Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() {
        HeapPlan plan;
        int ranks;
        try {
            CommandLine.ParseResult pr = Main.commandLine().parseArgs(args.toArray(String[]::new));
            if (!pr.hasSubcommand()) return 0;
            Object cmd = pr.subcommand().commandSpec().userObject();
            ranks = ranksOnThisMachine(cmd);
            plan = switch (cmd) {
                case TrainCommand t -> train(t, ranks);
                case FinetuneCommand f -> finetune(f, ranks);
                case GenerateCommand g -> generate(g);
                default -> null;
            };
        } catch (Exception e) {
            return 0; // the command reports it, with the message it always gives
        }
        if (plan == null) return 0;
        String why = plan.doesNotFit(memoryBytes(), ranks);
        if (why != null) {
            System.err.println("jllm " + args.getFirst() + ": " + why);
            return CliErrors.BAD_INPUT;
        }
        System.out.println(plan.jvmOptions());
        return 0;
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
        return HeapPlan.training(fp, fp.weightMatrices(), fp.parameters(), batchPerRank(cfg, ranks), cfg.blockSize());
    }

    private static HeapPlan finetune(FinetuneCommand f, int ranks) throws Exception {
        Path dir = HfHub.resolve(f.model);
        HfModelDir d = HfModelDir.open(dir);
        MemoryFootprint fp = MemoryFootprint.ofHuggingFace(d.config(), parameters(d));
        TrainConfig cfg = f.config(dir, d.config().path("model_type").asText(), fp.context());
        // LoRA's A and B on every projection of every layer, at most: q, k, v, o (C in, C out) and the MLP's three
        long adapter = (long) fp.layers() * f.loraR * (8L * fp.width() + 3L * (fp.width() + fp.mlpWidth()));
        return HeapPlan.training(fp, matrices(d), adapter, batchPerRank(cfg, ranks), cfg.blockSize());
    }

    private static HeapPlan generate(GenerateCommand g) throws Exception {
        HfModelDir d = HfModelDir.open(HfHub.resolve(g.model));
        MemoryFootprint fp = MemoryFootprint.ofHuggingFace(d.config(), parameters(d));
        // a token is at least one byte of the prompt (byte-level BPE and byte fallback never make more tokens than bytes)
        int prompt = g.prompt.getBytes(StandardCharsets.UTF_8).length + (g.system == null ? 0 : g.system.getBytes(StandardCharsets.UTF_8).length)
                + (g.chat ? TEMPLATE_TOKENS : 1);
        int positions = (int) Math.min(fp.context(), (long) prompt + g.maxNewTokens);
        return HeapPlan.inference(fp, matrices(d), positions, 1, Math.min(prompt, fp.context()), !g.sampling.noCache);
    }

    private static int batchPerRank(TrainConfig cfg, int ranks) {
        try {
            return cfg.share(ranks).batchSize();
        } catch (IllegalArgumentException unevenSplit) {
            return cfg.batchSize(); // the run stops with its own message; size for the whole batch meanwhile
        }
    }

    /** The element count of every tensor of the weight files. */
    private static long[] matrices(HfModelDir d) {
        return d.keys().stream().mapToLong(k -> {
            long e = 1;
            for (long s : d.shape(k)) e *= s;
            return e;
        }).toArray();
    }

    private static long parameters(HfModelDir d) {
        return java.util.Arrays.stream(matrices(d)).sum();
    }

    /** This machine's memory, or the container's limit when there is one. */
    static long memoryBytes() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getTotalMemorySize();
    }
}
