package jllm.backend.cuda;

import jllm.backend.cuda.CachingAllocator.Block;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The caching allocator's logic on real off-heap memory standing in for the device. */
class CachingAllocatorTest {
    private static final long MiB = 1L << 20;

    /** Off-heap "device" memory with a capacity, counting calls. */
    static final class OffHeap implements CachingAllocator.RawAllocator {
        final long capacity;
        final Map<Long, Arena> live = new HashMap<>();
        final Map<Long, Long> sizes = new HashMap<>();
        long used;
        int mallocs, frees, syncs;

        OffHeap(long capacity) { this.capacity = capacity; }

        @Override
        public long malloc(long bytes) {
            if (used + bytes > capacity) return 0;
            Arena a = Arena.ofShared();
            MemorySegment s = a.allocate(bytes, 512);
            live.put(s.address(), a);
            sizes.put(s.address(), bytes);
            used += bytes;
            mallocs++;
            return s.address();
        }

        @Override
        public void free(long ptr) {
            Arena a = live.remove(ptr);
            if (a == null) throw new AssertionError("raw free of unknown pointer " + ptr);
            used -= sizes.remove(ptr);
            a.close();
            frees++;
        }

        @Override public long freeBytes() { return capacity - used; }
        @Override public long totalBytes() { return capacity; }
        @Override public void synchronize() { syncs++; }

        void closeAll() {
            for (Arena a : live.values()) a.close();
            live.clear();
        }
    }

    private OffHeap raw;

    private CachingAllocator allocator(long capacity) {
        raw = new OffHeap(capacity);
        return new CachingAllocator(raw, "cuda:0");
    }

    @AfterEach
    void release() { if (raw != null) raw.closeAll(); }

    private static MemorySegment mem(Block b) { return MemorySegment.ofAddress(b.ptr()).reinterpret(b.size()); }

    @Test
    void roundsTo512AndCarvesSmallBlocksFromOneTwoMiBSegment() {
        CachingAllocator c = allocator(64 * MiB);
        Block a = c.allocate(1, 0), b = c.allocate(513, 0), z = c.allocate(0, 0);
        assertEquals(512, a.size());
        assertEquals(1024, b.size());
        assertEquals(512, z.size());
        assertEquals(1, raw.mallocs);
        assertEquals(a.ptr() + 512, b.ptr(), "best fit splits the segment front to back");
        assertEquals(b.ptr() + 1024, z.ptr());
        var s = c.stats();
        assertEquals(2048, s.allocatedBytes());
        assertEquals(1 + 513, s.requestedBytes());
        assertEquals(2 * MiB, s.reservedBytes());
        assertEquals(3, s.activeBlocks());
        assertEquals(CachingAllocator.SMALL_BUFFER, CachingAllocator.segmentSize(CachingAllocator.SMALL_SIZE));
        assertEquals(CachingAllocator.LARGE_BUFFER, CachingAllocator.segmentSize(CachingAllocator.SMALL_SIZE + 512));
        assertEquals(12 * MiB, CachingAllocator.segmentSize(11 * MiB));
    }

    @Test
    void freedBlocksAreReusedWithoutTouchingTheDevice() {
        CachingAllocator c = allocator(64 * MiB);
        Block a = c.allocate(4000, 0);
        long p = a.ptr();
        c.free(a);
        Block again = c.allocate(3800, 0);
        assertEquals(p, again.ptr());
        assertEquals(1, raw.mallocs);
        assertEquals(0, raw.frees);
        c.free(again);
        assertThrows(IllegalStateException.class, () -> c.free(again), "double free is refused");
    }

    @Test
    void neighboursCoalesceAndEmptyCacheReturnsWholeSegments() {
        CachingAllocator c = allocator(64 * MiB);
        Block a = c.allocate(100_000, 0), b = c.allocate(100_000, 0), d = c.allocate(100_000, 0);
        c.free(a);
        c.free(d);
        c.emptyCache();
        assertEquals(0, raw.frees, "a segment with an allocated block stays");
        // a 200 KB request cannot use a's hole (100 KB) or fit across b: it comes from the tail after d
        Block big = c.allocate(150_000, 0);
        assertTrue(big.ptr() >= d.ptr(), "best fit skips the too-small hole");
        c.free(big);
        c.free(b);
        // everything merged back into one free 2 MiB block: a 2 MiB-sized small request would not fit the small pool,
        // but a 1 MiB one comes from the start of the segment
        Block whole = c.allocate(CachingAllocator.SMALL_SIZE, 0);
        assertEquals(a.ptr(), whole.ptr());
        c.free(whole);
        assertEquals(1, raw.mallocs);
        c.emptyCache();
        assertEquals(1, raw.frees);
        assertEquals(1, raw.syncs, "synchronises before memory goes back");
        var s = c.stats();
        assertEquals(0, s.reservedBytes());
        assertEquals(0, s.allocatedBytes());
        assertEquals(0, s.segments());
        assertTrue(raw.live.isEmpty());
    }

