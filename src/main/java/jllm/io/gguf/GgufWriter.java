package jllm.io.gguf;

import jllm.io.AtomicFiles;
import jllm.io.TensorSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes a GGUF version 3 file as llama.cpp's gguf-py does: header, metadata in insertion order,
 * tensor infos, then each tensor's data at the next multiple of the alignment (32), in info order,
 * which is also the layout ggml's own reader insists on (offsets equal to the padded running sum).
 * Tensor bytes come from {@link TensorSource.Filler}s chunk by chunk, so a model is never held
 * twice; the file is replaced atomically ({@link AtomicFiles}).
 */
public final class GgufWriter {
    private static final int CHUNK = 1 << 20;

    private record Tensor(String name, long[] ne, GgmlType type, long byteSize, TensorSource.Filler filler) {}

    private final LinkedHashMap<String, GgufFile.Value> metadata = new LinkedHashMap<>();
    private final List<Tensor> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();

    private void put(String key, GgufValueType type, GgufValueType elementType, Object value) {
        if (key == null || key.isEmpty()) throw new IllegalArgumentException("GGUF metadata keys must be non-empty");
        if (metadata.putIfAbsent(key, new GgufFile.Value(type, elementType, value)) != null) {
            throw new IllegalArgumentException("GGUF metadata key '" + key + "' is set twice");
        }
    }

    public GgufWriter putString(String key, String v) { put(key, GgufValueType.STRING, null, v); return this; }

    public GgufWriter putUint32(String key, long v) {
        if (v < 0 || v > 0xffffffffL) throw new IllegalArgumentException("GGUF metadata key '" + key + "': " + v + " does not fit a uint32");
        put(key, GgufValueType.UINT32, null, v);
        return this;
    }

    public GgufWriter putFloat32(String key, double v) { put(key, GgufValueType.FLOAT32, null, (float) v); return this; }

    public GgufWriter putBool(String key, boolean v) { put(key, GgufValueType.BOOL, null, v); return this; }

    public GgufWriter putStrings(String key, List<String> v) { put(key, GgufValueType.ARRAY, GgufValueType.STRING, v.toArray(String[]::new)); return this; }

    public GgufWriter putFloat32s(String key, float[] v) { put(key, GgufValueType.ARRAY, GgufValueType.FLOAT32, v.clone()); return this; }

    public GgufWriter putInt32s(String key, int[] v) {
        put(key, GgufValueType.ARRAY, GgufValueType.INT32, Arrays.stream(v).asLongStream().toArray());
        return this;
    }

    /**
     * Adds a tensor: ne in ggml's order (innermost first), byteSize bytes produced by filler in
     * order. The name must be unique and shorter than 64 bytes (llama.cpp's limit), rows a whole
     * number of the type's blocks, and byteSize what ne and type call for.
     */
    public GgufWriter addTensor(String name, long[] ne, GgmlType type, long byteSize, TensorSource.Filler filler) {
        String at = "GGUF tensor '" + name + "': ";
        if (name.getBytes(StandardCharsets.UTF_8).length >= GgufFile.MAX_NAME_BYTES) throw new IllegalArgumentException(at + "name is 64 bytes or longer");
        if (!names.add(name)) throw new IllegalArgumentException("duplicate GGUF tensor name '" + name + "'");
        if (ne.length < 1 || ne.length > GgufFile.MAX_DIMS) throw new IllegalArgumentException(at + ne.length + " dimensions (1 to 4 allowed)");
        long n = 1;
        for (long d : ne) {
            if (d < 0) throw new IllegalArgumentException(at + "negative dimension in " + Arrays.toString(ne));
            n = Math.multiplyExact(n, d);
        }
        if (ne[0] % type.blockSize != 0) {
            throw new IllegalArgumentException(at + "rows of " + ne[0] + " elements are not a whole number of " + type + " blocks of " + type.blockSize);
        }
        if (type.bytes(n) != byteSize) throw new IllegalArgumentException(at + byteSize + " bytes given, " + Arrays.toString(ne) + " of " + type + " is " + type.bytes(n));
        tensors.add(new Tensor(name, ne.clone(), type, byteSize, filler));
        return this;
    }

