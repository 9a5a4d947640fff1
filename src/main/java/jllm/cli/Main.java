package jllm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code jllm} command line. */
@Command(name = "jllm", mixinStandardHelpOptions = true, version = "jllm 0.1.0",
        description = "Large language models from scratch, in Java.",
        subcommands = {CommandLine.HelpCommand.class, TrainCommand.class, SampleCommand.class, PrepareCommand.class, InfoCommand.class,
                GenerateCommand.class, FinetuneCommand.class, ConvertCommand.class, ExamplesCommand.class, BenchCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static CommandLine commandLine() {
        return new CommandLine(new Main());
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }
}
