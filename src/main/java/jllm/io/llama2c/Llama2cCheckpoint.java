package jllm.io.llama2c;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.EnumMap;
import java.util.Map;

/**
 * A llama2.c model checkpoint, memory-mapped. Two layouts exist: the legacy version 0 (a 28-byte
 * header of seven int32s, a negative vocab_size meaning a separate classifier, weights grouped by
 * kind, then two unused RoPE tables before the optional classifier) and export.py's version 1 (a
 * 256-byte header starting with the magic "ak42", norms first, no RoPE tables). Version 2 (Q8_0)
 * is refused. The file size must equal what the header implies, to the byte: a truncated or padded
 * file is more likely a wrong file than a usable one.
 *
 * <p>Every matrix is row-major {@code (out, in)}, i.e. PyTorch's {@code nn.Linear.weight}
 * orientation. The segments returned are views of the mapping and die with {@link #close()}.
 */
public final class Llama2cCheckpoint implements AutoCloseable {

    /** export.py writes {@code struct.pack('I', 0x616b3432)}: the bytes "24ka" on disk. */
    public static final int MAGIC = 0x616b3432;
    static final int LEGACY_HEADER_BYTES = 28;
    static final int V1_HEADER_BYTES = 256;

    static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The per-layer weights, in the legacy file order. */
    public enum Part { RMS_ATT, WQ, WK, WV, WO, RMS_FFN, W1, W2, W3 }

    private final Path file;
    private final Llama2cConfig config;
    private final Arena arena;
    private final MemorySegment data;
    private final long embeddingAt;
    private final long finalNormAt;
    private final long classifierAt;
    private final Map<Part, Long> partAt = new EnumMap<>(Part.class);

    private Llama2cCheckpoint(Path file, Llama2cConfig config, Arena arena, MemorySegment data, long headerBytes) {
        this.file = file;
        this.config = config;
        this.arena = arena;
        this.data = data;
        long layers = config.nLayers();
        long at = headerBytes;
        if (config.version() == 0) {
            embeddingAt = at;
            at += 4L * config.vocabSize() * config.dim();
            for (Part p : Part.values()) {
                partAt.put(p, at);
                at += 4L * layers * numel(p);
            }
            finalNormAt = at;
            at += 4L * config.dim();
            at += 4L * config.seqLen() * config.headSize(); // freq_cis_real and _imag, seq_len * head_size / 2 each
        } else {
            partAt.put(Part.RMS_ATT, at);
            at += 4L * layers * config.dim();
            partAt.put(Part.RMS_FFN, at);
            at += 4L * layers * config.dim();
            finalNormAt = at;
            at += 4L * config.dim();
            embeddingAt = at;
            at += 4L * config.vocabSize() * config.dim();
            for (Part p : new Part[] {Part.WQ, Part.WK, Part.WV, Part.WO, Part.W1, Part.W2, Part.W3}) {
                partAt.put(p, at);
                at += 4L * layers * numel(p);
            }
        }
        classifierAt = config.sharedClassifier() ? embeddingAt : at;
    }

