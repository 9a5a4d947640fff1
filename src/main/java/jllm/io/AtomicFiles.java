package jllm.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Every file jllm writes goes through here (safetensors has its own writer but the same temporary
 * files): a temporary file next to the target, written, forced to disk, then renamed over the
 * target, so a crash leaves the previous file intact. The temporary file is made with
 * {@code Files.createFile}, i.e. with the permissions the umask gives every other file, not
 * {@code Files.createTempFile}'s 0600, which the rename would carry over to the target.
 */
public final class AtomicFiles {
    private AtomicFiles() {}

    /** Writes a file's content into an open channel. */
    @FunctionalInterface
    public interface ChannelWriter {
        void write(FileChannel ch) throws IOException;
    }

    /** A new empty temporary file {@code .NAME.<random>.tmp} in {@code dir}. */
    public static Path createTemp(Path dir, String name) throws IOException {
        return createUnique(() -> Files.createFile(dir.resolve("." + name + "." + Long.toHexString(ThreadLocalRandom.current().nextLong()) + ".tmp")));
    }

    /**
     * A new empty directory {@code PREFIX<random>} in {@code parent}, made with
     * {@code Files.createDirectory} (umask permissions, where {@code Files.createTempDirectory}
     * makes it owner-only and the final rename would keep that).
     */
    public static Path createTempDir(Path parent, String prefix) throws IOException {
        return createUnique(() -> Files.createDirectory(parent.resolve(prefix + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE))));
    }

    /** Creates a path with a random name; a name already taken (unlikely) is drawn again. */
    private static Path createUnique(Creator create) throws IOException {
        for (int attempt = 0; ; attempt++) {
            try {
                return create.create();
            } catch (FileAlreadyExistsException e) {
                if (attempt > 100) throw e;
            }
        }
    }

    @FunctionalInterface
    private interface Creator {
        Path create() throws IOException;
    }

    /** Replaces {@code path} with what {@code body} writes, atomically; the temporary file is removed on failure. */
    public static void write(Path path, ChannelWriter body) throws IOException {
        Path abs = path.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir != null) Files.createDirectories(dir);
        Path tmp = createTemp(dir, abs.getFileName().toString());
        boolean done = false;
        try {
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                body.write(ch);
                ch.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            done = true;
        } finally {
            if (!done) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original failure is the one worth reporting
                }
            }
        }
    }

    public static void write(Path path, byte[] bytes) throws IOException {
        write(path, ch -> {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) ch.write(b);
        });
    }

    public static void writeString(Path path, String text) throws IOException {
        write(path, text.getBytes(StandardCharsets.UTF_8));
    }
}
