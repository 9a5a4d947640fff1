package jllm.cli;

import jllm.serve.ServeFixtures;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static jllm.cli.ExamplesCommandTest.run;
import static org.junit.jupiter.api.Assertions.*;

/** `jllm bench serve` end to end on the 260K Llama: the runs, the soak, and bad options. */
class BenchServeCommandTest {

    @Test
    void reportsEachConcurrencyAgainstOneClient() {
        var r = run("bench", "serve", "--model", ServeFixtures.MODEL.toString(), "--clients", "1,3", "--requests", "6", "--max-tokens", "8",
                "--prompt-len", "5", "--warmup", "2");
        assertEquals(0, r.rc(), r.out() + r.err());
        String out = r.out();
        assertTrue(out.contains("bench serve: aidreams (llama, context 128) at http://127.0.0.1:") && out.contains("6 requests per run, prompt 5 tokens, max_tokens 8"), out);
        assertTrue(out.contains("warm-up: 2 requests at 3 clients"), out);
        assertTrue(out.contains("clients requests/s  tokens/s vs 1 client  TTFT p50  TTFT p99  ITL p50  ITL p99  errors"), out);
        Pattern row = Pattern.compile("(?m)^\\s+(\\d+)\\s+([\\d.]+)\\s+([\\d.]+)\\s+([\\d.]+)x\\s+(\\d+)ms\\s+(\\d+)ms\\s+([\\d.]+)ms\\s+([\\d.]+)ms\\s+(\\d+)$");
        Matcher m = row.matcher(out);
        List<String> clients = new java.util.ArrayList<>();
        while (m.find()) {
            clients.add(m.group(1));
            assertTrue(Double.parseDouble(m.group(2)) > 0 && Double.parseDouble(m.group(3)) > 0, m.group());
            assertTrue(Integer.parseInt(m.group(5)) <= Integer.parseInt(m.group(6)), "p50 <= p99: " + m.group());
            assertEquals("0", m.group(9), "no errors: " + m.group());
            if (m.group(1).equals("1")) assertEquals("1.00", m.group(4));
        }
        assertEquals(List.of("1", "3"), clients, out);
    }

    @Test
    void soakCountsOnlyUnintendedErrorsAndReportsMemory() {
        var r = run("bench", "serve", "--model", ServeFixtures.MODEL.toString(), "--soak", "3", "--clients", "5", "--max-tokens", "24", "--prompt-len", "8");
        assertEquals(0, r.rc(), r.out() + r.err());
        String out = r.out();
        assertTrue(out.contains("soak: 3 s, 5 clients; at start: RSS ") && out.contains(" MB, heap after GC "), out);
        Matcher m = Pattern.compile("(\\d+) client disconnects mid-stream, (\\d+) bad requests refused with 400 as intended, (\\d+) unexpected errors").matcher(out);
        assertTrue(m.find(), out);
        assertTrue(Integer.parseInt(m.group(1)) > 0 && Integer.parseInt(m.group(2)) > 0, "both kinds of intended trouble happened: " + m.group());
        assertEquals("0", m.group(3));
        assertTrue(out.contains("sequences left on the server: 0"), out);
        assertTrue(Pattern.compile("soak: at end: RSS [\\d.]+ MB \\(start [\\d.]+ MB\\), heap after GC [\\d.]+ MB \\(start [\\d.]+ MB\\)").matcher(out).find(), out);
    }

    /**
     * --llama-cpp runs llama.cpp on the same GGUF file after jllm's rows; where tools/gguf has no
     * node-llama-cpp (here: a jllm.home without it) it says so and what it needs, and jllm's rows stand.
     */
    @Test
    void llamaCppNeedsAGgufFileAndSaysWhenItCannotRun(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
        String dir = ServeFixtures.MODEL.toString();
        var notFile = run("bench", "serve", "--model", dir, "--llama-cpp");
        assertEquals(2, notFile.rc());
        assertTrue(notFile.err().contains("--llama-cpp needs --model FILE.gguf, the file llama.cpp reads (write one with `jllm convert gguf`), got " + dir),
                notFile.err());
        String gguf = tmp.resolve("m.gguf").toString();
        assertEquals(0, run("convert", "gguf", "--model", dir, "--out", gguf).rc());
        assertEquals(2, run("bench", "serve", "--model", gguf, "--llama-cpp", "--soak", "2").rc());
        String home = System.getProperty("jllm.home");
        System.setProperty("jllm.home", tmp.toString());
        try {
            var r = run("bench", "serve", "--model", gguf, "--llama-cpp", "--clients", "1,2", "--requests", "2", "--max-tokens", "4",
                    "--prompt-len", "3", "--warmup", "1");
            assertEquals(0, r.rc(), r.out() + r.err());
            assertTrue(r.out().contains("clients requests/s  tokens/s vs 1 client"), r.out());
            assertTrue(r.out().contains("llama.cpp: not run (needs Node and `npm ci` in tools/gguf, which installs node-llama-cpp 3.21.1)"), r.out());
        } finally {
            if (home == null) System.clearProperty("jllm.home");
            else System.setProperty("jllm.home", home);
        }
    }

    @Test
    void badOptionsAreUsageErrors() {
        String model = ServeFixtures.MODEL.toString();
        var c = run("bench", "serve", "--model", model, "--clients", "1,0");
        assertEquals(2, c.rc());
        assertTrue(c.err().contains("--clients must be >= 1, got [1, 0]"), c.err());
        assertEquals(2, run("bench", "serve", "--model", model, "--requests", "0").rc());
        assertEquals(2, run("bench", "serve", "--model", model, "--soak", "0").rc());
        var ctx = run("bench", "serve", "--model", model, "--prompt-len", "100", "--max-tokens", "64");
        assertEquals(1, ctx.rc());
        assertTrue(ctx.err().contains("--prompt-len (100) plus --max-tokens (64) is more than the model's context of 128 tokens"), ctx.err());
        assertTrue(run("bench", "serve", "--help").out().contains("--soak=SECONDS"));
    }
}
