package jllm.io.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A memory-mapped, validated GGUF file (versions 2 and 3, little-endian), as ggml's
 * {@code docs/gguf.md} specifies it: magic {@code GGUF}, version, tensor and key/value counts, the
 * typed metadata key/values, the tensor infos (name, dimensions in ggml's innermost-first
 * {@code ne[]} order, ggml type, offset into the data section), padding to {@code general.alignment}
 * (default 32), then the tensor data.
 *
 * <p>Every length, count and offset is checked against the file before it is used: a truncated
 * file, a string or array running past the end, an unknown value or tensor type, a dimension
 * product that overflows, a row that is not a whole number of blocks, a misaligned offset, data
 * past the end of the file, two tensors sharing bytes, and duplicate keys or tensor names are each
 * a {@link GgufException} naming the file and the key or tensor. The mapping lives as long as the
 * file object or a slice of it is reachable.
 */
public final class GgufFile {
    /** "GGUF" read as a little-endian uint32. */
    public static final int MAGIC = 0x46554747;
    public static final int VERSION = 3;
    public static final long DEFAULT_ALIGNMENT = 32;
    /** ggml's GGML_MAX_DIMS. */
    public static final int MAX_DIMS = 4;
    /** The spec's limit on a tensor name, in bytes (ggml's GGML_MAX_NAME - 1 = 63 is what llama.cpp itself writes). */
    public static final int MAX_NAME_BYTES = 64;

    static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong LE_I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort LE_I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble LE_F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /**
     * One metadata value: a scalar (Long for every integer type, a uint64 above 2^63-1 as its
     * two's-complement Long; Float; Double; Boolean; String) or an array, held as a Java array
     * (long[], float[], double[], boolean[], String[]) with its element type.
     */
    public record Value(GgufValueType type, GgufValueType elementType, Object value) {
        public String typeName() { return type == GgufValueType.ARRAY ? "array of " + elementType.lower() : type.lower(); }
    }

    /**
     * One tensor: its name, ggml's dimensions (ne[0] innermost: a PyTorch [out, in] weight has
     * ne = [in, out]), type, offset into the data section and byte size.
     */
    public record TensorInfo(String name, long[] ne, GgmlType type, long offset, long byteSize) {
        public TensorInfo {
            ne = ne.clone();
        }

        @Override
        public long[] ne() { return ne.clone(); }

        /** The shape as PyTorch orders it: ne reversed. */
        public long[] shape() {
            long[] s = new long[ne.length];
            for (int i = 0; i < ne.length; i++) s[i] = ne[ne.length - 1 - i];
            return s;
        }

        public long numel() {
            long n = 1;
            for (long d : ne) n *= d; // checked for overflow when the file was read
            return n;
        }
    }

    private final Path path;
    private final int version;
    private final Map<String, Value> metadata;
    private final Map<String, TensorInfo> tensors;
    private final long alignment;
    private final long dataOffset;
    private final MemorySegment map;

    private GgufFile(Path path, int version, Map<String, Value> metadata, Map<String, TensorInfo> tensors, long alignment,
                     long dataOffset, MemorySegment map) {
        this.path = path;
        this.version = version;
        this.metadata = Collections.unmodifiableMap(metadata);
        this.tensors = Collections.unmodifiableMap(tensors);
        this.alignment = alignment;
        this.dataOffset = dataOffset;
        this.map = map;
    }

