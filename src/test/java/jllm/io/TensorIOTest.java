package jllm.io;

import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorIOTest {

    static Object host(Tensor t) { return t.contiguous().toHostArray(); }

    @Test
    void roundTripEveryDtype(@TempDir Path dir) throws Exception {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("f32", Tensor.randn(3, 4));
        m.put("f64", Tensor.of(new double[] {1.5, -2.25, Math.PI}, 3));
        m.put("f16", Tensor.randn(2, 5).to(DType.F16));
        m.put("bf16", Tensor.randn(5, 2).to(DType.BF16));
        m.put("i64", Tensor.of(new long[] {Long.MIN_VALUE, -1, 0, Long.MAX_VALUE}, 2, 2));
        m.put("i32", Tensor.of(new int[] {Integer.MIN_VALUE, 7, Integer.MAX_VALUE}, 3));
        m.put("u8", Tensor.of(new int[] {0, 1, 200, 255}, 4).to(DType.U8));
        m.put("bool", Tensor.of(new boolean[] {true, false, true}, 3));
        m.put("scalar", Tensor.scalar(2.5));
        m.put("empty", Tensor.zeros(0, 3));
        m.put("view", Tensor.randn(4, 6).t().slice(0, 1, 5)); // non-contiguous
        Path file = dir.resolve("all.safetensors");
        TensorIO.save(file, m, Map.of("format", "pt", "note", "x"));
        TensorIO.Loaded l = TensorIO.read(file, false);
        assertEquals(Map.of("format", "pt", "note", "x"), l.metadata());
        assertEquals(Map.of("format", "pt", "note", "x"), TensorIO.metadata(file));
        assertEquals(m.keySet(), l.tensors().keySet());
        for (var e : m.entrySet()) {
            Tensor got = l.tensors().get(e.getKey());
            assertEquals(e.getValue().dtype(), got.dtype(), e.getKey());
            assertArrayEquals(e.getValue().shape(), got.shape(), e.getKey());
            Object a = host(e.getValue()), b = host(got);
            assertTrue(java.util.Objects.deepEquals(a, b), e.getKey() + " bit-exact");
        }
        // the file holds each tensor in its own safetensors dtype
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            assertEquals(StDType.F64, f.get("f64").dtype());
            assertEquals(StDType.BF16, f.get("bf16").dtype());
            assertEquals(StDType.BOOL, f.get("bool").dtype());
            assertEquals(StDType.U8, f.get("u8").dtype());
            assertArrayEquals(new long[0], f.get("scalar").shape());
        }
        LinkedHashMap<String, Tensor> f32 = TensorIO.loadAsF32(file);
        assertEquals(DType.F32, f32.get("f16").dtype());
        assertEquals(DType.F32, f32.get("bf16").dtype());
        assertEquals(DType.F32, f32.get("f64").dtype());
        assertEquals(DType.I64, f32.get("i64").dtype());
        assertEquals(DType.BOOL, f32.get("bool").dtype());
        assertTrue(f32.get("bf16").equal(m.get("bf16").to(DType.F32)));
    }

    @Test
    void halfFixtureLoadsBitExact() throws Exception {
        var t = TensorIO.load(Path.of("src/test/resources/fixtures/half.safetensors"));
        assertEquals(DType.BF16, t.get("bf16").dtype());
        assertEquals(DType.F16, t.get("f16").dtype());
        assertEquals(DType.BOOL, t.get("nan_mask").dtype());
        short[] bf = (short[]) t.get("bf16").toHostArray();
        short[] mine = (short[]) t.get("f32").to(DType.BF16).toHostArray();
        byte[] nan = (byte[]) t.get("nan_mask").toHostArray();
        for (int i = 0; i < bf.length; i++) if (nan[i] == 0) assertEquals(bf[i], mine[i], "bf16 element " + i);
    }

    private static TensorEntry raw(String name, StDType dt, long[] shape, byte[] bytes) {
        return new TensorEntry(name, dt, shape, MemorySegment.ofArray(bytes));
    }

    private static byte[] le(int itemSize, long... vals) {
        ByteBuffer b = ByteBuffer.allocate(itemSize * vals.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long v : vals) {
            switch (itemSize) {
                case 1 -> b.put((byte) v);
                case 2 -> b.putShort((short) v);
                case 4 -> b.putInt((int) v);
                default -> b.putLong(v);
            }
        }
        return b.array();
    }

    @Test
    void widensOtherIntegerTypes(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("ints.safetensors");
        SafeTensors.write(file, List.of(
                raw("i8", StDType.I8, new long[] {3}, le(1, -128, -1, 127)),
                raw("i16", StDType.I16, new long[] {2}, le(2, -32768, 32767)),
                raw("u16", StDType.U16, new long[] {2}, le(2, 0xffff, 1)),
                raw("u32", StDType.U32, new long[] {2}, le(4, 0xffffffffL, 5)),
                raw("u64", StDType.U64, new long[] {1}, le(8, 42))), null);
        var t = TensorIO.load(file);
        assertEquals(DType.I32, t.get("i8").dtype());
        assertArrayEquals(new int[] {-128, -1, 127}, t.get("i8").toIntArray());
        assertArrayEquals(new int[] {-32768, 32767}, t.get("i16").toIntArray());
        assertArrayEquals(new int[] {65535, 1}, t.get("u16").toIntArray());
        assertEquals(DType.I64, t.get("u32").dtype());
        assertArrayEquals(new long[] {4294967295L, 5}, t.get("u32").toLongArray());
        assertArrayEquals(new long[] {42}, t.get("u64").toLongArray());
    }

    @Test
    void errorsNameFileAndKey(@TempDir Path dir) throws Exception {
        Path f8 = dir.resolve("f8.safetensors");
        SafeTensors.write(f8, List.of(raw("w8", StDType.F8_E4M3, new long[] {2}, new byte[2])), null);
        var e = assertThrows(SafeTensorsException.class, () -> TensorIO.load(f8));
        assertTrue(e.getMessage().contains(f8.toString()) && e.getMessage().contains("'w8'") && e.getMessage().contains("F8_E4M3"), e.getMessage());

        Path big = dir.resolve("u64.safetensors");
        SafeTensors.write(big, List.of(raw("huge", StDType.U64, new long[] {1}, le(8, -1))), null);
        e = assertThrows(SafeTensorsException.class, () -> TensorIO.load(big));
        assertTrue(e.getMessage().contains("'huge'") && e.getMessage().contains("18446744073709551615"), e.getMessage());

        Path badBool = dir.resolve("bool.safetensors");
        SafeTensors.write(badBool, List.of(raw("m", StDType.BOOL, new long[] {2}, new byte[] {1, 7})), null);
        e = assertThrows(SafeTensorsException.class, () -> TensorIO.load(badBool));
        assertTrue(e.getMessage().contains("'m'"), e.getMessage());

        Path out = dir.resolve("null.safetensors");
        Map<String, Tensor> withNull = new LinkedHashMap<>();
        withNull.put("a", null);
        e = assertThrows(SafeTensorsException.class, () -> TensorIO.save(out, withNull, null));
        assertTrue(e.getMessage().contains("'a'"));
        assertFalse(Files.exists(out));
        assertThrows(java.io.IOException.class, () -> TensorIO.load(dir.resolve("missing.safetensors")));
    }

    @Test
    void savesTensorsThatRequireGradAndAreOnOtherDevices(@TempDir Path dir) throws Exception {
        jllm.testing.TestDevice.install();
        Tensor p = Tensor.randn(3).requiresGrad(true);
        Tensor onDev = Tensor.randn(2, 2).to(jllm.testing.TestDevice.DEVICE);
        Path file = dir.resolve("p.safetensors");
        TensorIO.save(file, Map.of("p", p.mul(2), "d", onDev));
        var t = TensorIO.load(file);
        assertTrue(t.get("p").equal(p.detach().mul(2)));
        assertFalse(t.get("p").requiresGrad());
        assertEquals(Device.CPU, t.get("d").device());
        assertTrue(t.get("d").equal(onDev.cpu()));
    }
}