    /** Writes the file atomically. */
    public void write(Path file) throws IOException {
        long alignment = GgufFile.DEFAULT_ALIGNMENT;
        Header h = new Header();
        h.i32(GgufFile.MAGIC);
        h.i32(GgufFile.VERSION);
        h.i64(tensors.size());
        h.i64(metadata.size());
        for (Map.Entry<String, GgufFile.Value> e : metadata.entrySet()) {
            h.string(e.getKey());
            GgufFile.Value v = e.getValue();
            h.i32(v.type().ordinal());
            if (v.type() == GgufValueType.ARRAY) {
                h.i32(v.elementType().ordinal());
                h.array(v.elementType(), v.value());
            } else {
                h.scalar(v.type(), v.value());
            }
        }
        long[] offsets = new long[tensors.size()];
        long offset = 0;
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            h.string(t.name());
            h.i32(t.ne().length);
            for (long d : t.ne()) h.i64(d);
            h.i32(t.type().id);
            offsets[i] = offset;
            h.i64(offset);
            offset = pad(offset + t.byteSize(), alignment);
        }
        byte[] header = h.out.toByteArray();
        long dataStart = pad(header.length, alignment);
        AtomicFiles.write(file, ch -> {
            write(ch, ByteBuffer.wrap(header));
            write(ch, ByteBuffer.allocate((int) (dataStart - header.length)));
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment chunk = arena.allocate(CHUNK, 8);
                ByteBuffer buf = chunk.asByteBuffer();
                long pos = 0;
                for (int i = 0; i < tensors.size(); i++) {
                    Tensor t = tensors.get(i);
                    write(ch, ByteBuffer.allocate((int) (offsets[i] - pos)));
                    for (long off = 0; off < t.byteSize(); off += CHUNK) {
                        int len = (int) Math.min(CHUNK, t.byteSize() - off);
                        t.filler().fill(off, chunk.asSlice(0, len));
                        buf.clear().limit(len);
                        write(ch, buf);
                    }
                    pos = offsets[i] + t.byteSize();
                }
                // ggml's reader sizes the data section as the padded sum, so the last tensor is padded too
                write(ch, ByteBuffer.allocate((int) (pad(pos, alignment) - pos)));
            }
        });
    }

    private static long pad(long n, long alignment) { return (n + alignment - 1) / alignment * alignment; }

    private static void write(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }

    /** The header bytes, little-endian. */
    private static final class Header {
        final ByteArrayOutputStream out = new ByteArrayOutputStream();
        private final ByteBuffer scratch = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);

        void i32(int v) { out.write(scratch.putInt(0, v).array(), 0, 4); }

        void i64(long v) { out.write(scratch.putLong(0, v).array(), 0, 8); }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            i64(b.length);
            out.write(b, 0, b.length);
        }

        void scalar(GgufValueType t, Object v) {
            switch (t) {
                case UINT8, INT8 -> out.write((int) (long) (Long) v);
                case UINT16, INT16 -> out.write(scratch.putShort(0, (short) (long) (Long) v).array(), 0, 2);
                case UINT32, INT32 -> i32((int) (long) (Long) v);
                case UINT64, INT64 -> i64((Long) v);
                case FLOAT32 -> i32(Float.floatToRawIntBits((Float) v));
                case FLOAT64 -> i64(Double.doubleToRawLongBits((Double) v));
                case BOOL -> out.write((Boolean) v ? 1 : 0);
                case STRING -> string((String) v);
                case ARRAY -> throw new IllegalArgumentException("GGUF arrays of arrays are not written");
            }
        }

        void array(GgufValueType et, Object a) {
            switch (a) {
                case String[] s -> { i64(s.length); for (String x : s) string(x); }
                case float[] f -> { i64(f.length); for (float x : f) scalar(et, x); }
                case double[] d -> { i64(d.length); for (double x : d) scalar(et, x); }
                case boolean[] b -> { i64(b.length); for (boolean x : b) scalar(et, x); }
                case long[] l -> { i64(l.length); for (long x : l) scalar(et, x); }
                default -> throw new IllegalArgumentException("unsupported GGUF array value " + a.getClass());
            }
        }
    }
}
