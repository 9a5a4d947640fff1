package jllm.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import picocli.CommandLine;
import picocli.CommandLine.IExecutionExceptionHandler;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;

import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.lang.reflect.InvocationTargetException;
import java.nio.charset.CharacterCodingException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.util.Locale;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * The command line's one error handler. Every failure becomes one line on stderr,
 * {@code jllm <command>: <what went wrong, naming the file/key/field>}, and an exit code: 2 for bad
 * usage (unknown options or commands, option values out of range, checked before any work), 1 for
 * everything else (bad input files, I/O). The Java stack trace is printed only when asked for with
 * {@code --debug} or {@code JLLM_DEBUG=1}; exceptions carry their context from where they are thrown,
 * so the message is all a user needs.
 */
final class CliErrors implements IExecutionExceptionHandler, IParameterExceptionHandler {
    static final int BAD_INPUT = 1, BAD_USAGE = 2;
    private static volatile boolean debugFlag;

    /** Stack traces on errors: {@code --debug} on the command line or {@code JLLM_DEBUG} set to 1/true/yes. */
    static boolean debug() {
        String env = System.getenv("JLLM_DEBUG");
        return debugFlag || env != null && (env.equals("1") || env.equalsIgnoreCase("true") || env.equalsIgnoreCase("yes"));
    }

    static void setDebug(boolean on) {
        debugFlag = on;
    }

    /** Bad usage (exit 2) unless {@code ok}: for option values checked before any work. */
    static void check(CommandLine.Model.CommandSpec spec, boolean ok, String message) {
        if (!ok) throw new ParameterException(spec.commandLine(), message);
    }

    /** Runs an option check that throws IllegalArgumentException as bad usage (exit 2). */
    static <T> T usage(CommandLine.Model.CommandSpec spec, java.util.function.Supplier<T> check) {
        try {
            return check.get();
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), e.getMessage());
        }
    }

    @Override
    public int handleExecutionException(Exception ex, CommandLine cl, ParseResult parseResult) {
        if (ex instanceof ParameterException pe) return handleParseException(pe, parseResult.originalArgs().toArray(String[]::new));
        return report(cl, ex);
    }

    /** One line for a failure of the command cl ran (its stack trace with --debug); exit status 1. */
    static int report(CommandLine cl, Throwable t) {
        PrintWriter err = cl.getErr();
        err.println(prefix(cl) + describe(t));
        if (debug()) t.printStackTrace(err);
        err.flush();
        return BAD_INPUT;
    }

    @Override
    public int handleParseException(ParameterException ex, String[] args) {
        CommandLine cl = ex.getCommandLine();
        PrintWriter err = cl.getErr();
        err.println(prefix(cl) + oneLine(ex.getMessage()));
        err.println("Try '" + cl.getCommandSpec().qualifiedName() + " --help' for usage.");
        if (debug()) ex.printStackTrace(err);
        err.flush();
        return BAD_USAGE;
    }

    private static String prefix(CommandLine cl) {
        return cl.getCommandSpec().qualifiedName() + ": ";
    }

    /**
     * One line for a failure: the innermost informative message of the cause chain, with the file
     * system's and JSON parser's exceptions (whose own messages are a bare path or lack the file)
     * spelled out.
     */
    static String describe(Throwable t) {
        Throwable e = unwrap(t);
        String msg;
        if (e instanceof NoSuchFileException f) msg = path(f) + ": no such file or directory" + reason(f);
        else if (e instanceof FileAlreadyExistsException f) msg = path(f) + ": already exists" + reason(f);
        else if (e instanceof AccessDeniedException f) msg = path(f) + ": permission denied" + reason(f);
        else if (e instanceof NotDirectoryException f) msg = path(f) + ": not a directory" + reason(f);
        else if (e instanceof DirectoryNotEmptyException f) msg = path(f) + ": directory not empty" + reason(f);
        else if (e instanceof FileSystemException f) msg = path(f) + ": " + (f.getReason() != null ? f.getReason() : e.getClass().getSimpleName());
        else if (e instanceof JsonProcessingException j) msg = "invalid JSON: " + j.getOriginalMessage();
        else if (e instanceof CharacterCodingException) msg = "invalid text encoding (" + e.getClass().getSimpleName() + "): expected UTF-8";
        else if (e instanceof OutOfMemoryError) {
            msg = String.format(Locale.ROOT, "out of memory (the JVM may use at most %.1f GB; set JLLM_JAVA_OPTS=-Xmx...): %s",
                    Runtime.getRuntime().maxMemory() / 1e9, e.getMessage());
        } else if (e.getMessage() == null || e.getMessage().isBlank()) {
            StackTraceElement at = e.getStackTrace().length > 0 ? e.getStackTrace()[0] : null;
            msg = "internal error: " + e.getClass().getName() + (at != null ? " at " + at : "") + " (rerun with --debug for the stack trace)";
        } else {
            msg = e.getMessage();
        }
        return oneLine(msg);
    }

    /** Wrappers that add nothing (their message is their cause's) give way to the cause. */
    private static Throwable unwrap(Throwable t) {
        Throwable e = t;
        while (e.getCause() != null && e.getCause() != e && (e instanceof ExecutionException || e instanceof CompletionException
                || e instanceof InvocationTargetException || e instanceof UncheckedIOException && isCauseMessage(e)
                || e.getMessage() == null || isCauseMessage(e))) {
            e = e.getCause();
        }
        return e;
    }

    private static boolean isCauseMessage(Throwable e) {
        return e.getMessage() != null && e.getMessage().equals(e.getCause().toString());
    }

    private static String path(FileSystemException f) {
        return f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "");
    }

    private static String reason(FileSystemException f) {
        return f.getReason() != null ? " (" + f.getReason() + ")" : "";
    }

    static String oneLine(String s) {
        return s == null ? "" : s.strip().replaceAll("\\s*\\R\\s*", " ");
    }
}
