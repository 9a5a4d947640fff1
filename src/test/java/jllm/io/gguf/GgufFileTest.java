package jllm.io.gguf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The GGUF container: what the writer puts in a file is what the reader finds (metadata of every
 * kind, tensor infos, aligned data), and each kind of damage to a file is an error naming the file
 * and the key or tensor it is about.
 */
class GgufFileTest {
    @TempDir
    Path dir;

    /** Two tensors "t.a" [3, 2] F32 = 0..5 and "t.b" [32] Q8_0 (bytes 0..33), plus one key of each type. */
    private Path small(String name) throws IOException {
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", "test");
        w.putUint32("test.count", 7);
        w.putFloat32("test.eps", 1e-5);
        w.putBool("test.flag", true);
        w.putStrings("test.words", List.of("a", "▁b", ""));
        w.putFloat32s("test.scores", new float[] {0.5f, -1f});
        w.putInt32s("test.types", new int[] {1, 3, 6});
        float[] a = {0, 1, 2, 3, 4, 5};
        w.addTensor("t.a", new long[] {2, 3}, GgmlType.F32, 24, (off, dst) -> MemorySegment.copy(a, (int) off / 4, dst, GgufFile.LE_F32, 0, (int) dst.byteSize() / 4));
        byte[] b = new byte[34];
        for (int i = 0; i < b.length; i++) b[i] = (byte) i;
        w.addTensor("t.b", new long[] {32}, GgmlType.Q8_0, 34, (off, dst) -> MemorySegment.copy(MemorySegment.ofArray(b), off, dst, 0, dst.byteSize()));
        Path f = dir.resolve(name);
        w.write(f);
        return f;
    }

    @Test
    void writtenMetadataAndTensorsReadBack() throws IOException {
        GgufFile f = GgufFile.open(small("ok.gguf"));
        assertEquals(3, f.version());
        assertEquals(32, f.alignment());
        assertEquals("test", f.string("general.architecture", ""));
        assertEquals(7, f.positiveInt("test.count", ""));
        assertEquals(1e-5, f.number("test.eps", ""), 0.0, "a float32 reads as the decimal it was written from");
        assertTrue(f.bool("test.flag", "", false));
        assertArrayEquals(new String[] {"a", "▁b", ""}, f.strings("test.words", ""));
        assertArrayEquals(new float[] {0.5f, -1f}, f.floats("test.scores", ""));
        assertArrayEquals(new long[] {1, 3, 6}, f.integers("test.types", ""));
        assertEquals(List.of("t.a", "t.b"), List.copyOf(f.tensors().keySet()));
        GgufFile.TensorInfo a = f.tensor("t.a");
        assertArrayEquals(new long[] {2, 3}, a.ne());
        assertArrayEquals(new long[] {3, 2}, a.shape(), "PyTorch's shape is ne reversed");
        float[] av = f.data(a).toArray(GgufFile.LE_F32);
        assertArrayEquals(new float[] {0, 1, 2, 3, 4, 5}, av);
        GgufFile.TensorInfo b = f.tensor("t.b");
        assertEquals(0, (f.dataOffset() + b.offset()) % 32, "tensor data is aligned");
        assertEquals(32, b.offset(), "each tensor starts at the next multiple of 32 after the previous");
        assertEquals(33, f.data(b).get(ValueLayout.JAVA_BYTE, 33));
        assertEquals(0, f.dataOffset() % 32);
        assertEquals(f.dataOffset() + 96, Files.size(f.path()), "the last tensor is padded too, as ggml sizes the data section");
    }

    private static void assertFails(Path file, String... parts) {
        GgufException e = assertThrows(GgufException.class, () -> GgufFile.open(file));
        assertTrue(e.getMessage().startsWith(file.toString() + ": "), e.getMessage());
        for (String p : parts) assertTrue(e.getMessage().contains(p), "'" + p + "' in: " + e.getMessage());
    }

