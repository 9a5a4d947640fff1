package jllm.backend.cuda;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;

/**
 * A caching device-memory allocator after PyTorch's CUDACachingAllocator. Device allocation
 * ({@code cuMemAlloc}) is slow and synchronising, so memory is taken from the device in segments and
 * handed out as blocks that go back to a free list, never to the device, until {@link #emptyCache()}:
 * <ul>
 *   <li>sizes round up to multiples of 512 bytes;</li>
 *   <li>blocks of up to 1 MiB come from 2 MiB segments (the small pool); larger requests from 20 MiB
 *       segments when under 10 MiB, else from a segment of the size rounded up to 2 MiB (the large pool);</li>
 *   <li>a free block is chosen best-fit (smallest that fits) and split when the rest is worth keeping
 *       (at least 512 B in the small pool, more than 1 MiB in the large one);</li>
 *   <li>a freed block merges with free neighbours of its segment;</li>
 *   <li>blocks belong to the stream they were allocated on, and a freed block serves only that stream
 *       again: work already queued on the stream is ordered before any later use, so freeing needs no
 *       synchronisation (use of a block on another stream is not supported);</li>
 *   <li>when the device refuses a segment, the cached free segments are released and the allocation is
 *       retried once; then a {@link CudaOutOfMemoryError} states requested, reserved, allocated and free bytes.</li>
 * </ul>
 * The device is reached only through {@link RawAllocator}, so this class is tested on the CPU with
 * real off-heap memory. Thread-safe (storages are freed from a cleaner thread).
 */
public final class CachingAllocator {
    /** The memory under the cache: cuMemAlloc/cuMemFree on a GPU, off-heap memory in tests. */
    public interface RawAllocator {
        /** A new region of exactly {@code bytes}, aligned to at least 512 bytes, or 0 when out of memory. */
        long malloc(long bytes);

        void free(long ptr);

        /** Free bytes on the device, or -1 when unknown. */
        long freeBytes();

        /** Total bytes of the device, or -1 when unknown. */
        long totalBytes();

        /** Waits for queued work that may still use cached memory (before memory goes back to the device). */
        default void synchronize() {}
    }

    public static final long MIN_BLOCK = 512;
    public static final long SMALL_SIZE = 1L << 20;
    public static final long SMALL_BUFFER = 2L << 20;
    public static final long LARGE_BUFFER = 20L << 20;
    public static final long MIN_LARGE_ALLOC = 10L << 20;
    public static final long ROUND_LARGE = 2L << 20;

    /** A piece of a segment: allocated to a caller or free in its pool. */
    public static final class Block {
        private final long stream;
        private final boolean small;
        private final long ptr;
        private long size;
        private long requested;
        private boolean allocated;
        private Block prev, next;

        private Block(long stream, boolean small, long ptr, long size) {
            this.stream = stream;
            this.small = small;
            this.ptr = ptr;
            this.size = size;
        }

        public long ptr() { return ptr; }

        /** The rounded size handed out. */
        public long size() { return size; }

        /** The size asked for. */
        public long requested() { return requested; }

        public long stream() { return stream; }

