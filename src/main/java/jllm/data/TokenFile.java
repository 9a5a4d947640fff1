package jllm.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A token file in nanoGPT's {@code train.bin}/{@code val.bin} format: raw unsigned 16-bit
 * little-endian ids, no header. The file is memory-mapped, so corpora larger than the heap cost
 * only page cache, and many readers can share it.
 *
 * <p>Reads are bounds-checked; reading after {@link #close()} throws
 * {@link IllegalStateException} rather than touching unmapped memory.
 */
public final class TokenFile implements TokenSource, AutoCloseable {

    /** Largest id that fits the format. */
    public static final int MAX_TOKEN = 0xFFFF;

    private static final ValueLayout.OfShort U16_LE =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path path;
    private final Arena arena;
    private final MemorySegment segment;
    private final long length;

    private TokenFile(Path path, Arena arena, MemorySegment segment) {
        this.path = path;
        this.arena = arena;
        this.segment = segment;
        this.length = segment.byteSize() / 2;
    }

    /**
     * Maps {@code path} read-only.
     *
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException if its size is odd (not a uint16 token file)
     */
    public static TokenFile open(Path path) throws IOException {
        Objects.requireNonNull(path, "path");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size % 2 != 0) {
                throw new IllegalArgumentException("token file " + path + " has " + size
                        + " bytes, not a multiple of 2: not a uint16 token file");
            }
            // Shared so the file can be read from several threads (e.g. data-loading workers).
            Arena arena = Arena.ofShared();
            try {
                MemorySegment seg = size == 0 ? MemorySegment.NULL : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
                return new TokenFile(path, arena, seg);
            } catch (IOException | RuntimeException e) {
                arena.close();
                throw e;
            }
        }
    }

    public Path path() {
        return path;
    }

    @Override
    public long length() {
        return length;
    }

    @Override
    public long get(long i) {
        Objects.checkIndex(i, length);
        return Short.toUnsignedInt(segment.getAtIndex(U16_LE, i));
    }

    @Override
    public void read(long start, int n, long[] dst, int off) {
        TokenSource.checkRead(start, n, length, dst, off);
        MemorySegment seg = segment;
        for (int k = 0; k < n; k++) dst[off + k] = Short.toUnsignedInt(seg.getAtIndex(U16_LE, start + k));
    }

    /** Tokens {@code [start, start+n)} as ints. */
    public int[] readInts(long start, int n) {
        if (n < 0 || start < 0 || start > length - n) {
            throw new IndexOutOfBoundsException("token range [" + start + ", " + (start + n)
                    + ") out of bounds for " + length + " tokens in " + path);
        }
        int[] out = new int[n];
        for (int k = 0; k < n; k++) out[k] = Short.toUnsignedInt(segment.getAtIndex(U16_LE, start + k));
        return out;
    }

    /**
     * The whole file as ints.
     *
     * @throws IllegalStateException if it holds more than {@code Integer.MAX_VALUE - 8} tokens
     */
    public int[] toIntArray() {
        if (length > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException("token file " + path + " holds " + length + " tokens, too many for an int[]");
        }
        return readInts(0, (int) length);
    }

    /** Unmaps the file. */
    @Override
    public void close() {
        arena.close();
    }

    /**
     * Writes {@code tokens} as uint16 little-endian, atomically: to a temporary file beside
     * {@code path}, then renamed over it, so a reader never sees a half-written file.
     *
     * @throws IllegalArgumentException naming the index if a token is negative or above 65535
     */
    public static void write(Path path, int[] tokens) throws IOException {
        Objects.requireNonNull(path, "path");
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] < 0 || tokens[i] > MAX_TOKEN) {
                throw new IllegalArgumentException("token " + tokens[i] + " at index " + i
                        + " does not fit a uint16 token file (0.." + MAX_TOKEN + "): " + path);
            }
        }
        jllm.io.AtomicFiles.write(path, ch -> {
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (int t : tokens) {
                if (!buf.hasRemaining()) drain(ch, buf);
                buf.putShort((short) t);
            }
            drain(ch, buf);
        });
    }

    private static void drain(FileChannel ch, ByteBuffer buf) throws IOException {
        buf.flip();
        while (buf.hasRemaining()) ch.write(buf);
        buf.clear();
    }


    /** {@link #open(Path)} for callers that cannot throw checked exceptions. */
    public static TokenFile openUnchecked(Path path) {
        try {
            return open(path);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot open token file " + path + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "TokenFile(" + path + ", " + length + " tokens)";
    }
}
