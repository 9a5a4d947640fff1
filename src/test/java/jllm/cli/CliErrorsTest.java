package jllm.cli;

import jllm.io.TextFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Errors as a person meets them: one line on stderr, exit 1 for bad input and 2 for bad usage, a stack trace only with --debug. */
public class CliErrorsTest {
    @TempDir
    Path tmp;

    /** A command line run in this JVM: its exit code, stdout and stderr (other packages' CLI tests use it too). */
    public record Run(int rc, String out, String err) {
        /** The error output's lines, without the JVM's own warnings. */
        String[] errLines() {
            return err.lines().filter(l -> !l.startsWith("WARNING:")).toArray(String[]::new);
        }
    }

    public static Run run(String... args) {
        PrintStream savedOut = System.out, savedErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int rc = Main.run(args);
            return new Run(rc, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(savedOut);
            System.setErr(savedErr);
            CliErrors.setDebug(false);
        }
    }

    private static void assertOneLine(Run r, int rc, String... parts) {
        assertEquals(rc, r.rc(), r.err());
        String[] lines = r.errLines();
        assertFalse(r.err().contains("\tat "), "no stack trace:\n" + r.err());
        for (String p : parts) assertTrue(lines.length > 0 && lines[0].contains(p), "'" + p + "' in:\n" + r.err());
    }

    @Test
    void theStartUpWarmupRunsQuietlyAndStaysHidden() {
        Run w = run("warmup");
        assertEquals(0, w.rc(), w.err());
        assertEquals("", w.out(), "the launcher records the start-up cache with it: nothing is printed");
        Run unknown = run("nope");
        assertEquals(2, unknown.rc());
        assertTrue(unknown.err().contains("the commands are help, train, sample") && !unknown.err().contains("warmup"), unknown.err());
        assertFalse(run("--help").out().contains("warmup"));
    }

    @Test
    void theHelpOfTheCommandsNotBuiltWholeIsTheSameAsWhenAllAre() {
        // `jllm --help` builds only names and descriptions; the text must be what the whole tree prints
        java.io.StringWriter whole = new java.io.StringWriter(), lazy = new java.io.StringWriter();
        Main.commandLine().usage(new java.io.PrintWriter(whole));
        Main.commandLine(java.util.List.of("--help")).usage(new java.io.PrintWriter(lazy));
        assertEquals(whole.toString(), lazy.toString());
        assertTrue(lazy.toString().contains("Display help information about the specified command."), lazy.toString());
        // the commands that the arguments name are whole: their options parse, and `help X` shows X's options
        assertTrue(Main.commandLine(java.util.List.of("train")).getSubcommands().get("train").getCommandSpec().options().size() > 5);
        assertTrue(Main.commandLine(java.util.List.of("info")).getSubcommands().get("train").getCommandSpec().options().isEmpty());
        Run help = run("help", "generate");
        assertEquals(0, help.rc(), help.err());
        assertTrue(help.out().contains("--max-new-tokens"), help.out());
        Run bench = run("bench", "--help");
        assertTrue(bench.out().contains("gemm") && bench.out().contains("generate"), bench.out());
    }

    @Test
    void aMissingCheckpointIsOneLineAndExitOne() {
        Run r = run("info", "--checkpoint", "/nonexistent");
        assertOneLine(r, 1, "jllm info: ", "/nonexistent");
        assertEquals(1, r.errLines().length, r.err());
    }

    @Test
    void debugAddsTheStackTrace() {
        Run r = run("--debug", "info", "--checkpoint", "/nonexistent");
        assertEquals(1, r.rc());
        assertTrue(r.err().contains("\tat "), r.err());
    }

    @Test
    void anUnknownCommandIsBadUsageEvenWithHelp() {
        Run r = run("shine", "--help");
        assertOneLine(r, 2, "jllm: unknown command 'shine'", "train");
        assertOneLine(run("trian"), 2, "unknown command 'trian'");
        assertEquals(0, run("--help").rc());
        assertEquals(0, run("train", "--help").rc());
    }

