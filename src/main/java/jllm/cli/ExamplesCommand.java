package jllm.cli;

import java.io.PrintStream;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/** {@code jllm examples [NAME]}: the seed walkthroughs, runnable from the command line. */
@Command(name = "examples", mixinStandardHelpOptions = true,
        description = "List the built-in examples, or run one by NAME.")
public final class ExamplesCommand implements Callable<Integer> {

    /** One example: its name on the command line, a one-line description, and the code that prints it. */
    public record Example(String name, String description, Consumer<PrintStream> body) {}

    /** The registry: to add an example, add one line here. */
    public static final List<Example> EXAMPLES = List.of(
            new Example("buffers", "Seed 000: causal attention with the mask as a plain field vs. a registered buffer (to(device), stateDict, save/load).",
                    BuffersExample::run),
            new Example("transformer", "Seed 001: the happy-llm encoder-decoder Transformer at demo size: module tree, parameters, loss, next-token logits.",
                    TransformerExample::run),
            new Example("gpt2", "Seed 002: GPT-2 124M: module tree, parameter count, loss at init vs ln(50257), DataLoaderLite, AdamW steps, top-k sampling.",
                    Gpt2Example::run),
            new Example("char-shakespeare", "Seed 003: the character-level GPTLanguageModel: vocabulary, get_batch, the 10.79M model, loss and a sample.",
                    CharShakespeareExample::run));

    @Parameters(index = "0", arity = "0..1", paramLabel = "NAME", description = "The example to run; omit to list them.")
    String name;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        PrintStream out = System.out;
        if (name == null) {
            list(out);
            return 0;
        }
        for (Example e : EXAMPLES) {
            if (e.name().equals(name)) {
                e.body().accept(out);
                out.flush();
                return 0;
            }
        }
        throw new CommandLine.ParameterException(spec.commandLine(), "Unknown example '" + name + "'. Available: "
                + String.join(", ", EXAMPLES.stream().map(Example::name).toList()));
    }

    static void list(PrintStream out) {
        int w = EXAMPLES.stream().mapToInt(e -> e.name().length()).max().orElse(0);
        out.println("Examples (run one with: jllm examples NAME):");
        for (Example e : EXAMPLES) out.println("  " + e.name() + " ".repeat(w - e.name().length() + 2) + e.description());
    }
}