    /** Maps {@code file} and checks its header and size. */
    public static Llama2cCheckpoint open(Path file) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < LEGACY_HEADER_BYTES) {
                throw new IOException(file + ": not a llama2.c checkpoint: " + size
                        + " bytes, shorter than the smallest header (" + LEGACY_HEADER_BYTES + " bytes)");
            }
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long header;
            Llama2cConfig config;
            int first = data.get(LE_I32, 0);
            if (first == MAGIC) {
                int version = data.get(LE_I32, 4);
                if (version != 1) {
                    throw new IOException(file + ": llama2.c checkpoint version " + version + " is not supported"
                            + (version == 2 ? " (Q8_0 quantized; export with --version 0 or 1 for fp32)" : "")
                            + "; supported: the legacy version 0 and version 1 (fp32)");
                }
                if (size < V1_HEADER_BYTES) {
                    throw new IOException(file + ": file is " + size + " bytes, shorter than the version 1 header ("
                            + V1_HEADER_BYTES + " bytes)");
                }
                int[] h = ints(data, 8);
                if (h[5] <= 0) {
                    throw new IOException(file + ": version 1 header has vocab_size " + h[5] + ", must be positive");
                }
                byte shared = data.get(ValueLayout.JAVA_BYTE, 36);
                if (shared != 0 && shared != 1) {
                    throw new IOException(file + ": version 1 header has shared_classifier flag " + shared + ", must be 0 or 1");
                }
                config = config(file, 1, h, h[5], shared == 1);
                header = V1_HEADER_BYTES;
            } else {
                int[] h = ints(data, 0);
                // The legacy format flags an untied classifier by a negative vocab_size.
                config = config(file, 0, h, Math.abs(h[5]), h[5] > 0);
                header = LEGACY_HEADER_BYTES;
            }
            long expected = expectedSize(config);
            if (size != expected) {
                throw new IOException(file + ": file is " + size + " bytes but the header ("
                        + "version " + config.version() + ", " + Llama2cConfig.describe(config.dim(), config.hiddenDim(),
                        config.nLayers(), config.nHeads(), config.nKvHeads(), config.vocabSize(), config.seqLen())
                        + (config.sharedClassifier() ? ", shared classifier" : ", separate classifier")
                        + ") implies " + expected + " bytes (" + (size < expected ? "too short by " + (expected - size)
                        : "too long by " + (size - expected)) + ")");
            }
            return new Llama2cCheckpoint(file, config, arena, data, header);
        } catch (Throwable t) {
            arena.close();
            throw t;
        }
    }

    private static int[] ints(MemorySegment data, long at) {
        int[] h = new int[7];
        for (int i = 0; i < 7; i++) {
            h[i] = data.get(LE_I32, at + 4L * i);
        }
        return h;
    }

    private static Llama2cConfig config(Path file, int version, int[] h, int vocab, boolean shared) throws IOException {
        try {
            return new Llama2cConfig(version, h[0], h[1], h[2], h[3], h[4], vocab, h[6], shared);
        } catch (IllegalArgumentException e) {
            throw new IOException(file + ": bad llama2.c header: " + e.getMessage(), e);
        }
    }

    /** The exact file size, in bytes, of a checkpoint with {@code c}'s header. */
    public static long expectedSize(Llama2cConfig c) {
        long layers = c.nLayers();
        long dim = c.dim();
        long perLayer = 0;
        for (Part p : Part.values()) {
            perLayer += numel(c, p);
        }
        long floats = (long) c.vocabSize() * dim + layers * perLayer + dim
                + (c.sharedClassifier() ? 0 : (long) c.vocabSize() * dim);
        if (c.version() == 0) {
            return LEGACY_HEADER_BYTES + 4L * (floats + (long) c.seqLen() * c.headSize());
        }
        return V1_HEADER_BYTES + 4L * floats;
    }

    public Path file() {
        return file;
    }

    public Llama2cConfig config() {
        return config;
    }

    /** Shape of one layer's {@code part}: {@code (out, in)} for matrices, {@code (dim)} for norms. */
    public long[] shape(Part part) {
        return shape(config, part);
    }

    static long[] shape(Llama2cConfig c, Part part) {
        return switch (part) {
            case RMS_ATT, RMS_FFN -> new long[] {c.dim()};
            case WQ, WO -> new long[] {c.dim(), c.dim()};
            case WK, WV -> new long[] {c.kvDim(), c.dim()};
            case W1, W3 -> new long[] {c.hiddenDim(), c.dim()};
            case W2 -> new long[] {c.dim(), c.hiddenDim()};
        };
    }

    private long numel(Part part) {
        return numel(config, part);
    }

    private static long numel(Llama2cConfig c, Part part) {
        long n = 1;
        for (long d : shape(c, part)) {
            n *= d;
        }
        return n;
    }

    /** {@code (vocab_size, dim)}. */
    public MemorySegment tokenEmbedding() {
        return data.asSlice(embeddingAt, 4L * config.vocabSize() * config.dim());
    }

    /** One layer's weight, little-endian float32, shaped as {@link #shape(Part)}. */
    public MemorySegment layer(Part part, int layer) {
        if (layer < 0 || layer >= config.nLayers()) {
            throw new IndexOutOfBoundsException("layer " + layer + " out of range [0, " + config.nLayers() + ") in " + file);
        }
        long n = 4L * numel(part);
        return data.asSlice(partAt.get(part) + layer * n, n);
    }

    /** {@code (dim)}. */
    public MemorySegment finalNorm() {
        return data.asSlice(finalNormAt, 4L * config.dim());
    }

    /** {@code (vocab_size, dim)}: the separate classifier, or the token embedding when shared. */
    public MemorySegment classifier() {
        return data.asSlice(classifierAt, 4L * config.vocabSize() * config.dim());
    }

    /** Copies a segment of little-endian float32s to the heap. */
    public static float[] floats(MemorySegment segment) {
        if (segment.byteSize() % 4 != 0 || segment.byteSize() / 4 > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes does not fit a float[]");
        }
        float[] out = new float[(int) (segment.byteSize() / 4)];
        MemorySegment.copy(segment, LE_F32, 0, out, 0, out.length);
        return out;
    }

    @Override
    public void close() {
        arena.close();
    }
}
