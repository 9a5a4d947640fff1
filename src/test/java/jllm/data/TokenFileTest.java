package jllm.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jllm.tokenizer.CharTokenizer;
import jllm.tokenizer.Gpt2Tokenizer;

class TokenFileTest {

    @TempDir
    Path dir;

    @Test
    void writesLittleEndianUint16AndReadsBackUnsigned() throws IOException {
        int[] tokens = {0, 1, 255, 256, 0x1234, 50256, 65535};
        Path p = dir.resolve("train.bin");
        TokenFile.write(p, tokens);
        byte[] raw = Files.readAllBytes(p);
        assertArrayEquals(new byte[] {0, 0, 1, 0, (byte) 0xFF, 0, 0, 1, 0x34, 0x12, 0x50, (byte) 0xC4, (byte) 0xFF, (byte) 0xFF}, raw);
        try (TokenFile f = TokenFile.open(p)) {
            assertEquals(7, f.length());
            assertEquals(65535, f.get(6));
            assertEquals(50256, f.get(5));
            long[] dst = new long[5];
            f.read(2, 3, dst, 1);
            assertArrayEquals(new long[] {0, 255, 256, 0x1234, 0}, dst);
            assertArrayEquals(tokens, f.toIntArray());
            assertThrows(IndexOutOfBoundsException.class, () -> f.get(7));
            assertThrows(IndexOutOfBoundsException.class, () -> f.get(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> f.read(5, 3, new long[3], 0));
            assertThrows(IndexOutOfBoundsException.class, () -> f.read(0, 3, new long[3], 1));
            assertThrows(IndexOutOfBoundsException.class, () -> f.readInts(6, 2));
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(p), files.toList(), "no temporary files left behind");
        }
    }

    @Test
    void closedFileCannotBeRead() throws IOException {
        Path p = dir.resolve("a.bin");
        TokenFile.write(p, new int[] {1, 2});
        TokenFile f = TokenFile.open(p);
        f.close();
        assertThrows(IllegalStateException.class, () -> f.get(0));
    }

    @Test
    void overwritesAtomicallyAndHandlesEmpty() throws IOException {
        Path p = dir.resolve("sub/val.bin");
        TokenFile.write(p, new int[] {1, 2, 3});
        TokenFile.write(p, new int[0]);
        try (TokenFile f = TokenFile.open(p)) {
            assertEquals(0, f.length());
            assertArrayEquals(new int[0], f.toIntArray());
        }
    }

    @Test
    void rejectsTokensThatDoNotFitAndOddFiles() throws IOException {
        Path p = dir.resolve("x.bin");
        var e = assertThrows(IllegalArgumentException.class, () -> TokenFile.write(p, new int[] {5, 65536}));
        assertTrue(e.getMessage().contains("65536") && e.getMessage().contains("index 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TokenFile.write(p, new int[] {-1}));
        assertFalse(Files.exists(p));
        Files.write(p, new byte[] {1, 2, 3});
        var odd = assertThrows(IllegalArgumentException.class, () -> TokenFile.open(p));
        assertTrue(odd.getMessage().contains("3 bytes"), odd.getMessage());
        assertThrows(IOException.class, () -> TokenFile.open(dir.resolve("missing.bin")));
    }

    @Test
    void metaJson() throws IOException {
        CharTokenizer tok = CharTokenizer.fromText("ba\n");
        DatasetMeta.of(tok).write(dir);
        String json = Files.readString(dir.resolve("meta.json"));
        assertEquals("{\"vocab_size\":3,\"tokenizer\":\"char\",\"chars\":[\"\\n\",\"a\",\"b\"]}", json.replaceAll("\\s", ""));
        DatasetMeta back = DatasetMeta.read(dir);
        assertEquals(new DatasetMeta("char", 3, List.of("\n", "a", "b")), back);
        assertEquals(List.of("\n", "a", "b"), ((CharTokenizer) back.toTokenizer()).chars());

        Path g = dir.resolve("g");
        DatasetMeta.of(Gpt2Tokenizer.get()).write(g);
        assertEquals("{\"tokenizer\":\"gpt2\",\"vocab_size\":50257}", Files.readString(g.resolve("meta.json")).replaceAll("\\s", ""));
        assertSame(Gpt2Tokenizer.get(), DatasetMeta.read(g.resolve("meta.json")).toTokenizer());

        Files.writeString(g.resolve("meta.json"), "{\"tokenizer\":\"char\",\"vocab_size\":4,\"chars\":[\"a\"]}");
        var e = assertThrows(IllegalArgumentException.class, () -> DatasetMeta.read(g));
        assertTrue(e.getMessage().contains("meta.json") && e.getMessage().contains("vocab_size 4"), e.getMessage());
    }
}