    /** Where a tensor's info starts being about its dimensions: just after its name. */
    private static int afterName(byte[] file, String name) {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i + n.length <= file.length; i++) {
            if (Arrays.equals(Arrays.copyOfRange(file, i, i + n.length), n)) return i + n.length;
        }
        throw new AssertionError(name);
    }

    private Path damaged(String name, java.util.function.Consumer<ByteBuffer> change) throws IOException {
        byte[] bytes = Files.readAllBytes(small(name + ".src"));
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        change.accept(b);
        Path f = dir.resolve(name);
        Files.write(f, Arrays.copyOf(bytes, b.limit()));
        return f;
    }

    @Test
    void badMagicAndVersions() throws IOException {
        assertFails(damaged("magic.gguf", b -> b.put(0, (byte) 'X')), "not a GGUF file: bad magic 58 47 55 46");
        assertFails(damaged("v1.gguf", b -> b.putInt(4, 1)), "GGUF version 1 is not supported");
        assertFails(damaged("v9.gguf", b -> b.putInt(4, 9)), "unsupported GGUF version 9");
        assertFails(damaged("be.gguf", b -> b.putInt(4, Integer.reverseBytes(3))), "big-endian GGUF files are not supported");
        Path empty = dir.resolve("empty.gguf");
        Files.write(empty, new byte[0]);
        assertFails(empty, "0 bytes long");
    }

    @Test
    void truncatedFilesNameWhatWasBeingRead() throws IOException {
        Path ok = small("whole.gguf");
        long size = Files.size(ok);
        byte[] all = Files.readAllBytes(ok);
        int inKeys = afterName(all, "test.words") + 10;
        Path cut = dir.resolve("cut-keys.gguf");
        Files.write(cut, Arrays.copyOf(all, inKeys));
        assertFails(cut, "file truncated", "test.words");
        Path cutInfos = dir.resolve("cut-infos.gguf");
        Files.write(cutInfos, Arrays.copyOf(all, afterName(all, "t.b") + 2));
        assertFails(cutInfos, "file truncated", "tensor 't.b'");
        Path cutData = dir.resolve("cut-data.gguf");
        Files.write(cutData, Arrays.copyOf(all, (int) size - 40));
        assertFails(cutData, "tensor 't.b'", "runs past the end of the file", "truncated");
    }

    @Test
    void badTensorInfos() throws IOException {
        // t.b: name, n_dims (4), ne[0] (8), type (4), offset (8)
        assertFails(damaged("offset.gguf", b -> b.putLong(afterName(b.array(), "t.b") + 4 + 8 + 4, 1 << 20)),
                "tensor 't.b'", "runs past the end of the file");
        assertFails(damaged("misaligned.gguf", b -> b.putLong(afterName(b.array(), "t.b") + 4 + 8 + 4, 40)),
                "tensor 't.b'", "not a multiple of the alignment 32");
        assertFails(damaged("overlap.gguf", b -> b.putLong(afterName(b.array(), "t.b") + 4 + 8 + 4, 0)),
                "tensor 't.b'", "overlaps tensor 't.a'");
        assertFails(damaged("type.gguf", b -> b.putInt(afterName(b.array(), "t.b") + 4 + 8, 99)), "tensor 't.b' has unknown ggml type 99");
        assertFails(damaged("dims.gguf", b -> b.putInt(afterName(b.array(), "t.a"), 5)), "tensor 't.a' has 5 dimensions");
        assertFails(damaged("overflow.gguf", b -> {
            int at = afterName(b.array(), "t.a") + 4;
            b.putLong(at, 1L << 40).putLong(at + 8, 1L << 40);
        }), "tensor 't.a'", "overflow a 64-bit element count");
        assertFails(damaged("blocks.gguf", b -> b.putLong(afterName(b.array(), "t.b") + 4, 31)),
                "tensor 't.b' of type Q8_0 has rows of 31 elements, not a multiple of its block size 32");
        assertFails(damaged("dup.gguf", b -> b.put(afterName(b.array(), "t.b") - 1, (byte) 'a')), "duplicate tensor name 't.a'");
    }

    @Test
    void badMetadata() throws IOException {
        assertFails(damaged("dupkey.gguf", b -> b.put(afterName(b.array(), "test.types") - 5, "count".getBytes(StandardCharsets.UTF_8))),
                "duplicate metadata key 'test.count'");
        assertFails(damaged("vtype.gguf", b -> b.putInt(afterName(b.array(), "test.count"), 13)), "metadata key 'test.count' has unknown value type 13");
        assertFails(damaged("bool.gguf", b -> b.put(afterName(b.array(), "test.flag") + 4, (byte) 2)),
                "metadata key 'test.flag' is a bool with byte value 2");
        assertFails(damaged("strlen.gguf", b -> b.putLong(afterName(b.array(), "test.words") + 4 + 4 + 8, 1L << 50)),
                "metadata key 'test.words'[0] is 1125899906842624 bytes long");
        assertFails(damaged("count.gguf", b -> b.putLong(16, 1L << 40)), "metadata key/value count 1099511627776 is more than the rest of the file");
        GgufFile f = GgufFile.open(small("types.gguf"));
        GgufException e = assertThrows(GgufException.class, () -> f.string("test.count", ""));
        assertEquals(f.path() + ": metadata key 'test.count' is a uint32, expected a string", e.getMessage());
        e = assertThrows(GgufException.class, () -> f.string("llama.embedding_length", "hidden_size"));
        assertEquals(f.path() + ": missing metadata key 'llama.embedding_length' (hidden_size)", e.getMessage());
    }

    @Test
    void alignmentComesFromGeneralAlignment() throws IOException {
        for (Object[] c : new Object[][] {{48L, "metadata key 'general.alignment' is 48; it must be a power of two"},
                {64L, "tensor 't.b': data offset 32 is not a multiple of the alignment 64"}}) {
            GgufWriter w = new GgufWriter();
            w.putUint32("general.alignment", (Long) c[0]);
            w.addTensor("t.a", new long[] {2}, GgmlType.F32, 8, (o, d) -> {});
            w.addTensor("t.b", new long[] {2}, GgmlType.F32, 8, (o, d) -> {});
            Path f = dir.resolve("align" + c[0] + ".gguf");
            w.write(f);
            assertFails(f, (String) c[1]);
        }
    }

    @Test
    void writerRefusesWhatLlamaCppWouldNotRead() {
        GgufWriter w = new GgufWriter();
        w.putString("k", "v");
        assertThrows(IllegalArgumentException.class, () -> w.putString("k", "again"));
        w.addTensor("x", new long[] {32}, GgmlType.F32, 128, (o, d) -> {});
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("x", new long[] {32}, GgmlType.F32, 128, (o, d) -> {}));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("q", new long[] {31}, GgmlType.Q8_0, 34, (o, d) -> {}));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("n".repeat(64), new long[] {1}, GgmlType.F32, 4, (o, d) -> {}));
        assertThrows(IllegalArgumentException.class, () -> w.addTensor("s", new long[] {4}, GgmlType.F32, 12, (o, d) -> {}));
    }
}
