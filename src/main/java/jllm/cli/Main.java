package jllm.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/** Entry point of the {@code jllm} command line. */
@Command(name = "jllm", mixinStandardHelpOptions = true, version = "jllm 0.1.0",
        description = {"Large language models from scratch, in Java.",
                "Errors are one line on stderr (exit 1: bad input, 2: bad usage); --debug or JLLM_DEBUG=1 adds the Java stack trace."})
public final class Main implements Runnable {

    /** The subcommands, in the order of the help. */
    private static final List<Class<?>> COMMANDS = List.of(CommandLine.HelpCommand.class, TrainCommand.class, SampleCommand.class,
            PrepareCommand.class, InfoCommand.class, GenerateCommand.class, EvalCommand.class, FinetuneCommand.class, ConvertCommand.class,
            ExamplesCommand.class, BenchCommand.class, WarmupCommand.class, ServeCommand.class, HeapCommand.class);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** The whole command line (every subcommand with its options) with jllm's error handling: one line per error, exit 2 for bad usage, 1 for bad input. */
    public static CommandLine commandLine() {
        return commandLine(null);
    }

    /**
     * The command line for {@code args}: the subcommands they name (the one to run, or the one
     * {@code help} is asked about) are built whole; every other one only by its name, aliases and
     * description, which is all the top-level help and the unknown-command error read. picocli builds
     * a command from its annotations by reflection, in the interpreter at start-up: from the first
     * picocli class to the end of {@code jllm --help} took 0.38 s with all fourteen built whole (with
     * their own subcommands), 0.23 s with names and descriptions (class-load timelines, Zen 5 VM).
     * {@code args == null} builds them all.
     */
    static CommandLine commandLine(List<String> args) {
        CommandLine cl = new CommandLine(new Main());
        for (Class<?> c : COMMANDS) {
            Command a = c.getAnnotation(Command.class);
            boolean named = args == null || args.contains(a.name()) || Arrays.stream(a.aliases()).anyMatch(args::contains);
            if (named) {
                cl.addSubcommand(a.name(), c);
            } else {
                CommandLine.Model.CommandSpec spec = CommandLine.Model.CommandSpec.create().aliases(a.aliases());
                spec.usageMessage().header(a.header()).description(a.description()).hidden(a.hidden());
                cl.addSubcommand(a.name(), spec);
            }
        }
        CliErrors errors = new CliErrors();
        return cl.setExecutionExceptionHandler(errors).setParameterExceptionHandler(errors);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /**
     * Runs a command line: {@code --debug} anywhere before {@code --} turns on stack traces; an
     * unknown command is bad usage even when {@code --help} follows it (picocli would print the
     * top-level help and succeed, and a script could not tell).
     */
    static int run(String... args) {
        List<String> rest = new ArrayList<>();
        boolean options = true;
        for (String a : args) {
            if (options && a.equals("--")) options = false;
            if (options && a.equals("--debug")) CliErrors.setDebug(true);
            else rest.add(a);
        }
        CommandLine cl = commandLine(rest);
        String first = rest.isEmpty() ? null : rest.getFirst();
        if (first != null && !first.startsWith("-") && !cl.getSubcommands().containsKey(first)) {
            List<String> names = cl.getSubcommands().entrySet().stream()
                    .filter(e -> !e.getValue().getCommandSpec().usageMessage().hidden()).map(java.util.Map.Entry::getKey).toList();
            System.err.println("jllm: unknown command '" + first + "'; the commands are " + String.join(", ", names));
            System.err.println("Try 'jllm --help' for usage.");
            return CliErrors.BAD_USAGE;
        }
        try {
            return cl.execute(rest.toArray(String[]::new));
        } catch (OutOfMemoryError e) {
            // picocli hands its handler exceptions only; an Error thrown on the command's own thread
            // would end the JVM with a stack trace. Reported as the handler reports the rest, for the
            // subcommand that ran.
            CommandLine at = cl;
            for (CommandLine.ParseResult pr = cl.getParseResult(); pr != null && pr.hasSubcommand(); ) {
                pr = pr.subcommand();
                at = pr.commandSpec().commandLine();
            }
            return CliErrors.report(at, e);
        }
    }
}
