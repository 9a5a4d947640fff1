package jllm.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import jllm.tensor.Float16;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeTensorsTest {

    @TempDir
    Path dir;

    // ---- helpers ----

    private static byte[] le(long n) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(n).array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) out.writeBytes(p);
        return out.toByteArray();
    }

    /** A file with the given header text (its exact bytes, no padding) and data buffer. */
    private Path raw(String header, int dataLen) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        return rawBytes(concat(le(h.length), h, new byte[dataLen]));
    }

    private Path rawBytes(byte[] content) throws IOException {
        Path p = dir.resolve("bad.safetensors");
        Files.write(p, content);
        return p;
    }

    private static String entry(String name, String dtype, String shape, long begin, long end) {
        return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" + begin + "," + end + "]}";
    }

    /** Opening fails with a message naming the file and every fragment given. */
    private static SafeTensorsException assertOpenFails(Path p, String... fragments) {
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.open(p).close());
        assertTrue(e.getMessage().contains(p.toString()), () -> "file not named: " + e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "'" + f + "' missing from: " + e.getMessage());
        }
        return e;
    }

    private static byte[] bytes(MemorySegment s) {
        return s.toArray(ValueLayout.JAVA_BYTE);
    }

    private static TensorEntry entryOf(String name, StDType t, long[] shape, byte[] data) {
        return new TensorEntry(name, t, shape, MemorySegment.ofArray(data));
    }

    private List<Path> dirListing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.sorted().toList();
        }
    }

    // ---- round trips ----

    @Test
    void roundTripEveryDtype() throws IOException {
        List<TensorEntry> in = new ArrayList<>();
        for (StDType t : StDType.values()) {
            byte[] data = new byte[6 * t.byteSize()];
            for (int i = 0; i < data.length; i++) data[i] = (byte) (i * 7 + t.ordinal());
            in.add(entryOf("t_" + t.name().toLowerCase(), t, new long[] {2, 3}, data));
        }
        Path p = dir.resolve("all.safetensors");
        SafeTensors.write(p, in, null);
        for (boolean auto : new boolean[] {false, true}) {
            try (SafeTensorsFile f = auto ? SafeTensors.openAuto(p) : SafeTensors.open(p)) {
                assertEquals(in.size(), f.size());
                assertTrue(f.metadata().isEmpty());
                for (TensorEntry e : in) {
                    TensorEntry r = f.get(e.name());
                    assertEquals(e.dtype(), r.dtype());
                    assertArrayEquals(new long[] {2, 3}, r.shape());
                    assertArrayEquals(bytes(e.data()), bytes(r.data()), e.name());
                    assertTrue(r.data().isReadOnly());
                }
                // data order = dtype descending (reference order), each tensor right after the previous
                List<String> expect = new ArrayList<>();
                for (int i = StDType.values().length - 1; i >= 0; i--) {
                    expect.add("t_" + StDType.values()[i].name().toLowerCase());
                }
                assertEquals(expect, f.names());
            }
        }
        assertEquals(0, (8 + SafeTensors.open(p).headerLength()) % 8, "data buffer 8-aligned");
    }

    @Test
    void metadataRoundTripsAndComesFirst() throws IOException {
        Map<String, String> md = new LinkedHashMap<>();
        md.put("format", "pt");
        md.put("b", "ünïcode \"quoted\"\n");
        Path p = dir.resolve("md.safetensors");
        SafeTensors.write(p, List.of(entryOf("w", StDType.U8, new long[] {1}, new byte[] {9})), md);
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(md, f.metadata());
            assertEquals(List.of("b", "format"), List.copyOf(f.metadata().keySet()), "written sorted");
        }
        String header = new String(Files.readAllBytes(p), 8, 40, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{\"__metadata__\":{\"b\":"), header);
        // empty map: written as an empty object (as the reference does for Some({}))
        SafeTensors.write(p, List.of(), Map.of());
        byte[] all = Files.readAllBytes(p);
        assertEquals("{\"__metadata__\":{}}     ", new String(all, 8, all.length - 8, StandardCharsets.UTF_8));
    }

    @Test
    void scalarsAndZeroSizeTensors() throws IOException {
        byte[] scalar = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(3.5f).array();
        List<TensorEntry> in = List.of(
                entryOf("scalar", StDType.F32, new long[] {}, scalar),
                entryOf("empty", StDType.F32, new long[] {0}, new byte[0]),
                entryOf("empty2", StDType.F32, new long[] {2, 0, 3}, new byte[0]),
                entryOf("emptyI8", StDType.I8, new long[] {0, 5}, new byte[0]));
        Path p = dir.resolve("z.safetensors");
        SafeTensors.write(p, in, null);
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            TensorEntry s = f.get("scalar");
            assertEquals(0, s.shape().length);
            assertEquals(1, s.numel());
            assertArrayEquals(new float[] {3.5f}, s.toFloatArray());
            assertArrayEquals(new long[] {2, 0, 3}, f.get("empty2").shape());
            assertEquals(0, f.get("empty2").data().byteSize());
            assertEquals(0, f.get("emptyI8").toString().indexOf("TensorEntry[emptyI8"));
        }
        // a file of nothing but zero-size tensors has an empty data buffer
        SafeTensors.write(p, List.of(entryOf("e", StDType.BF16, new long[] {0}, new byte[0])), null);
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(0, f.get("e").numel());
        }
        SafeTensors.write(p, List.of(), null);
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(0, f.size());
        }
    }

    @Test
    void typedSourcesAndFloatReadBack() throws IOException {
        float[] v = new float[300_000]; // several write chunks
        for (int i = 0; i < v.length; i++) v[i] = (float) Math.sin(i) * 100;
        Path p = dir.resolve("typed.safetensors");
        SafeTensors.writeSources(p, List.of(
                TensorSource.f32("f32", new long[] {600, 500}, v),
                TensorSource.bf16("bf16", new long[] {300_000}, v),
                TensorSource.f16("f16", new long[] {1, 300_000}, v),
                TensorSource.i32("i32", new long[] {3}, new int[] {1, -2, 3}),
                TensorSource.i64("i64", new long[] {2}, new long[] {Long.MIN_VALUE, 42})), Map.of("k", "v"));
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertArrayEquals(v, f.get("f32").toFloatArray());
            float[] b = f.get("bf16").toFloatArray();
            float[] h = f.get("f16").toFloatArray();
            for (int i = 0; i < v.length; i++) {
                assertEquals(Float16.bf16ToFloat(Float16.floatToBf16(v[i])), b[i]);
                assertEquals(Float16.f16ToFloat(Float16.floatToF16(v[i])), h[i]);
            }
            MemorySegment i32 = f.get("i32").data();
            assertEquals(-2, i32.get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4));
            MemorySegment i64 = f.get("i64").data();
            assertEquals(Long.MIN_VALUE, i64.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
            assertThrows(SafeTensorsException.class, () -> f.get("i32").toFloatArray());
            assertEquals(List.of("i64", "f32", "i32", "bf16", "f16"), f.names());
        }
    }

    // ---- byte-exact against the reference library ----

    @Test
    void byteExactEmptyFiles() throws IOException {
        // Expected bytes of the reference implementation's serialize({}) and serialize({}, {"framework": "pt"}).
        Path p = dir.resolve("e.safetensors");
        SafeTensors.write(p, List.of(), null);
        assertArrayEquals(new byte[] {8, 0, 0, 0, 0, 0, 0, 0, '{', '}', 32, 32, 32, 32, 32, 32}, Files.readAllBytes(p));
        SafeTensors.write(p, List.of(), Map.of("framework", "pt"));
        assertArrayEquals(concat(le(40), "{\"__metadata__\":{\"framework\":\"pt\"}}     ".getBytes(StandardCharsets.US_ASCII)),
                Files.readAllBytes(p));
    }

    @Test
    void byteExactForcedAlignment() throws IOException {
        // The reference writes {"attn0": F32 [1,1,2,3] = 0..5} with a 72-byte header (7 pad spaces).
        Path p = dir.resolve("a.safetensors");
        SafeTensors.writeSources(p, List.of(TensorSource.f32("attn0", new long[] {1, 1, 2, 3}, new float[] {0, 1, 2, 3, 4, 5})), null);
        byte[] expect = concat(le(72),
                "{\"attn0\":{\"dtype\":\"F32\",\"shape\":[1,1,2,3],\"data_offsets\":[0,24]}}       ".getBytes(StandardCharsets.US_ASCII),
                new byte[] {0, 0, 0, 0, 0, 0, -128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, -128, 64, 0, 0, -96, 64});
        assertArrayEquals(expect, Files.readAllBytes(p));
    }

    @Test
    void byteExactMixedDtypesAndMetadata() throws IOException {
        // What safetensors.torch.save_file({"a": f32[1,2], "b": bf16[[1],[-2]], "c": i64 scalar 7,
        // "z": u8[1,2,3]}, path, {"format": "pt"}) writes: layout by dtype descending
        // (I64 > F32 > BF16 > U8), header in layout order, __metadata__ first, space padding.
        Path p = dir.resolve("m.safetensors");
        SafeTensors.writeSources(p, List.of(
                TensorSource.f32("a", new long[] {2}, new float[] {1, 2}),
                TensorSource.bf16("b", new long[] {2, 1}, new float[] {1, -2}),
                TensorSource.i64("c", new long[] {}, new long[] {7}),
                TensorSource.of(entryOf("z", StDType.U8, new long[] {3}, new byte[] {1, 2, 3}))), Map.of("format", "pt"));
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"c\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[0,8]},"
                + "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,1],\"data_offsets\":[16,20]},"
                + "\"z\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[20,23]}}";
        assertEquals(250, header.length());
        byte[] expect = concat(le(256), (header + "      ").getBytes(StandardCharsets.US_ASCII),
                new byte[] {7, 0, 0, 0, 0, 0, 0, 0},
                new byte[] {0, 0, -128, 63, 0, 0, 0, 64},
                new byte[] {-128, 63, 0, -64},
                new byte[] {1, 2, 3});
        assertArrayEquals(expect, Files.readAllBytes(p));
    }

    @Test
    void namesSortByUtf8BytesAndEscapeLikeSerde() throws IOException {
        // Rust sorts str by bytes = code points; Java's compareTo (UTF-16 units) would put U+1F600 before U+FF5E.
        Path p = dir.resolve("u.safetensors");
        SafeTensors.write(p, List.of(
                entryOf("\uD83D\uDE00", StDType.U8, new long[] {1}, new byte[] {1}),
                entryOf("\uFF5E", StDType.U8, new long[] {1}, new byte[] {2}),
                entryOf("tab\there\u0001", StDType.U8, new long[] {1}, new byte[] {3})), null);
        byte[] all = Files.readAllBytes(p);
        String h = new String(all, 8, all.length - 8 - 3, StandardCharsets.UTF_8);
        assertTrue(h.startsWith("{\"tab\\there\\u0001\":"), h);
        assertTrue(h.indexOf("\uFF5E") < h.indexOf("\uD83D\uDE00"), h);
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(List.of("tab\there\u0001", "\uFF5E", "\uD83D\uDE00"), f.names());
        }
    }

    @Test
    void readsReferenceExampleWithUnpaddedHeader() throws IOException {
        // The reference's own doc example: header length 60, not a multiple of 8.
        Path p = rawBytes(concat(le(60),
                "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}".getBytes(StandardCharsets.US_ASCII),
                new byte[16]));
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(List.of("test"), f.names());
            assertEquals(16, f.get("test").data().byteSize());
            assertEquals(60, f.headerLength());
        }
    }

    @Test
    void namesFollowDataOffsetsNotHeaderOrder() throws IOException {
        Path p = raw("{" + entry("second", "U8", "[2]", 2, 4) + "," + entry("first", "U8", "[2]", 0, 2)
                + ",\"__metadata__\":{\"x\":\"y\"}}", 4);
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(List.of("first", "second"), f.names());
            assertEquals(Map.of("x", "y"), f.metadata());
        }
    }

    @Test
    void unknownTensorFieldsAreIgnored() throws IOException {
        Path p = raw("{\"w\":{\"dtype\":\"U8\",\"extra\":{\"a\":[1,2]},\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(1, f.get("w").numel());
        }
    }

    // ---- lifetime ----

    @Test
    void closeReleasesTheMappingAndLookupsFail() throws IOException {
        Path p = dir.resolve("c.safetensors");
        SafeTensors.write(p, List.of(entryOf("w", StDType.U8, new long[] {1}, new byte[] {5})), null);
        SafeTensorsFile f = SafeTensors.open(p);
        MemorySegment seg = f.get("w").data();
        assertEquals(5, seg.get(ValueLayout.JAVA_BYTE, 0));
        f.close();
        f.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> seg.get(ValueLayout.JAVA_BYTE, 0));
        assertThrows(IllegalStateException.class, () -> f.get("w"));

        SafeTensorsFile a = SafeTensors.openAuto(p);
        MemorySegment kept = a.get("w").data();
        a.close();
        assertEquals(5, kept.get(ValueLayout.JAVA_BYTE, 0), "auto mapping outlives close()");
    }

    @Test
    void missingKeyNamesFileAndListsSomeKeys() throws IOException {
        Path p = dir.resolve("k.safetensors");
        SafeTensors.write(p, List.of(entryOf("wte", StDType.U8, new long[] {1}, new byte[] {1}),
                entryOf("wpe", StDType.U8, new long[] {1}, new byte[] {1})), null);
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> f.get("lm_head.weight"));
            assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
            assertTrue(e.getMessage().contains("'lm_head.weight'"), e.getMessage());
            assertTrue(e.getMessage().contains("'wpe', 'wte'"), e.getMessage());
            assertFalse(f.contains("lm_head.weight"));
        }
    }

    // ---- validation: one test per error ----

    @Test
    void fileShorterThan8Bytes() throws IOException {
        assertOpenFails(rawBytes(new byte[] {1, 2, 3, 4, 5}), "5 bytes", "8-byte header length");
    }

    @Test
    void headerLengthOverLimit() throws IOException {
        assertOpenFails(rawBytes(concat(le(100_000_001), new byte[16])), "100000001", "exceeds the limit");
        assertOpenFails(rawBytes(concat(le(-1), new byte[16])), "18446744073709551615", "exceeds the limit");
    }

    @Test
    void headerLengthPastEndOfFile() throws IOException {
        assertOpenFails(rawBytes(concat(le(64), "{}".getBytes(StandardCharsets.US_ASCII))), "header length 64", "10 bytes");
    }

    @Test
    void headerMustStartWithBrace() throws IOException {
        assertOpenFails(raw(" {}", 0), "starting with '{'", "0x20");
        assertOpenFails(raw("[]", 0), "starting with '{'");
        assertOpenFails(raw("", 0), "empty");
    }

    @Test
    void headerNotUtf8() throws IOException {
        byte[] h = concat("{\"a".getBytes(StandardCharsets.US_ASCII), new byte[] {(byte) 0xC3, 0x28},
                "\":{}}".getBytes(StandardCharsets.US_ASCII));
        assertOpenFails(rawBytes(concat(le(h.length), h)), "not valid UTF-8", "header byte 3");
    }

    @Test
    void headerNotJson() throws IOException {
        assertOpenFails(raw("{\"a\":", 0), "not valid JSON");
        assertOpenFails(raw("{\"a\" 1}", 0), "not valid JSON");
        assertOpenFails(raw("{}  x", 0), "not valid JSON");
        assertOpenFails(raw("{}{}", 0), "data after its JSON object");
    }

    @Test
    void tensorEntryNotAnObject() throws IOException {
        assertOpenFails(raw("{\"w\":[1,2]}", 0), "tensor 'w'", "expected an object", "an array");
    }

    @Test
    void missingFields() throws IOException {
        assertOpenFails(raw("{\"w\":{\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "tensor 'w'", "missing \"dtype\"");
        assertOpenFails(raw("{\"w\":{\"dtype\":\"U8\",\"data_offsets\":[0,1]}}", 1), "tensor 'w'", "missing \"shape\"");
        assertOpenFails(raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1), "tensor 'w'", "missing \"data_offsets\"");
    }

    @Test
    void unknownDtype() throws IOException {
        assertOpenFails(raw("{" + entry("w", "float32", "[1]", 0, 4) + "}", 4), "tensor 'w'", "unknown or unsupported dtype 'float32'", "BF16");
        assertOpenFails(raw("{" + entry("w", "F4", "[2]", 0, 1) + "}", 1), "tensor 'w'", "'F4'");
        assertOpenFails(raw("{\"w\":{\"dtype\":5,\"shape\":[1],\"data_offsets\":[0,1]}}", 1), "tensor 'w'", "dtype must be a string");
    }

    @Test
    void badShape() throws IOException {
        assertOpenFails(raw("{" + entry("w", "U8", "[-1]", 0, 0) + "}", 0), "tensor 'w'", "shape element -1 is negative");
        assertOpenFails(raw("{" + entry("w", "U8", "[2.5]", 0, 0) + "}", 0), "tensor 'w'", "non-negative integers", "2.5");
        assertOpenFails(raw("{" + entry("w", "U8", "3", 0, 3) + "}", 3), "tensor 'w'", "shape must be an array");
        assertOpenFails(raw("{" + entry("w", "U8", "[99999999999999999999]", 0, 0) + "}", 0), "tensor 'w'", "too large");
        assertOpenFails(raw("{" + entry("w", "I64", "[4294967296,4294967296]", 0, 0) + "}", 0), "tensor 'w'", "overflows");
    }

    @Test
    void badDataOffsets() throws IOException {
        assertOpenFails(raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]}}", 1), "tensor 'w'", "[begin, end]", "3 numbers");
        assertOpenFails(raw("{" + entry("w", "U8", "[0]", 4, 0) + "}", 4), "tensor 'w'", "begin > end");
        assertOpenFails(raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":\"0-1\"}}", 1), "tensor 'w'", "data_offsets must be an array");
    }

    @Test
    void sizeMismatchGivesBothNumbers() throws IOException {
        assertOpenFails(raw("{" + entry("w", "F32", "[2,2]", 0, 12) + "}", 12),
                "tensor 'w'", "span 12 bytes", "needs 16 bytes", "[2, 2]", "F32");
    }

    @Test
    void overlappingTensors() throws IOException {
        assertOpenFails(raw("{" + entry("a", "U8", "[8]", 0, 8) + "," + entry("b", "U8", "[8]", 4, 12) + "}", 12),
                "tensor 'b'", "overlap tensor 'a'", "[4, 8)");
        assertOpenFails(raw("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 0, 4) + "}", 4),
                "overlap tensor 'a'", "[0, 4)");
        // a zero-size tensor pointing inside another one
        assertOpenFails(raw("{" + entry("a", "U8", "[8]", 0, 8) + "," + entry("z", "U8", "[0]", 3, 3) + "}", 8),
                "tensor 'z'", "[3, 3] point inside tensor 'a'", "ends at byte 8");
    }

    @Test
    void holeBetweenTensors() throws IOException {
        assertOpenFails(raw("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 8, 12) + "}", 12),
                "[4, 8)", "between tensor 'a' and tensor 'b'");
        assertOpenFails(raw("{" + entry("b", "U8", "[4]", 2, 6) + "}", 6), "[0, 2)", "at the start", "tensor 'b'");
    }

    @Test
    void uncoveredBytesAtTheEnd() throws IOException {
        assertOpenFails(raw("{" + entry("a", "U8", "[4]", 0, 4) + "}", 7), "[4, 7)", "not covered", "after tensor 'a'");
        assertOpenFails(raw("{}", 3), "[0, 3)", "not covered");
    }

    @Test
    void tensorPastEndOfFile() throws IOException {
        assertOpenFails(raw("{" + entry("a", "U8", "[4]", 0, 4) + "," + entry("b", "U8", "[4]", 4, 8) + "}", 6),
                "tensor 'b'", "[4, 8]", "past the end", "6 bytes");
    }

    @Test
    void duplicateKeys() throws IOException {
        assertOpenFails(raw("{" + entry("a", "U8", "[1]", 0, 1) + "," + entry("a", "U8", "[1]", 1, 2) + "}", 2), "duplicate key 'a'");
        assertOpenFails(raw("{\"__metadata__\":{},\"__metadata__\":{}}", 0), "duplicate key '__metadata__'");
        assertOpenFails(raw("{\"a\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1),
                "tensor 'a'", "duplicate field 'dtype'");
        assertOpenFails(raw("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0), "duplicate key 'k'", "__metadata__");
    }

    @Test
    void metadataMustBeStringMap() throws IOException {
        assertOpenFails(raw("{\"__metadata__\":[\"a\"]}", 0), "'__metadata__' must be an object");
        assertOpenFails(raw("{\"__metadata__\":{\"step\":5}}", 0), "'__metadata__' entry 'step' must be a string", "5");
        assertOpenFails(raw("{\"__metadata__\":null}", 0), "'__metadata__' must be an object", "null");
    }

    // ---- writing: validation and atomicity ----

    @Test
    void writeRejectsSizeMismatchAndLeavesExistingFileAlone() throws IOException {
        Path p = dir.resolve("model.safetensors");
        SafeTensors.write(p, List.of(entryOf("old", StDType.U8, new long[] {2}, new byte[] {1, 2})), null);
        byte[] before = Files.readAllBytes(p);
        SafeTensorsException e = assertThrows(SafeTensorsException.class, () -> SafeTensors.write(p,
                List.of(entryOf("w", StDType.F32, new long[] {2, 2}, new byte[12])), null));
        assertTrue(e.getMessage().contains(p.toString()) && e.getMessage().contains("tensor 'w'")
                && e.getMessage().contains("12 bytes") && e.getMessage().contains("needs 16"), e.getMessage());
        assertArrayEquals(before, Files.readAllBytes(p));
        assertEquals(List.of(p), dirListing());
    }

    @Test
    void fillerFailureMidWriteLeavesExistingFileAndNoTempFile() throws IOException {
        Path p = dir.resolve("model.safetensors");
        SafeTensors.write(p, List.of(entryOf("old", StDType.U8, new long[] {2}, new byte[] {1, 2})), null);
        byte[] before = Files.readAllBytes(p);
        long n = 1 << 20; // 4 MiB of F32: several chunks; fail on the third
        int[] calls = {0};
        TensorSource failing = new TensorSource("big", StDType.F32, new long[] {n}, 4 * n, (off, dst) -> {
            if (++calls[0] == 3) throw new IOException("disk on fire");
            dst.fill((byte) 1);
        });
        IOException e = assertThrows(IOException.class, () -> SafeTensors.writeSources(p,
                List.of(TensorSource.f32("small", new long[] {1}, new float[] {1}), failing), null));
        assertEquals("disk on fire", e.getMessage());
        assertEquals(3, calls[0]);
        assertArrayEquals(before, Files.readAllBytes(p));
        assertEquals(List.of(p), dirListing());

        RuntimeException r = assertThrows(IllegalStateException.class, () -> SafeTensors.writeSources(p,
                List.of(new TensorSource("x", StDType.U8, new long[] {1}, 1, (off, dst) -> {
                    throw new IllegalStateException("boom");
                })), null));
        assertEquals("boom", r.getMessage());
        assertArrayEquals(before, Files.readAllBytes(p));
        assertEquals(List.of(p), dirListing());
    }

    @Test
    void writeRejectsBadNames() throws IOException {
        Path p = dir.resolve("n.safetensors");
        SafeTensorsException dup = assertThrows(SafeTensorsException.class, () -> SafeTensors.write(p, List.of(
                entryOf("a", StDType.U8, new long[] {1}, new byte[1]), entryOf("a", StDType.I8, new long[] {1}, new byte[1])), null));
        assertTrue(dup.getMessage().contains("duplicate tensor name 'a'") && dup.getMessage().contains(p.toString()), dup.getMessage());
        SafeTensorsException reserved = assertThrows(SafeTensorsException.class, () -> SafeTensors.write(p, List.of(
                entryOf("__metadata__", StDType.U8, new long[] {1}, new byte[1])), null));
        assertTrue(reserved.getMessage().contains("reserved"), reserved.getMessage());
        SafeTensorsException lone = assertThrows(SafeTensorsException.class, () -> SafeTensors.write(p, List.of(
                entryOf("bad\uD800", StDType.U8, new long[] {1}, new byte[1])), null));
        assertTrue(lone.getMessage().contains("unpaired surrogate"), lone.getMessage());
        SafeTensorsException loneMd = assertThrows(SafeTensorsException.class, () -> SafeTensors.write(p, List.of(),
                Map.of("k", "\uDC00")));
        assertTrue(loneMd.getMessage().contains("metadata entry 'k'"), loneMd.getMessage());
        assertEquals(List.of(), dirListing());
    }

    @Test
    void overwriteWhileOldFileIsMappedKeepsOldDataReadable() throws IOException {
        Path p = dir.resolve("live.safetensors");
        SafeTensors.write(p, List.of(entryOf("w", StDType.U8, new long[] {3}, new byte[] {1, 2, 3})), null);
        try (SafeTensorsFile old = SafeTensors.open(p)) {
            SafeTensors.write(p, List.of(entryOf("w", StDType.U8, new long[] {3}, new byte[] {7, 8, 9})), null);
            assertArrayEquals(new byte[] {1, 2, 3}, bytes(old.get("w").data()), "the rename leaves the old inode alone");
        }
        try (SafeTensorsFile now = SafeTensors.open(p)) {
            assertArrayEquals(new byte[] {7, 8, 9}, bytes(now.get("w").data()));
        }
        assertEquals(List.of(p), dirListing());
    }

    @Test
    void writeIntoRelativePathAndReadBack() throws IOException {
        Path p = dir.resolve("sub").resolve("x.safetensors");
        Files.createDirectories(p.getParent());
        SafeTensors.write(p, List.of(entryOf("w", StDType.BOOL, new long[] {2}, new byte[] {0, 1})), null);
        try (SafeTensorsFile f = SafeTensors.open(p)) {
            assertEquals(StDType.BOOL, f.get("w").dtype());
            assertEquals(1, f.entries().size());
        }
        assertTrue(Arrays.asList(StDType.values()).contains(StDType.fromName("F8_E4M3")));
        assertEquals(null, StDType.fromName("f32"));
    }
}
