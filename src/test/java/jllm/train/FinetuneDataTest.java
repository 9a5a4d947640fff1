package jllm.train;

import jllm.data.Batch;
import jllm.tensor.Generator;
import jllm.tokenizer.CharTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class FinetuneDataTest {
    private static final CharTokenizer TOK = CharTokenizer.fromText("abcdefghijklmnopqrstuvwxyz ?!.\n");
    private static final int BOS = 30, EOS = 29; // "\n" and "." double as bos/eos for the test

    @Test
    void instructionDataCountsOnlyTheResponse(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("data.jsonl");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 10; i++) sb.append("{\"prompt\": \"q").append("abc".substring(0, 1 + i % 3)).append("?\", \"response\": \"yes\"}\n");
        Files.writeString(f, sb + "\n");
        FinetuneData d = FinetuneData.load(f, new FinetuneData.Encoding(TOK, BOS, EOS), 4, 32, 1);
        assertTrue(d.isInstructionData());
        assertTrue(d.description().contains("10 prompt/response examples (train 9, val 1)"), d.description());
        Batch b = d.get(BatchSource.TRAIN, new Generator(3));
        long[] x = b.x().toLongArray(), y = b.y().toLongArray();
        int t = b.x().size(1);
        for (int r = 0; r < 4; r++) {
            // row = bos q <1..3 letters> ? y e s eos, padded; targets: -100 over the prompt, then "yes" + eos, then -100
            int len = 0;
            while (len < t && !(len > 0 && x[r * t + len - 1] == EOS)) len++;
            String row = TOK.decode(new int[] {(int) x[r * t + 1], (int) x[r * t + 2]});
            assertEquals("q", row.substring(0, 1));
            int firstTarget = -1;
            for (int j = 0; j < t; j++) if (y[r * t + j] != FinetuneData.IGNORE_INDEX) { firstTarget = j; break; }
            assertEquals(TOK.encode("y")[0], y[r * t + firstTarget], "first trained target is the response's first token");
            assertEquals('?', TOK.decode(new int[] {(int) x[r * t + firstTarget]}).charAt(0), "predicted from the prompt's last token");
            int counted = 0;
            for (int j = 0; j < t; j++) if (y[r * t + j] != FinetuneData.IGNORE_INDEX) counted++;
            assertEquals(4, counted, "y, e, s and eos are trained on");
        }
    }

    @Test
    void plainTextIsRandomWindows(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("data.txt");
        Files.writeString(f, "the quick brown fox jumps over the lazy dog. ".repeat(20));
        FinetuneData d = FinetuneData.load(f, new FinetuneData.Encoding(TOK, null, null), 3, 16, 1);
        assertFalse(d.isInstructionData());
        Batch b = d.get(BatchSource.VAL, new Generator(1));
        assertArrayEquals(new int[] {3, 16}, b.x().shape());
        assertEquals(b.x().narrow(1, 1, 15).toLongArray().length, 45);
        assertArrayEquals(b.x().narrow(1, 1, 15).contiguous().toLongArray(), b.y().narrow(1, 0, 15).contiguous().toLongArray());
    }

    @Test
    void badInputNamesTheFileAndLine(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, "{\"prompt\": \"a\", \"response\": \"b\"}\n{\"prompt\": \"a\"}\n");
        var e = assertThrows(IllegalArgumentException.class, () -> FinetuneData.load(f, new FinetuneData.Encoding(TOK, null, null), 2, 8, 1));
        assertTrue(e.getMessage().contains("bad.jsonl line 2") && e.getMessage().contains("\"response\" is missing"), e.getMessage());
        Files.writeString(f, "{\"prompt\": \"a\", \"response\": \"b\"}\nnot json\n");
        e = assertThrows(IllegalArgumentException.class, () -> FinetuneData.load(f, new FinetuneData.Encoding(TOK, null, null), 2, 8, 1));
        assertTrue(e.getMessage().contains("line 2: not valid JSON"), e.getMessage());
        Path tiny = dir.resolve("tiny.txt");
        Files.writeString(tiny, "abc");
        e = assertThrows(IllegalArgumentException.class, () -> FinetuneData.load(tiny, new FinetuneData.Encoding(TOK, null, null), 2, 8, 1));
        assertTrue(e.getMessage().contains("too few for block_size 8"), e.getMessage());
        assertThrows(NoSuchFileException.class, () -> FinetuneData.load(dir.resolve("nope.txt"), new FinetuneData.Encoding(TOK, null, null), 2, 8, 1));
    }
}