        public boolean isAllocated() { return allocated; }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "Block[0x%x, %d B, stream %d, %s]", ptr, size, stream, allocated ? "allocated" : "free");
        }
    }

    /** Counters in bytes (allocated: handed out, rounded; reserved: taken from the device). */
    public record Stats(long allocatedBytes, long reservedBytes, long peakAllocatedBytes, long peakReservedBytes,
                        long requestedBytes, int activeBlocks, int segments, long deviceAllocs, long deviceFrees, long cacheFlushes) {}

    private static final Comparator<Block> ORDER = Comparator.<Block>comparingLong(b -> b.stream).thenComparingLong(b -> b.size)
            .thenComparingLong(b -> b.ptr);

    private final RawAllocator raw;
    private final String deviceName;
    private final TreeSet<Block> smallFree = new TreeSet<>(ORDER), largeFree = new TreeSet<>(ORDER);
    private final Map<Long, Block> active = new HashMap<>();
    private long allocated, reserved, peakAllocated, peakReserved, requested, deviceAllocs, deviceFrees, cacheFlushes;
    private int segments;

    public CachingAllocator(RawAllocator raw, String deviceName) {
        this.raw = raw;
        this.deviceName = deviceName;
    }

    /** 512-byte multiples, at least 512. */
    public static long roundSize(long bytes) {
        if (bytes < MIN_BLOCK) return MIN_BLOCK;
        return (bytes + MIN_BLOCK - 1) / MIN_BLOCK * MIN_BLOCK;
    }

    /** The segment size requested from the device for a (rounded) block size. */
    public static long segmentSize(long size) {
        if (size <= SMALL_SIZE) return SMALL_BUFFER;
        if (size < MIN_LARGE_ALLOC) return LARGE_BUFFER;
        return (size + ROUND_LARGE - 1) / ROUND_LARGE * ROUND_LARGE;
    }

    /** A block of at least {@code bytes} for use on {@code stream}. */
    public synchronized Block allocate(long bytes, long stream) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation size " + bytes);
        long size = roundSize(bytes);
        boolean small = size <= SMALL_SIZE;
        TreeSet<Block> pool = small ? smallFree : largeFree;
        Block b = bestFit(pool, stream, size);
        if (b == null) {
            long seg = segmentSize(size);
            long ptr = raw.malloc(seg);
            if (ptr == 0) {
                releaseCached();
                ptr = raw.malloc(seg);
                if (ptr == 0) throw outOfMemory(bytes, seg);
            }
            deviceAllocs++;
            segments++;
            reserved += seg;
            peakReserved = Math.max(peakReserved, reserved);
            b = new Block(stream, small, ptr, seg);
        } else {
            pool.remove(b);
        }
        long rest = b.size - size;
        if (small ? rest >= MIN_BLOCK : rest > SMALL_SIZE) {
            Block r = new Block(stream, small, b.ptr + size, rest);
            r.prev = b;
            r.next = b.next;
            if (b.next != null) b.next.prev = r;
            b.next = r;
            b.size = size;
            pool.add(r);
        }
        b.allocated = true;
        b.requested = bytes;
        active.put(b.ptr, b);
        allocated += b.size;
        requested += bytes;
        peakAllocated = Math.max(peakAllocated, allocated);
        return b;
    }

    private static Block bestFit(TreeSet<Block> pool, long stream, long size) {
        Block probe = new Block(stream, false, Long.MIN_VALUE, size);
        Block b = pool.ceiling(probe);
        return b != null && b.stream == stream ? b : null;
    }

    /** Returns a block to its stream's pool, merging it with free neighbours. */
    public synchronized void free(Block b) {
        if (!b.allocated || active.remove(b.ptr) != b) throw new IllegalStateException("free of a block that is not allocated: " + b);
        b.allocated = false;
        allocated -= b.size;
        requested -= b.requested;
        TreeSet<Block> pool = b.small ? smallFree : largeFree;
        Block merged = b;
        if (b.prev != null && !b.prev.allocated) {
            Block p = b.prev;
            pool.remove(p);
            p.size += merged.size;
            p.next = merged.next;
            if (merged.next != null) merged.next.prev = p;
            merged = p;
        }
        if (merged.next != null && !merged.next.allocated) {
            Block n = merged.next;
            pool.remove(n);
            merged.size += n.size;
            merged.next = n.next;
            if (n.next != null) n.next.prev = merged;
        }
        pool.add(merged);
    }

    /** Returns every wholly free segment to the device (PyTorch's empty_cache). */
    public synchronized void emptyCache() {
        releaseCached();
    }

    private void releaseCached() {
        List<Block> whole = new ArrayList<>();
        for (TreeSet<Block> pool : List.of(smallFree, largeFree)) {
            for (Block b : pool) if (b.prev == null && b.next == null) whole.add(b);
        }
        if (whole.isEmpty()) return;
        raw.synchronize();
        for (Block b : whole) {
            (b.small ? smallFree : largeFree).remove(b);
            raw.free(b.ptr);
            reserved -= b.size;
            segments--;
            deviceFrees++;
        }
        cacheFlushes++;
    }

    public synchronized Stats stats() {
        return new Stats(allocated, reserved, peakAllocated, peakReserved, requested, active.size(), segments, deviceAllocs, deviceFrees,
                cacheFlushes);
    }

    /** Peaks restart from the current values. */
    public synchronized void resetPeakStats() {
        peakAllocated = allocated;
        peakReserved = reserved;
    }

    private CudaOutOfMemoryError outOfMemory(long bytes, long segment) {
        long free = raw.freeBytes(), total = raw.totalBytes();
        return new CudaOutOfMemoryError(String.format(Locale.ROOT,
                "CUDA out of memory on %s. Tried to allocate %s (%d bytes; a %s segment). %s (%d bytes) reserved by jllm's caching allocator, "
                        + "of which %s (%d bytes) allocated to tensors; %s free on the device%s.",
                deviceName, human(bytes), bytes, human(segment), human(reserved), reserved, human(allocated), allocated,
                free < 0 ? "unknown" : human(free) + " (" + free + " bytes)", total < 0 ? "" : " of " + human(total) + " total"),
                bytes, reserved, free);
    }

    static String human(long b) {
        if (b >= 1L << 30) return String.format(Locale.ROOT, "%.2f GiB", b / (double) (1L << 30));
        if (b >= 1L << 20) return String.format(Locale.ROOT, "%.2f MiB", b / (double) (1L << 20));
        if (b >= 1L << 10) return String.format(Locale.ROOT, "%.2f KiB", b / 1024.0);
        return b + " bytes";
    }
}
