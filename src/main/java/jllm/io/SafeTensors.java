package jllm.io;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.SerializableString;
import com.fasterxml.jackson.core.io.CharacterEscapes;
import com.fasterxml.jackson.core.io.SerializedString;
import java.io.IOException;
import java.io.StringWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Reading and writing the safetensors format: an 8-byte little-endian header length N, N
 * bytes of UTF-8 JSON (tensor name to {@code {"dtype", "shape", "data_offsets"}}, plus an
 * optional {@code "__metadata__"} string map), then the data buffer the offsets point into.
 *
 * <p>Reading validates as the reference implementation does and a little more (duplicate
 * keys, named holes and overlaps); every error names the file and, where there is one, the
 * key. Unknown fields inside a tensor entry are ignored, as the reference ignores them.
 *
 * <p>Writing produces the bytes the reference Python library writes for the same tensors:
 * tensors ordered by dtype ({@link StDType} order, descending) then name, header in that
 * order with {@code __metadata__} first, compact JSON padded with spaces to a multiple of 8.
 * (The reference keeps metadata in a hash map, so its metadata key order is arbitrary; we sort
 * metadata keys.) The file is replaced atomically.
 */
public final class SafeTensors {

    /** Largest header the reference implementation accepts. */
    public static final long MAX_HEADER_SIZE = 100_000_000L;

    private static final String METADATA_KEY = "__metadata__";
    private static final ValueLayout.OfLong LE_U64 =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int CHUNK = 1 << 20; // multiple of 8, so chunks never split an element
    private static final JsonFactory JSON = new JsonFactory();
    private static final CharacterEscapes SERDE_ESCAPES = new SerdeEscapes();

    private SafeTensors() {}

    // =====================================================================================
    // Reading
    // =====================================================================================

    /** Maps and validates {@code file}; {@link SafeTensorsFile#close()} unmaps it. */
    public static SafeTensorsFile open(Path file) throws IOException {
        return read(file, false);
    }

    /**
     * Maps and validates {@code file} with a mapping that lives as long as any tensor slice
     * is reachable (model loading: weights outlive the file object). {@code close()} does not
     * unmap.
     */
    public static SafeTensorsFile openAuto(Path file) throws IOException {
        return read(file, true);
    }

    private record Raw(String name, StDType dtype, long[] shape, long begin, long end) {}

