package jllm.cli;

import jllm.models.gpt.GPT;
import jllm.train.SavedModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jllm info}: what a checkpoint holds. */
@Command(name = "info", mixinStandardHelpOptions = true, description = "Print a checkpoint's module tree, parameter counts and training state.")
public final class InfoCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "A checkpoint directory, or a run's out_dir.")
    Path checkpoint;

    @Override
    public Integer call() throws Exception {
        SavedModel m = SavedModel.load(checkpoint);
        var out = System.out;
        out.println("checkpoint: " + m.dir());
        out.println("dataset: " + m.config().dataset() + ", tokenizer: " + m.tokenizer().name() + " (vocab " + m.tokenizer().vocabSize() + ")");
        out.printf(Locale.ROOT, "iter: %d, best val loss: %.4f%n", m.state().iterNum(), m.state().bestValLoss());
        out.println(m.module());
        out.printf(Locale.ROOT, "parameters: %,d%n", m.module().numParameters());
        if (m.module() instanceof GPT g) out.printf(Locale.ROOT, "non-embedding parameters: %,d%n", g.getNumParams(true));
        return 0;
    }
}
