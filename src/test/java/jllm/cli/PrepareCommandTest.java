package jllm.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jllm.data.DatasetMeta;
import jllm.data.TokenFile;
import jllm.tokenizer.CharTokenizer;
import jllm.tokenizer.Gpt2Tokenizer;
import jllm.tokenizer.Tokenizer;

class PrepareCommandTest {

    @TempDir
    Path dir;

    private record Run(int code, String out, String err) {}

    private static Run run(String... args) {
        StringWriter out = new StringWriter(), err = new StringWriter();
        var cl = Main.commandLine();
        cl.setOut(new PrintWriter(out, true));
        cl.setErr(new PrintWriter(err, true));
        int code = cl.execute(args);
        return new Run(code, out.toString(), err.toString());
    }

    private static int[] read(Path p) throws IOException {
        try (TokenFile f = TokenFile.open(p)) {
            return f.toIntArray();
        }
    }

    private static final String TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n";

    @Test
    void charEndToEnd() throws IOException {
        Path in = dir.resolve("tiny.txt");
        Files.writeString(in, TEXT);
        Path out = dir.resolve("out");
        Run r = run("prepare", "--input", in.toString(), "--tokenizer", "char", "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        int n = TEXT.length(), nTrain = (int) (0.9 * n);
        assertTrue(r.out().contains("length of dataset in characters: " + n), r.out());
        assertTrue(r.out().contains("train has " + nTrain + " tokens"), r.out());
        assertTrue(r.out().contains("val has " + (n - nTrain) + " tokens"), r.out());

        DatasetMeta meta = DatasetMeta.read(out);
        assertEquals("char", meta.tokenizer());
        Tokenizer tok = meta.toTokenizer();
        assertEquals(CharTokenizer.fromText(TEXT).chars(), ((CharTokenizer) tok).chars());
        assertTrue(r.out().contains("vocab size: " + tok.vocabSize()), r.out());
        int[] train = read(out.resolve("train.bin")), val = read(out.resolve("val.bin"));
        assertEquals(nTrain, train.length);
        assertEquals(TEXT, tok.decode(train) + tok.decode(val));
    }

    @Test
    void gpt2EndToEndSplitsTheTextThenEncodes() throws IOException {
        Path in = dir.resolve("tiny.txt");
        Files.writeString(in, TEXT);
        Path out = dir.resolve("g");
        Run r = run("prepare", "--input", in.toString(), "--tokenizer", "gpt2", "--out", out.toString(), "--val-fraction", "0.25");
        assertEquals(0, r.code(), r.err());
        int cut = (int) (0.75 * TEXT.length());
        Gpt2Tokenizer tok = Gpt2Tokenizer.get();
        int[] train = read(out.resolve("train.bin")), val = read(out.resolve("val.bin"));
        assertArrayEquals(tok.encode(TEXT.substring(0, cut)), train);
        assertArrayEquals(tok.encode(TEXT.substring(cut)), val);
        assertTrue(r.out().contains("train has " + train.length + " tokens"), r.out());
        assertSame(tok, DatasetMeta.read(out).toTokenizer());
    }

    /** The bundled Tiny Shakespeare gives nanoGPT's shakespeare_char and shakespeare counts. */
    @Test
    void tinyShakespeareCountsMatchNanoGpt() throws IOException {
        Run c = run("prepare", "--tokenizer", "char", "--out", dir.resolve("c").toString());
        assertEquals(0, c.code(), c.err());
        assertTrue(c.out().contains("length of dataset in characters: 1,115,394"), c.out());
        assertTrue(c.out().contains("vocab size: 65"), c.out());
        assertTrue(c.out().contains("train has 1,003,854 tokens"), c.out());
        assertTrue(c.out().contains("val has 111,540 tokens"), c.out());
        assertEquals(2 * 1_003_854, Files.size(dir.resolve("c/train.bin")));

        Run g = run("prepare", "--tokenizer", "gpt2", "--out", dir.resolve("g").toString());
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().contains("train has 301,966 tokens"), g.out());
        assertTrue(g.out().contains("val has 36,059 tokens"), g.out());
    }

    @Test
    void badInputsAreReported() throws IOException {
        Run t = run("prepare", "--tokenizer", "bpe", "--out", dir.toString());
        assertNotEquals(0, t.code());
        assertTrue(t.err().contains("--tokenizer must be char or gpt2"), t.err());
        Run f = run("prepare", "--val-fraction", "1", "--out", dir.toString());
        assertNotEquals(0, f.code());
        assertTrue(f.err().contains("--val-fraction"), f.err());
        Run m = run("prepare", "--input", dir.resolve("nope.txt").toString(), "--out", dir.toString());
        assertEquals(1, m.code());
        assertTrue(m.err().contains("does not exist"), m.err());
        Run d = run("prepare", "--input", dir.toString(), "--out", dir.resolve("o").toString());
        assertEquals(1, d.code());
        assertTrue(d.err().contains("is not a regular file"), d.err());
        Path one = dir.resolve("one.txt");
        Files.writeString(one, "a");
        Run s1 = run("prepare", "--input", one.toString(), "--out", dir.resolve("o").toString());
        assertEquals(1, s1.code());
        assertTrue(s1.err().contains("is too short"), s1.err());
        Path bad = dir.resolve("bad.txt");
        Files.write(bad, new byte[] {'a', 'b', (byte) 0xFF, 'c'});
        Run u = run("prepare", "--input", bad.toString(), "--out", dir.toString());
        assertEquals(1, u.code());
        assertTrue(u.err().contains("not valid UTF-8") && u.err().contains("byte offset 2"), u.err());
    }
}
