package jllm.io.llama2c;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import jllm.io.llama2c.Llama2cCheckpoint.Part;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Llama2cCheckpointTest {

    @TempDir
    Path tmp;

    @Test
    void readsTheAidreamsHeader() throws IOException {
        try (Llama2cCheckpoint ck = Llama2cCheckpoint.open(Llama2cFixtures.model())) {
            assertEquals(new Llama2cConfig(0, 64, 172, 4, 4, 4, 512, 128, true), ck.config());
            assertEquals(Files.size(Llama2cFixtures.model()), Llama2cCheckpoint.expectedSize(ck.config()));
            assertEquals(4L * 512 * 64, ck.tokenEmbedding().byteSize());
            assertArrayEquals(new long[] {172, 64}, ck.shape(Part.W1));
            assertArrayEquals(new long[] {64, 172}, ck.shape(Part.W2));
            // shared classifier: the same bytes as the embedding
            assertEquals(ck.tokenEmbedding().address(), ck.classifier().address());
        }
    }

    @Test
    void legacyLayoutOffsets() throws IOException {
        // dim 8, hidden 12, 2 layers, 2 heads, 1 kv head (head size 4, kv dim 4), vocab 5, seq 3, untied
        Path f = Llama2cFixtures.writeV0(tmp.resolve("t.bin"), 8, 12, 2, 2, 1, 5, 3, false);
        try (Llama2cCheckpoint ck = Llama2cCheckpoint.open(f)) {
            assertEquals(false, ck.config().sharedClassifier());
            long at = 0;
            assertEquals(at, first(ck.tokenEmbedding()));
            at += 5 * 8;
            long[] sizes = {8, 64, 32, 32, 64, 8, 96, 96, 96};
            for (Part p : Part.values()) {
                for (int l = 0; l < 2; l++) {
                    assertEquals(at, first(ck.layer(p, l)), p + " layer " + l);
                    at += sizes[p.ordinal()];
                }
            }
            assertEquals(at, first(ck.finalNorm()));
            at += 8 + 3 * 4; // final norm, then the two RoPE tables of seq_len * head_size / 2
            assertEquals(at, first(ck.classifier()));
            assertThrows(IndexOutOfBoundsException.class, () -> ck.layer(Part.WQ, 2));
        }
    }

    private static long first(java.lang.foreign.MemorySegment s) {
        return (long) Llama2cCheckpoint.floats(s)[0];
    }

    @Test
    void sizeMismatchNamesFileExpectedAndActual() throws IOException {
        byte[] good = Files.readAllBytes(Llama2cFixtures.model());
        Path shortFile = tmp.resolve("short.bin");
        Files.write(shortFile, Arrays.copyOf(good, good.length - 4));
        IOException e = assertThrows(IOException.class, () -> Llama2cCheckpoint.open(shortFile));
        assertTrue(e.getMessage().contains(shortFile.toString()), e.getMessage());
        assertTrue(e.getMessage().contains("file is " + (good.length - 4) + " bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("implies " + good.length + " bytes"), e.getMessage());
        assertTrue(e.getMessage().contains("too short by 4"), e.getMessage());

        Path longFile = tmp.resolve("long.bin");
        Files.write(longFile, Arrays.copyOf(good, good.length + 8));
        e = assertThrows(IOException.class, () -> Llama2cCheckpoint.open(longFile));
        assertTrue(e.getMessage().contains("too long by 8"), e.getMessage());

        Path tiny = tmp.resolve("tiny.bin");
        Files.write(tiny, new byte[10]);
        e = assertThrows(IOException.class, () -> Llama2cCheckpoint.open(tiny));
        assertTrue(e.getMessage().contains(tiny + ": not a llama2.c checkpoint: 10 bytes"), e.getMessage());
    }

    @Test
    void badHeadersAreRefused() throws IOException {
        assertHeaderError(new int[] {64, 172, 4, 0, 4, 512, 128}, "must be positive");
        assertHeaderError(new int[] {64, 172, 4, 3, 3, 512, 128}, "dim 64 is not a multiple of n_heads 3");
        assertHeaderError(new int[] {64, 172, 4, 4, 3, 512, 128}, "n_heads 4 is not a multiple of n_kv_heads 3");
        assertHeaderError(new int[] {60, 172, 4, 4, 4, 512, 128}, "head size 15");
    }

    private void assertHeaderError(int[] header, String want) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        for (int h : header) {
            b.putInt(h);
        }
        Path f = tmp.resolve("bad.bin");
        Files.write(f, b.array());
        IOException e = assertThrows(IOException.class, () -> Llama2cCheckpoint.open(f));
        assertTrue(e.getMessage().startsWith(f + ": bad llama2.c header: "), e.getMessage());
        assertTrue(e.getMessage().contains(want), e.getMessage());
    }

    @Test
    void version2IsRefusedByName() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN).putInt(Llama2cCheckpoint.MAGIC).putInt(2);
        Path f = tmp.resolve("q80.bin");
        Files.write(f, b.array());
        IOException e = assertThrows(IOException.class, () -> Llama2cCheckpoint.open(f));
        assertTrue(e.getMessage().contains("version 2 is not supported (Q8_0"), e.getMessage());
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
    }

    @Test
    void version1HoldsTheSameWeightsAsVersion0() throws IOException {
        // Re-export aidreams in export.py's version 1 layout and check every weight reads back equal.
        Path v1 = tmp.resolve("v1.bin");
        try (Llama2cCheckpoint v0 = Llama2cCheckpoint.open(Llama2cFixtures.model())) {
            Llama2cConfig c = v0.config();
            ByteBuffer h = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
            h.putInt(Llama2cCheckpoint.MAGIC).putInt(1).putInt(c.dim()).putInt(c.hiddenDim()).putInt(c.nLayers())
                    .putInt(c.nHeads()).putInt(c.nKvHeads()).putInt(c.vocabSize()).putInt(c.seqLen()).put((byte) 1);
            try (var out = Files.newOutputStream(v1)) {
                out.write(h.array());
                for (int l = 0; l < c.nLayers(); l++) {
                    out.write(v0.layer(Part.RMS_ATT, l).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                }
                for (int l = 0; l < c.nLayers(); l++) {
                    out.write(v0.layer(Part.RMS_FFN, l).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                }
                out.write(v0.finalNorm().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                out.write(v0.tokenEmbedding().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                for (Part p : new Part[] {Part.WQ, Part.WK, Part.WV, Part.WO, Part.W1, Part.W2, Part.W3}) {
                    for (int l = 0; l < c.nLayers(); l++) {
                        out.write(v0.layer(p, l).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
                    }
                }
            }
            try (Llama2cCheckpoint r = Llama2cCheckpoint.open(v1)) {
                assertEquals(1, r.config().version());
                assertEquals(c.dim(), r.config().dim());
                assertTrue(r.config().sharedClassifier());
                assertArrayEquals(Llama2cCheckpoint.floats(v0.tokenEmbedding()), Llama2cCheckpoint.floats(r.tokenEmbedding()));
                assertArrayEquals(Llama2cCheckpoint.floats(v0.finalNorm()), Llama2cCheckpoint.floats(r.finalNorm()));
                for (Part p : Part.values()) {
                    for (int l = 0; l < c.nLayers(); l++) {
                        assertArrayEquals(Llama2cCheckpoint.floats(v0.layer(p, l)), Llama2cCheckpoint.floats(r.layer(p, l)), p + " " + l);
                    }
                }
            }
        }
        // A version 1 file one float short is caught like a legacy one.
        byte[] all = Files.readAllBytes(v1);
        Files.write(v1, Arrays.copyOf(all, all.length - 4));
        IOException e = assertThrows(IOException.class, () -> Llama2cCheckpoint.open(v1));
        assertTrue(e.getMessage().contains("too short by 4"), e.getMessage());
    }
}