    @Test
    void optionValuesAreCheckedBeforeAnyWork() {
        // the model directory does not exist: the option error comes first
        assertOneLine(run("generate", "--model", tmp.resolve("none").toString(), "--temperature", "-1"), 2, "--temperature must be");
        assertOneLine(run("generate", "--model", tmp.resolve("none").toString(), "--top-p", "1.5"), 2, "--top-p must be in (0, 1]");
        assertOneLine(run("train", "--final-eval-iters", "-1"), 2, "jllm train: --final-eval-iters must be >= 0, got -1");
        assertOneLine(run("train", "--sample-tokens", "-5"), 2, "--sample-tokens must be >= 0");
        assertOneLine(run("train", "--progress", "fancy"), 2, "--progress must be auto, terminal, plain or off");
        assertOneLine(run("train", "--nproc", "0"), 2, "--nproc must be >= 1");
        assertOneLine(run("finetune", "--model", "m", "--data", "d", "--lora-r", "0"), 2, "--lora-r must be >= 1");
        assertOneLine(run("train", "--no-such-option"), 2, "Unknown option: '--no-such-option'");
    }

    @Test
    void aBadConfigFileIsNamed() throws Exception {
        Path bad = tmp.resolve("bad.json");
        Files.writeString(bad, "{\"max_iters\": 10,");
        assertOneLine(run("train", "--config", bad.toString()), 1, bad + ": not valid JSON", "line 1");
        Files.writeString(bad, "{\"max_iterz\": 10}");
        assertOneLine(run("train", "--config", bad.toString()), 1, bad + ": unknown config key 'max_iterz'");
        assertOneLine(run("train", "--config", tmp.resolve("absent.json").toString()), 1, "absent.json: no such file or directory");
    }

    @Test
    void jsonNestedBeyondTheParsersLimitIsNamedNotANullPointer() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("deep"));
        Files.writeString(dir.resolve("config.json"), "[".repeat(5000) + "]".repeat(5000));
        Run r = run("generate", "--model", dir.toString(), "--prompt", "x");
        assertOneLine(r, 1, dir.resolve("config.json") + ": not valid JSON");
        assertFalse(r.err().contains("NullPointerException"), r.err());
    }

    @Test
    void anOutDirThatIsAFileIsNamed() throws Exception {
        Path file = Files.writeString(tmp.resolve("taken"), "x");
        Run r = run("train", "--set", "out_dir=" + file.resolve("sub"), "--set", "max_iters=0", "--set", "model.n_layer=1",
                "--set", "model.n_embd=16", "--set", "model.n_head=1", "--final-eval-iters", "0", "--sample-tokens", "0", "--progress", "off");
        assertEquals(1, r.rc(), r.err());
        assertOneLine(r, 1, "jllm train: ", file.toString());
    }

    @Test
    void invalidUtf8IsReportedWithFileAndLine() throws Exception {
        Path f = tmp.resolve("data.jsonl");
        Files.write(f, new byte[] {'{', '}', '\n', 'o', 'k', '\n', 'a', (byte) 0xC3, (byte) 0x28, '\n'});
        var e = assertThrows(IllegalArgumentException.class, () -> TextFiles.readUtf8(f));
        assertEquals(f + " line 3: not valid UTF-8 (byte offset 7, byte 0xc3)", e.getMessage());
        assertEquals("ok\n", TextFiles.readUtf8(Files.writeString(tmp.resolve("fine.txt"), "ok\n")));
    }

    @Test
    void runningOutOfHeapOnTheCommandsOwnThreadIsOneLineNotAStackTrace() throws Exception {
        // a JVM of its own with a 48 MB heap: GPT-2's weights alone are 0.5 GB
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules", "jdk.incubator.vector",
                "-Xmx48m", "-cp", System.getProperty("java.class.path"), "jllm.cli.Main",
                "bench", "train", "--case", "gpt2", "--no-torch", "--repeats", "1", "--warmup", "0").redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(1, p.waitFor(), err);
        String[] lines = new Run(1, "", err).errLines();
        assertEquals(1, lines.length, err);
        assertTrue(lines[0].startsWith("jllm bench train: out of memory (the JVM may use at most 0.1 GB; set JLLM_JAVA_OPTS=-Xmx...)"), err);
    }
}