    /** True when the file starts with the GGUF magic (a cheap test before {@link #open}). */
    public static boolean hasMagic(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer b = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining() && ch.read(b) > 0) {
                // a short read only happens at the end of the file
            }
            return b.position() == 4 && b.getInt(0) == MAGIC;
        } catch (IOException e) {
            return false;
        }
    }

    /** Maps and validates a GGUF file. */
    public static GgufFile open(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            return parse(file, size == 0 ? MemorySegment.ofArray(new byte[0]) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, Arena.ofAuto()));
        }
    }

    private static GgufFile parse(Path file, MemorySegment map) {
        Cursor c = new Cursor(file, map);
        long size = map.byteSize();
        if (size < 4) throw c.fail(0, "file is " + size + " bytes long; a GGUF file starts with the 4-byte magic \"GGUF\"");
        int magic = map.get(LE_I32, 0);
        if (magic != MAGIC) {
            byte[] m = map.asSlice(0, 4).toArray(ValueLayout.JAVA_BYTE);
            throw c.fail(0, "not a GGUF file: bad magic " + hex(m) + " (expected \"GGUF\", bytes 47 47 55 46)");
        }
        c.pos = 4;
        int version = c.i32("the version");
        if (version != 2 && version != 3) {
            int swapped = Integer.reverseBytes(version);
            if (swapped == 2 || swapped == 3) throw c.fail(4, "big-endian GGUF files are not supported (version " + swapped + " stored big-endian)");
            if (version == 1) throw c.fail(4, "GGUF version 1 is not supported (32-bit counts; llama.cpp dropped it too); versions 2 and 3 are");
            throw c.fail(4, "unsupported GGUF version " + Integer.toUnsignedString(version) + " (jllm reads versions 2 and 3)");
        }
        long nTensors = c.count("the tensor count", 8 + 4 + 8 + 4 + 8);
        long nKv = c.count("the metadata key/value count", 8 + 4 + 1);

        LinkedHashMap<String, Value> meta = new LinkedHashMap<>();
        for (long i = 0; i < nKv; i++) {
            long at = c.pos;
            String key = c.string("metadata key #" + i);
            if (key.isEmpty()) throw c.fail(at, "metadata key #" + i + " is empty");
            String what = "metadata key '" + key + "'";
            if (meta.containsKey(key)) throw c.fail(at, "duplicate " + what);
            GgufValueType t = c.valueType(what);
            meta.put(key, c.value(t, what));
        }

        long alignment = DEFAULT_ALIGNMENT;
        Value al = meta.get("general.alignment");
        if (al != null) {
            if (al.type() != GgufValueType.UINT32) throw c.fail(-1, "metadata key 'general.alignment' must be a uint32, found " + al.typeName());
            alignment = (Long) al.value();
            if (alignment == 0 || Long.bitCount(alignment) != 1) {
                throw c.fail(-1, "metadata key 'general.alignment' is " + alignment + "; it must be a power of two");
            }
        }

        LinkedHashMap<String, TensorInfo> infos = new LinkedHashMap<>();
        for (long i = 0; i < nTensors; i++) {
            long at = c.pos;
            String name = c.string("the name of tensor #" + i);
            String what = "tensor '" + name + "'";
            if (name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME_BYTES) {
                throw c.fail(at, what + ": name is longer than " + MAX_NAME_BYTES + " bytes");
            }
            if (infos.containsKey(name)) throw c.fail(at, "duplicate tensor name '" + name + "'");
            long nd = Integer.toUnsignedLong(c.i32(what + "'s number of dimensions"));
            if (nd < 1 || nd > MAX_DIMS) throw c.fail(at, what + " has " + nd + " dimensions; GGUF tensors have 1 to " + MAX_DIMS);
            long[] ne = new long[(int) nd];
            long numel = 1;
            for (int d = 0; d < nd; d++) {
                ne[d] = c.i64(what + "'s dimension " + d);
                if (ne[d] < 0) throw c.fail(at, what + ": dimension " + d + " is " + Long.toUnsignedString(ne[d]) + ", beyond 2^63-1");
                try {
                    numel = Math.multiplyExact(numel, ne[d]);
                } catch (ArithmeticException e) {
                    throw c.fail(at, what + ": dimensions " + Arrays.toString(Arrays.copyOf(ne, d + 1)) + " overflow a 64-bit element count");
                }
            }
            long typeId = Integer.toUnsignedLong(c.i32(what + "'s type"));
            GgmlType type = GgmlType.byId(typeId);
            if (type == null) throw c.fail(at, what + " has unknown ggml type " + typeId);
            if (ne[0] % type.blockSize != 0) {
                throw c.fail(at, what + " of type " + type + " has rows of " + ne[0] + " elements, not a multiple of its block size "
                        + type.blockSize);
            }
            long offset = c.i64(what + "'s data offset");
            if (offset < 0 || offset % alignment != 0) {
                throw c.fail(at, what + ": data offset " + Long.toUnsignedString(offset) + " is not a multiple of the alignment " + alignment);
            }
            long bytes;
            try {
                bytes = type.bytes(numel);
            } catch (ArithmeticException e) {
                throw c.fail(at, what + ": " + Arrays.toString(ne) + " of " + type + " overflows a 64-bit byte count");
            }
            infos.put(name, new TensorInfo(name, ne, type, offset, bytes));
        }

        long dataOffset = (c.pos + alignment - 1) / alignment * alignment;
        long dataBytes = Math.max(0, size - dataOffset);
        for (TensorInfo t : infos.values()) {
            if (t.offset() > dataBytes || t.byteSize() > dataBytes - t.offset()) {
                throw c.fail(-1, "tensor '" + t.name() + "': data [" + t.offset() + ", " + (t.offset() + t.byteSize()) + ") of the data section runs past"
                        + " the end of the file (the data section holds " + dataBytes + " bytes from offset " + dataOffset + "); file truncated?");
            }
        }
        List<TensorInfo> byOffset = new ArrayList<>(infos.values());
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset).thenComparingLong(TensorInfo::byteSize));
        for (int i = 1; i < byOffset.size(); i++) {
            TensorInfo a = byOffset.get(i - 1), b = byOffset.get(i);
            if (b.offset() < a.offset() + a.byteSize()) {
                throw c.fail(-1, "tensor '" + b.name() + "': data [" + b.offset() + ", " + (b.offset() + b.byteSize()) + ") overlaps tensor '"
                        + a.name() + "' [" + a.offset() + ", " + (a.offset() + a.byteSize()) + ")");
            }
        }
        return new GgufFile(file, version, meta, infos, alignment, dataOffset, map);
    }

    private static String hex(byte[] b) {
        StringBuilder s = new StringBuilder();
        for (byte x : b) s.append(s.isEmpty() ? "" : " ").append(String.format("%02X", x & 0xff));
        return s.toString();
    }

    // ------------------------------------------------------------------------------- accessors

    public Path path() { return path; }

    public int version() { return version; }

    /** general.alignment, or the default 32. */
    public long alignment() { return alignment; }

    /** Where the data section starts in the file. */
    public long dataOffset() { return dataOffset; }

    /** The metadata in file order. */
    public Map<String, Value> metadata() { return metadata; }

    /** The tensor infos in file order. */
    public Map<String, TensorInfo> tensors() { return tensors; }

    public boolean has(String key) { return metadata.containsKey(key); }

    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) throw new GgufException(path + ": no tensor '" + name + "'");
        return t;
    }

    /** A tensor's bytes: a read-only slice of the mapping. */
    public MemorySegment data(TensorInfo t) { return map.asSlice(dataOffset + t.offset(), t.byteSize()); }

    private Value required(String key, String what) {
        Value v = metadata.get(key);
        if (v == null) throw new GgufException(path + ": missing metadata key '" + key + "' (" + what + ")");
        return v;
    }

    private GgufException wrongType(String key, Value v, String expected) {
        return new GgufException(path + ": metadata key '" + key + "' is " + article(v.typeName()) + ", expected " + expected);
    }

    private static String article(String s) { return (s.startsWith("int") || s.startsWith("array") ? "an " : "a ") + s; }

    /** A string value; what says what the key is for (in the message when it is missing). */
    public String string(String key, String what) {
        Value v = required(key, what);
        if (v.type() != GgufValueType.STRING) throw wrongType(key, v, "a string");
        return (String) v.value();
    }

    public String string(String key, String what, String dflt) { return has(key) ? string(key, what) : dflt; }

    /** An integer value of any integer type, within [min, max]. */
    public long integer(String key, String what, long min, long max) {
        Value v = required(key, what);
        if (!v.type().integer()) throw wrongType(key, v, "an integer");
        long x = (Long) v.value();
        boolean unsigned64 = v.type() == GgufValueType.UINT64 && x < 0;
        if (unsigned64 || x < min || x > max) {
            throw new GgufException(path + ": metadata key '" + key + "' is " + (unsigned64 ? Long.toUnsignedString(x) : x)
                    + ", outside [" + min + ", " + max + "]");
        }
        return x;
    }

    /** A positive int value. */
    public int positiveInt(String key, String what) { return (int) integer(key, what, 1, Integer.MAX_VALUE); }

    /** A float32 or float64 value; a float32 is read as the shortest decimal that rounds to it (1e-5, not 9.99999974e-6). */
    public double number(String key, String what) {
        Value v = required(key, what);
        return switch (v.value()) {
            case Float f -> Double.parseDouble(Float.toString(f));
            case Double d -> d;
            default -> throw wrongType(key, v, "a float32");
        };
    }

    public boolean bool(String key, String what, boolean dflt) {
        if (!has(key)) return dflt;
        Value v = metadata.get(key);
        if (v.type() != GgufValueType.BOOL) throw wrongType(key, v, "a bool");
        return (Boolean) v.value();
    }

    public String[] strings(String key, String what) {
        Value v = required(key, what);
        if (!(v.value() instanceof String[] a)) throw wrongType(key, v, "an array of string");
        return a;
    }

    public float[] floats(String key, String what) {
        Value v = required(key, what);
        if (!(v.value() instanceof float[] a)) throw wrongType(key, v, "an array of float32");
        return a;
    }

    /** An array of any integer type. */
    public long[] integers(String key, String what) {
        Value v = required(key, what);
        if (!(v.value() instanceof long[] a)) throw wrongType(key, v, "an array of integers");
        return a;
    }

    @Override
    public String toString() { return "GgufFile[" + path + ", v" + version + ", " + metadata.size() + " keys, " + tensors.size() + " tensors]"; }

    // ------------------------------------------------------------------------------- reading

    /** A read position with bounds checks; every failure names the file and what was being read. */
    private static final class Cursor {
        final Path file;
        final MemorySegment m;
        long pos;

        Cursor(Path file, MemorySegment m) {
            this.file = file;
            this.m = m;
        }

        GgufException fail(long at, String msg) {
            return new GgufException(file + ": " + msg + (at >= 0 ? " (at byte " + at + ")" : ""));
        }

        void need(long n, String what) {
            if (n < 0 || n > m.byteSize() - pos) {
                throw fail(pos, "file truncated: " + what + " needs " + (n < 0 ? Long.toUnsignedString(n) : n) + " bytes, only "
                        + (m.byteSize() - pos) + " remain");
            }
        }

        int i32(String what) {
            need(4, what);
            int v = m.get(LE_I32, pos);
            pos += 4;
            return v;
        }

        long i64(String what) {
            need(8, what);
            long v = m.get(LE_I64, pos);
            pos += 8;
            return v;
        }

        /** A uint64 count of items of at least minBytes each: more than the rest of the file could hold is an error, not an allocation. */
        long count(String what, long minBytes) {
            long at = pos;
            long n = i64(what);
            if (n < 0 || n > (m.byteSize() - pos) / minBytes) {
                throw fail(at, what + " " + Long.toUnsignedString(n) + " is more than the rest of the file (" + (m.byteSize() - pos)
                        + " bytes) can hold; file truncated or corrupt?");
            }
            return n;
        }

        String string(String what) {
            long at = pos;
            long len = i64("the length of " + what);
            if (len < 0 || len > m.byteSize() - pos) {
                throw fail(at, "file truncated: " + what + " is " + Long.toUnsignedString(len) + " bytes long, only " + (m.byteSize() - pos)
                        + " remain");
            }
            if (len > Integer.MAX_VALUE - 8) throw fail(at, what + " is " + len + " bytes long, more than a Java string holds");
            byte[] b = m.asSlice(pos, len).toArray(ValueLayout.JAVA_BYTE);
            pos += len;
            try {
                return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b)).toString();
            } catch (CharacterCodingException e) {
                throw fail(at, what + " is not valid UTF-8");
            }
        }

        GgufValueType valueType(String what) {
            long at = pos;
            long id = Integer.toUnsignedLong(i32("the value type of " + what));
            GgufValueType t = GgufValueType.byId(id);
            if (t == null) throw fail(at, what + " has unknown value type " + id + " (GGUF defines 0 to 12)");
            return t;
        }

        Value value(GgufValueType t, String what) {
            if (t != GgufValueType.ARRAY) return new Value(t, null, scalar(t, what));
            long at = pos;
            GgufValueType et = valueType("the elements of " + what);
            if (et == GgufValueType.ARRAY) throw fail(at, what + " is an array of arrays, which jllm (like llama.cpp) does not read");
            long n = count("the length of " + what, et == GgufValueType.STRING ? 8 : et.size);
            if (n > Integer.MAX_VALUE - 8) throw fail(at, what + " has " + n + " elements, more than a Java array holds");
            int len = (int) n;
            Object arr = switch (et) {
                case STRING -> {
                    String[] a = new String[len];
                    for (int i = 0; i < len; i++) a[i] = string(what + "[" + i + "]");
                    yield a;
                }
                case FLOAT32 -> {
                    float[] a = new float[len];
                    MemorySegment.copy(m, LE_F32, pos, a, 0, len);
                    pos += 4L * len;
                    yield a;
                }
                case FLOAT64 -> {
                    double[] a = new double[len];
                    MemorySegment.copy(m, LE_F64, pos, a, 0, len);
                    pos += 8L * len;
                    yield a;
                }
                case BOOL -> {
                    boolean[] a = new boolean[len];
                    for (int i = 0; i < len; i++) a[i] = (Boolean) scalar(et, what + "[" + i + "]");
                    yield a;
                }
                default -> {
                    long[] a = new long[len];
                    for (int i = 0; i < len; i++) a[i] = (Long) scalar(et, what + "[" + i + "]");
                    yield a;
                }
            };
            return new Value(t, et, arr);
        }

        Object scalar(GgufValueType t, String what) {
            if (t == GgufValueType.STRING) return string(what);
            long at = pos;
            need(t.size, what);
            Object v = switch (t) {
                case UINT8 -> (long) (m.get(ValueLayout.JAVA_BYTE, pos) & 0xff);
                case INT8 -> (long) m.get(ValueLayout.JAVA_BYTE, pos);
                case UINT16 -> (long) (m.get(LE_I16, pos) & 0xffff);
                case INT16 -> (long) m.get(LE_I16, pos);
                case UINT32 -> Integer.toUnsignedLong(m.get(LE_I32, pos));
                case INT32 -> (long) m.get(LE_I32, pos);
                case UINT64, INT64 -> m.get(LE_I64, pos);
                case FLOAT32 -> m.get(LE_F32, pos);
                case FLOAT64 -> m.get(LE_F64, pos);
                case BOOL -> {
                    byte b = m.get(ValueLayout.JAVA_BYTE, pos);
                    if (b != 0 && b != 1) throw fail(at, what + " is a bool with byte value " + (b & 0xff) + " (must be 0 or 1)");
                    yield b == 1;
                }
                default -> throw new IllegalStateException(t.name());
            };
            pos += t.size;
            return v;
        }
    }
}
