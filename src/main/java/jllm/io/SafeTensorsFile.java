package jllm.io;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * An open, validated safetensors file. Tensors are zero-copy read-only slices of the file's
 * memory mapping. Opened with {@link SafeTensors#open} the mapping is released by
 * {@link #close()}, after which slices handed out throw {@link IllegalStateException} on
 * access; opened with {@link SafeTensors#openAuto} it lives until no slice is reachable and
 * {@code close()} only stops further lookups. Safe for concurrent readers.
 */
public final class SafeTensorsFile implements AutoCloseable {

    private final Path path;
    private final Arena arena; // null for openAuto: the GC owns the mapping
    private final long headerLength;
    private final Map<String, TensorEntry> byName; // insertion = data-offset order
    private final List<String> names;
    private final Map<String, String> metadata;
    private volatile boolean closed;

    SafeTensorsFile(Path path, Arena arena, long headerLength, Map<String, TensorEntry> byName,
                    Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.headerLength = headerLength;
        this.byName = Collections.unmodifiableMap(byName);
        this.names = List.copyOf(byName.keySet());
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    public Path path() {
        return path;
    }

    /** Tensor names in the order of their data in the file (for files we write: dtype size descending, then name). */
    public List<String> names() {
        return names;
    }

    public int size() {
        return names.size();
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** The tensor called {@code name}; a {@link SafeTensorsException} naming the file and some keys if absent. */
    public TensorEntry get(String name) {
        ensureOpen();
        TensorEntry e = byName.get(name);
        if (e == null) {
            String some = names.stream().sorted().limit(8)
                    .map(n -> "'" + n + "'").collect(Collectors.joining(", "));
            throw new SafeTensorsException(path + ": no tensor named '" + name + "' (file has " + names.size()
                    + " tensors" + (names.isEmpty() ? "" : ": " + some + (names.size() > 8 ? ", ..." : "")) + ")");
        }
        return e;
    }

    /** All tensors, in {@link #names()} order. */
    public List<TensorEntry> entries() {
        ensureOpen();
        return List.copyOf(byName.values());
    }

    /** The {@code __metadata__} map in header order; empty when the file has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Header length N in bytes (the data buffer starts at byte 8 + N). */
    public long headerLength() {
        return headerLength;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException(path + ": safetensors file is closed");
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            if (arena != null) {
                arena.close();
            }
        }
    }

    @Override
    public String toString() {
        return "SafeTensorsFile[" + path + ", " + names.size() + " tensors]";
    }
}