    @Test
    void largeBlocksSplitOnlyWhenMoreThanOneMiBRemains() {
        CachingAllocator c = allocator(256 * MiB);
        Block e = c.allocate(11 * MiB, 0); // its own 12 MiB segment: the 1 MiB rest is not split off
        assertEquals(12 * MiB, e.size());
        assertEquals(1, raw.mallocs);
        Block a = c.allocate(3 * MiB, 0); // from a 20 MiB segment, 17 MiB left over as a free block
        Block b = c.allocate(4 * MiB, 0);
        assertEquals(a.ptr() + 3 * MiB, b.ptr());
        assertEquals(2, raw.mallocs);
        Block d = c.allocate(12 * MiB, 0); // best fit: the 13 MiB rest of the 20 MiB segment
        assertEquals(b.ptr() + 4 * MiB, d.ptr());
        assertEquals(2, raw.mallocs);
        assertEquals(32 * MiB, c.stats().reservedBytes());
        assertEquals(13 * MiB, d.size(), "a 1 MiB rest stays with the block");
        assertEquals(12 * MiB + 3 * MiB + 4 * MiB + 13 * MiB, c.stats().allocatedBytes());
        assertEquals(2, c.stats().segments());
    }

    @Test
    void blocksServeOnlyTheStreamTheyWereFreedOn() {
        CachingAllocator c = allocator(64 * MiB);
        Block a = c.allocate(4096, 1);
        c.free(a);
        Block other = c.allocate(4096, 2);
        assertNotEquals(a.ptr(), other.ptr());
        assertEquals(2, raw.mallocs);
        assertEquals(2, other.stream());
        assertEquals(a.ptr(), c.allocate(4096, 1).ptr());
    }

    @Test
    void outOfMemoryReleasesTheCacheRetriesThenNamesTheNumbers() {
        CachingAllocator c = allocator(64 * MiB);
        Block a = c.allocate(40 * MiB, 0);
        c.free(a); // 40 MiB cached
        Block b = c.allocate(50 * MiB, 0); // does not fit the cached block, 40 + 50 > 64: the cache is released and the retry succeeds
        assertEquals(1, raw.frees);
        assertEquals(50 * MiB, c.stats().reservedBytes());
        assertEquals(1, c.stats().cacheFlushes());
        CudaOutOfMemoryError oom = assertThrows(CudaOutOfMemoryError.class, () -> c.allocate(30 * MiB, 0));
        assertEquals(30 * MiB, oom.requestedBytes());
        assertEquals(50 * MiB, oom.reservedBytes());
        assertEquals(14 * MiB, oom.freeBytes());
        String m = oom.getMessage();
        assertTrue(m.contains("cuda:0") && m.contains("Tried to allocate 30.00 MiB (31457280 bytes")
                && m.contains("50.00 MiB (52428800 bytes) reserved") && m.contains("14.00 MiB (14680064 bytes) free")
                && m.contains("of 64.00 MiB total"), m);
        c.free(b);
        assertEquals(50 * MiB, c.stats().peakAllocatedBytes());
        c.resetPeakStats();
        assertEquals(0, c.stats().peakAllocatedBytes());
    }

    @Test
    void randomWorkloadKeepsBlocksDisjointAndContentsIntact() {
        CachingAllocator c = allocator(1L << 30);
        Random r = new Random(14);
        List<Block> live = new ArrayList<>();
        List<Byte> tags = new ArrayList<>();
        long peak = 0;
        for (int step = 0; step < 4000; step++) {
            if (live.isEmpty() || (live.size() < 40 && r.nextInt(100) < 55)) {
                long size = switch (r.nextInt(4)) {
                    case 0 -> r.nextInt(600);
                    case 1 -> r.nextInt(64 * 1024);
                    case 2 -> r.nextInt((int) (2 * MiB));
                    default -> r.nextInt((int) (12 * MiB));
                };
                Block b = c.allocate(size, r.nextInt(2));
                assertTrue(b.size() >= size && b.size() % 512 == 0 && b.ptr() % 512 == 0, b.toString());
                byte tag = (byte) r.nextInt(256);
                MemorySegment m = mem(b);
                m.set(ValueLayout.JAVA_BYTE, 0, tag);
                m.set(ValueLayout.JAVA_BYTE, b.size() - 1, tag);
                if (b.size() > 2) m.set(ValueLayout.JAVA_BYTE, b.size() / 2, tag);
                live.add(b);
                tags.add(tag);
            } else {
                int i = r.nextInt(live.size());
                Block b = live.remove(i);
                byte tag = tags.remove(i);
                MemorySegment m = mem(b);
                assertEquals(tag, m.get(ValueLayout.JAVA_BYTE, 0));
                assertEquals(tag, m.get(ValueLayout.JAVA_BYTE, b.size() - 1));
                if (b.size() > 2) assertEquals(tag, m.get(ValueLayout.JAVA_BYTE, b.size() / 2));
                c.free(b);
            }
            if (step % 500 == 0) c.emptyCache();
            long sum = live.stream().mapToLong(Block::size).sum();
            peak = Math.max(peak, sum);
            var s = c.stats();
            assertEquals(sum, s.allocatedBytes());
            assertEquals(live.size(), s.activeBlocks());
            assertEquals(raw.used, s.reservedBytes());
            assertTrue(s.reservedBytes() >= s.allocatedBytes());
        }
        List<Block> sorted = new ArrayList<>(live);
        sorted.sort((x, y) -> Long.compare(x.ptr(), y.ptr()));
        for (int i = 1; i < sorted.size(); i++) {
            assertTrue(sorted.get(i - 1).ptr() + sorted.get(i - 1).size() <= sorted.get(i).ptr(), "blocks overlap");
        }
        assertEquals(peak, c.stats().peakAllocatedBytes());
        for (Block b : live) c.free(b);
        c.emptyCache();
        assertEquals(0, c.stats().reservedBytes());
        assertFalse(raw.mallocs == 0);
        assertEquals(raw.mallocs, raw.frees);
    }
}