    private static SafeTensorsFile read(Path file, boolean auto) throws IOException {
        Arena arena = auto ? Arena.ofAuto() : Arena.ofShared();
        boolean ok = false;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            String where = file.toString();
            long size = ch.size();
            if (size < 8) {
                throw fail(where, "file is " + size + " bytes long, shorter than the 8-byte header length");
            }
            MemorySegment map = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = map.get(LE_U64, 0);
            if (n < 0 || n > MAX_HEADER_SIZE) {
                throw fail(where, "header length " + Long.toUnsignedString(n) + " exceeds the limit of "
                        + MAX_HEADER_SIZE + " bytes (not a safetensors file?)");
            }
            if (n > size - 8) {
                throw fail(where, "header length " + n + " runs past the end of the file (" + size
                        + " bytes, so at most " + (size - 8) + " header bytes)");
            }
            byte[] header = map.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            Map<String, String> metadata = new LinkedHashMap<>();
            List<Raw> raws = parseHeader(where, header, metadata);
            long bufferLen = size - 8 - n;
            validateLayout(where, raws, bufferLen);

            Map<String, TensorEntry> byName = new LinkedHashMap<>();
            for (Raw r : raws) { // validateLayout left them in offset order
                MemorySegment data = map.asSlice(8 + n + r.begin, r.end - r.begin);
                byName.put(r.name, new TensorEntry(r.name, r.dtype, r.shape, data));
            }
            ok = true;
            return new SafeTensorsFile(file, auto ? null : arena, n, byName, metadata);
        } finally {
            if (!ok && !auto) {
                arena.close();
            }
        }
    }

    private static List<Raw> parseHeader(String where, byte[] header, Map<String, String> metadata) {
        if (header.length == 0 || header[0] != '{') {
            throw fail(where, "header must be a JSON object starting with '{', but "
                    + (header.length == 0 ? "it is empty" : "it starts with byte 0x" + String.format("%02X", header[0] & 0xFF)));
        }
        String text = decodeUtf8(where, header);
        List<Raw> raws = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        try (JsonParser p = JSON.createParser(text)) {
            p.nextToken(); // START_OBJECT, guaranteed by the '{' check
            JsonToken t;
            while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
                String key = p.currentName();
                if (!seen.add(key)) {
                    throw fail(where, "duplicate key '" + key + "' in header");
                }
                p.nextToken();
                if (key.equals(METADATA_KEY)) {
                    parseMetadata(where, p, metadata);
                } else {
                    raws.add(parseTensor(where, key, p));
                }
            }
            if (t != JsonToken.END_OBJECT || p.nextToken() != null) {
                throw fail(where, "header has data after its JSON object (only space padding may follow)");
            }
        } catch (JsonProcessingException e) {
            throw fail(where, "header is not valid JSON: " + JsonErrors.describe(e), e);
        } catch (IOException e) {
            throw fail(where, "header is not valid JSON: " + e.getMessage(), e);
        }
        return raws;
    }

    private static String decodeUtf8(String where, byte[] bytes) {
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = dec.decode(in, out, true);
        if (!r.isError()) {
            r = dec.flush(out);
        }
        if (r.isError()) {
            throw fail(where, "header is not valid UTF-8 (bad byte sequence at header byte " + in.position() + ")");
        }
        return out.flip().toString();
    }

    private static void parseMetadata(String where, JsonParser p, Map<String, String> metadata) throws IOException {
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw fail(where, "'" + METADATA_KEY + "' must be an object of string values, found " + describe(p));
        }
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String k = p.currentName();
            p.nextToken();
            if (p.currentToken() != JsonToken.VALUE_STRING) {
                throw fail(where, "'" + METADATA_KEY + "' entry '" + k + "' must be a string, found " + describe(p));
            }
            if (metadata.putIfAbsent(k, p.getText()) != null) {
                throw fail(where, "duplicate key '" + k + "' in '" + METADATA_KEY + "'");
            }
        }
    }

    private static Raw parseTensor(String where, String key, JsonParser p) throws IOException {
        String at = "tensor '" + key + "': ";
        if (p.currentToken() != JsonToken.START_OBJECT) {
            throw fail(where, at + "expected an object with dtype, shape and data_offsets, found " + describe(p));
        }
        StDType dtype = null;
        long[] shape = null, offsets = null;
        Set<String> fields = new HashSet<>();
        while (p.nextToken() == JsonToken.FIELD_NAME) {
            String f = p.currentName();
            if (!fields.add(f)) {
                throw fail(where, at + "duplicate field '" + f + "'");
            }
            p.nextToken();
            switch (f) {
                case "dtype" -> {
                    if (p.currentToken() != JsonToken.VALUE_STRING) {
                        throw fail(where, at + "dtype must be a string, found " + describe(p));
                    }
                    dtype = StDType.fromName(p.getText());
                    if (dtype == null) {
                        throw fail(where, at + "unknown or unsupported dtype '" + p.getText() + "' (supported: "
                                + Arrays.stream(StDType.values()).map(Enum::name).collect(Collectors.joining(", ")) + ")");
                    }
                }
                case "shape" -> shape = readIntArray(where, at, "shape", p);
                case "data_offsets" -> {
                    offsets = readIntArray(where, at, "data_offsets", p);
                    if (offsets.length != 2) {
                        throw fail(where, at + "data_offsets must be [begin, end], found " + offsets.length + " numbers");
                    }
                    if (offsets[0] > offsets[1]) {
                        throw fail(where, at + "data_offsets [" + offsets[0] + ", " + offsets[1] + "] have begin > end");
                    }
                }
                default -> p.skipChildren(); // the reference ignores unknown fields
            }
        }
        if (dtype == null) throw fail(where, at + "missing \"dtype\"");
        if (shape == null) throw fail(where, at + "missing \"shape\"");
        if (offsets == null) throw fail(where, at + "missing \"data_offsets\"");
        return new Raw(key, dtype, shape, offsets[0], offsets[1]);
    }

    private static long[] readIntArray(String where, String at, String what, JsonParser p) throws IOException {
        if (p.currentToken() != JsonToken.START_ARRAY) {
            throw fail(where, at + what + " must be an array of non-negative integers, found " + describe(p));
        }
        long[] out = new long[4];
        int n = 0;
        while (p.nextToken() != JsonToken.END_ARRAY) {
            if (p.currentToken() != JsonToken.VALUE_NUMBER_INT) {
                throw fail(where, at + what + " must be an array of non-negative integers, found element " + describe(p));
            }
            if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER || p.getLongValue() < 0) {
                throw fail(where, at + what + " element " + p.getText() + " is "
                        + (p.getText().startsWith("-") ? "negative" : "too large"));
            }
            if (n == out.length) out = Arrays.copyOf(out, 2 * n);
            out[n++] = p.getLongValue();
        }
        return Arrays.copyOf(out, n);
    }

    private static String describe(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        return switch (t) {
            case START_OBJECT -> "an object";
            case START_ARRAY -> "an array";
            case VALUE_STRING -> "string \"" + p.getText() + "\"";
            case null -> "end of input";
            default -> p.getText();
        };
    }

    /** Per-tensor size checks, then: sorted by offset the tensors tile [0, bufferLen) exactly. */
    private static void validateLayout(String where, List<Raw> raws, long bufferLen) {
        for (Raw r : raws) {
            String at = "tensor '" + r.name + "': ";
            long need;
            try {
                need = Math.multiplyExact(TensorEntry.numel(r.shape), (long) r.dtype.byteSize());
            } catch (ArithmeticException e) {
                throw fail(where, at + "shape " + Arrays.toString(r.shape) + " of " + r.dtype + " overflows 64-bit byte counts");
            }
            long have = r.end - r.begin;
            if (have != need) {
                throw fail(where, at + "data_offsets [" + r.begin + ", " + r.end + "] span " + have
                        + " bytes but shape " + Arrays.toString(r.shape) + " of " + r.dtype + " needs " + need
                        + " bytes (" + TensorEntry.numel(r.shape) + " elements x " + r.dtype.byteSize() + ")");
            }
            if (r.end > bufferLen) {
                throw fail(where, at + "data_offsets [" + r.begin + ", " + r.end + "] run past the end of the data buffer ("
                        + bufferLen + " bytes after the header); file truncated?");
            }
        }
        raws.sort(Comparator.comparingLong(Raw::begin).thenComparingLong(Raw::end));
        long cursor = 0;
        String prev = null;
        for (Raw r : raws) {
            if (r.begin > cursor) {
                throw fail(where, "data bytes [" + cursor + ", " + r.begin + ") are not covered by any tensor (hole "
                        + (prev == null ? "at the start, " : "between tensor '" + prev + "' and ") + "tensor '" + r.name + "')");
            }
            if (r.begin < cursor) {
                throw fail(where, "tensor '" + r.name + "': data_offsets [" + r.begin + ", " + r.end + "] "
                        + (r.begin == r.end
                                ? "point inside tensor '" + prev + "' (which ends at byte " + cursor + ")"
                                : "overlap tensor '" + prev + "' on bytes [" + r.begin + ", " + Math.min(cursor, r.end) + ")"));
            }
            cursor = r.end;
            prev = r.name;
        }
        if (cursor != bufferLen) {
            throw fail(where, "data bytes [" + cursor + ", " + bufferLen + ") at the end of the file are not covered by any tensor"
                    + (prev == null ? "" : " (after tensor '" + prev + "')"));
        }
    }

    // =====================================================================================
    // Writing
    // =====================================================================================

    /** Writes {@code tensors} (and {@code metadata}, may be null) to {@code file}, atomically. */
    public static void write(Path file, List<TensorEntry> tensors, Map<String, String> metadata) throws IOException {
        List<TensorSource> sources = new ArrayList<>(tensors.size());
        for (TensorEntry e : tensors) {
            sources.add(TensorSource.of(e));
        }
        writeSources(file, sources, metadata);
    }

    /**
     * Writes tensors whose bytes are produced on demand (see {@link TensorSource}) to
     * {@code file}: everything goes to a temporary file in the same directory, which is forced
     * to disk and then renamed over {@code file} in one atomic step. On any failure (bad input,
     * I/O error, an exception from a filler) the temporary file is deleted and an existing
     * {@code file} is left as it was. {@code metadata} may be null (no {@code __metadata__}).
     */
    public static void writeSources(Path file, List<TensorSource> tensors, Map<String, String> metadata) throws IOException {
        String where = file.toString();
        List<TensorSource> order = checkAndOrder(where, tensors, metadata);
        byte[] header = headerBytes(order, metadata);
        if (header.length > MAX_HEADER_SIZE) {
            throw fail(where, "header would be " + header.length + " bytes, over the limit of " + MAX_HEADER_SIZE);
        }

        Path abs = file.toAbsolutePath();
        Path dir = abs.getParent();
        Path tmp = AtomicFiles.createTemp(dir, abs.getFileName().toString());
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE);
                 Arena arena = Arena.ofConfined()) {
                ByteBuffer prefix = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, header.length);
                writeFully(ch, prefix);
                writeFully(ch, ByteBuffer.wrap(header));
                long total = 0;
                for (TensorSource s : order) {
                    total += s.byteSize();
                }
                MemorySegment chunk = arena.allocate(Math.min(CHUNK, Math.max(8, total)), 8);
                ByteBuffer buf = chunk.asByteBuffer();
                for (TensorSource s : order) {
                    for (long off = 0; off < s.byteSize(); off += chunk.byteSize()) {
                        int len = (int) Math.min(chunk.byteSize(), s.byteSize() - off);
                        s.filler().fill(off, chunk.asSlice(0, len));
                        buf.clear().limit(len);
                        writeFully(ch, buf);
                    }
                }
                ch.force(true);
            }
            Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Throwable t) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException suppressed) {
                t.addSuppressed(suppressed);
            }
            throw t;
        }
        syncDirectory(dir);
    }

    private static List<TensorSource> checkAndOrder(String where, List<TensorSource> tensors, Map<String, String> metadata) {
        Set<String> names = new HashSet<>();
        for (TensorSource s : tensors) {
            String at = "tensor '" + s.name() + "': ";
            if (s.name().equals(METADATA_KEY)) {
                throw fail(where, "'" + METADATA_KEY + "' is reserved and cannot name a tensor");
            }
            if (!wellFormed(s.name())) {
                throw fail(where, "tensor name '" + s.name() + "' has an unpaired surrogate and cannot be written as UTF-8");
            }
            if (!names.add(s.name())) {
                throw fail(where, "duplicate tensor name '" + s.name() + "'");
            }
            long[] shape = s.shape();
            for (long d : shape) {
                if (d < 0) throw fail(where, at + "negative dimension in shape " + Arrays.toString(shape));
            }
            long need;
            try {
                need = Math.multiplyExact(TensorEntry.numel(shape), (long) s.dtype().byteSize());
            } catch (ArithmeticException e) {
                throw fail(where, at + "shape " + Arrays.toString(shape) + " overflows 64-bit byte counts");
            }
            if (s.byteSize() != need) {
                throw fail(where, at + "data has " + s.byteSize() + " bytes but shape " + Arrays.toString(shape)
                        + " of " + s.dtype() + " needs " + need + " bytes");
            }
        }
        if (metadata != null) {
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                if (e.getKey() == null || e.getValue() == null) {
                    throw fail(where, "metadata keys and values must not be null (entry " + e.getKey() + "=" + e.getValue() + ")");
                }
                if (!wellFormed(e.getKey()) || !wellFormed(e.getValue())) {
                    throw fail(where, "metadata entry '" + e.getKey() + "' has an unpaired surrogate and cannot be written as UTF-8");
                }
            }
        }
        List<TensorSource> order = new ArrayList<>(tensors);
        order.sort(Comparator.comparing(TensorSource::dtype, Comparator.reverseOrder())
                .thenComparing(TensorSource::name, SafeTensors::compareUtf8));
        return order;
    }

    private static boolean wellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            } else if (Character.isSurrogate(c)) {
                return false;
            }
        }
        return true;
    }

    /** Byte order of the UTF-8 encodings, which is code point order (Rust's str ordering). */
    private static int compareUtf8(String a, String b) {
        int i = 0, j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i), cb = b.codePointAt(j);
            if (ca != cb) return Integer.compare(ca, cb);
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Boolean.compare(i < a.length(), j < b.length());
    }

    private static byte[] headerBytes(List<TensorSource> order, Map<String, String> metadata) throws IOException {
        // Through a Writer: the byte-stream generator would escape supplementary characters.
        StringWriter out = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(out)) {
            g.setCharacterEscapes(SERDE_ESCAPES);
            g.writeStartObject();
            if (metadata != null) {
                g.writeObjectFieldStart(METADATA_KEY);
                for (Map.Entry<String, String> e : new TreeMap<>(metadata).entrySet()) {
                    g.writeStringField(e.getKey(), e.getValue());
                }
                g.writeEndObject();
            }
            long offset = 0;
            for (TensorSource s : order) {
                g.writeObjectFieldStart(s.name());
                g.writeStringField("dtype", s.dtype().name());
                g.writeArrayFieldStart("shape");
                for (long d : s.shape()) g.writeNumber(d);
                g.writeEndArray();
                g.writeArrayFieldStart("data_offsets");
                g.writeNumber(offset);
                g.writeNumber(offset + s.byteSize());
                g.writeEndArray();
                g.writeEndObject();
                offset += s.byteSize();
            }
            g.writeEndObject();
        }
        byte[] json = out.toString().getBytes(StandardCharsets.UTF_8); // names checked well-formed
        byte[] padded = Arrays.copyOf(json, (json.length + 7) & ~7);
        Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }


    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Makes the rename itself durable where the platform allows fsync on a directory. */
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // Not supported everywhere (e.g. Windows); the file itself is already on disk.
        }
    }

    private static SafeTensorsException fail(String where, String msg) {
        return new SafeTensorsException(where + ": " + msg);
    }

    private static SafeTensorsException fail(String where, String msg, Throwable cause) {
        return new SafeTensorsException(where + ": " + msg, cause);
    }

    /** serde_json's escaping (the reference writer): short escapes, else a lowercase 4-hex-digit u-escape. */
    private static final class SerdeEscapes extends CharacterEscapes {
        private final int[] ascii = standardAsciiEscapesForJSON();

        SerdeEscapes() {
            for (int c = 0; c < 0x20; c++) {
                if (ascii[c] == ESCAPE_STANDARD) ascii[c] = ESCAPE_CUSTOM;
            }
        }

        @Override
        public int[] getEscapeCodesForAscii() {
            return ascii;
        }

        @Override
        public SerializableString getEscapeSequence(int ch) {
            // Asked for every non-ASCII char too: null writes it raw (UTF-8), as serde_json does.
            return ch < 0x20 ? new SerializedString(String.format("\\u%04x", ch)) : null;
        }
    }
}
