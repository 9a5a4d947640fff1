package jllm.train;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * One writer per {@code out_dir}: an advisory lock on {@code out_dir/.jllm.lock}, held for a whole
 * training run, so that a second run on the same directory stops at once, naming the holder's pid,
 * instead of both overwriting each other's checkpoints. The operating system releases the lock
 * when the holder exits in any way (kill -9 included), so there is never a stale lock to clean up;
 * the file itself stays (deleting it would race with the next writer).
 */
public final class OutDirLock implements AutoCloseable {
    public static final String FILE = ".jllm.lock";

    private final FileChannel channel;
    private final FileLock lock;

    private OutDirLock(FileChannel channel, FileLock lock) {
        this.channel = channel;
        this.lock = lock;
    }

    /**
     * Takes the lock of {@code outDir} (created if needed).
     *
     * @throws IllegalStateException when another run (this process included) holds it
     */
    public static OutDirLock acquire(Path outDir) throws IOException {
        Files.createDirectories(outDir);
        Path file = outDir.resolve(FILE);
        FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        FileLock lock;
        try {
            lock = ch.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null; // held by this very process
        }
        if (lock == null) {
            ch.close();
            String holder = Files.readString(file, StandardCharsets.UTF_8).strip();
            throw new IllegalStateException(outDir + " is in use by another jllm run (pid " + (holder.isEmpty() ? "unknown" : holder)
                    + "): one run writes to an out_dir at a time; wait for it to finish or choose another out_dir");
        }
        ch.truncate(0);
        ch.write(ByteBuffer.wrap((ProcessHandle.current().pid() + "\n").getBytes(StandardCharsets.UTF_8)), 0);
        ch.force(false);
        return new OutDirLock(ch, lock);
    }

    @Override
    public void close() throws IOException {
        try {
            lock.release();
        } finally {
            channel.close();
        }
    }
}
