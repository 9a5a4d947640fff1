package jllm.distributed;

import jllm.backend.cpu.CpuStorage;
import jllm.tensor.DType;
import jllm.tensor.Tensor;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Moves CPU tensor data between the Java heap, where jllm's CPU storage lives, and off-heap
 * memory, which MPI may read and write while the garbage collector runs (a heap array can move
 * under a non-blocking call). One bulk copy per tensor, no per-element objects.
 */
final class HostBuffer {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;

    private HostBuffer() {}

    /** The bytes of a contiguous CPU tensor, as a segment over its heap array (valid until the next GC safepoint use). */
    static MemorySegment heapBytes(Tensor t, String what) {
        if (!(t.storage() instanceof CpuStorage cs)) {
            throw new DistributedException(what + ": MPI collectives take CPU tensors, got one on " + t.device());
        }
        if (!t.isContiguous()) throw new DistributedException(what + ": the tensor must be contiguous");
        jllm.tensor.DType dt = t.dtype();
        MemorySegment all = cs.bytes();
        // in bytes, which also covers the block-quantized types (whole blocks: the tensor is contiguous)
        return all.asSlice(dt.bytes(t.storageOffset()), dt.bytes(t.numel()));
    }

    /** dst[off..] = src * scale for a contiguous F32 CPU tensor; {@code off} in floats. */
    static void copyIn(Tensor src, MemorySegment dst, long off, float scale) {
        float[] a = f32(src);
        int base = src.storageOffset(), n = src.numel();
        if (scale == 1f) {
            MemorySegment.copy(a, base, dst, F, off * 4, n);
            return;
        }
        long o = off * 4;
        int i = 0;
        for (int up = S.loopBound(n); i < up; i += S.length()) {
            FloatVector.fromArray(S, a, base + i).mul(scale).intoMemorySegment(dst, o + 4L * i, ByteOrder.nativeOrder());
        }
        for (; i < n; i++) dst.set(F, o + 4L * i, a[base + i] * scale);
    }

    /** dst = src[off..] for a contiguous F32 CPU tensor. */
    static void copyOut(MemorySegment src, long off, Tensor dst) {
        MemorySegment.copy(src, F, off * 4, f32(dst), dst.storageOffset(), dst.numel());
        dst.storage().bumpVersion();
    }

    static float[] f32(Tensor t) {
        if (t.dtype() != DType.F32 || !(t.storage() instanceof CpuStorage cs) || !t.isContiguous()) {
            throw new DistributedException("expected a contiguous float32 CPU tensor, got " + t.dtype().torchName() + " on " + t.device()
                    + (t.isContiguous() ? "" : " (not contiguous)"));
        }
        return cs.f32();
    }

    static void allReduce(ProcessGroup pg, Tensor t, ProcessGroup.Op op) {
        f32(t);
        try (Arena a = Arena.ofShared()) {
            MemorySegment buf = a.allocate(4L * t.numel(), 64);
            copyIn(t, buf, 0, 1f);
            pg.allReduceAsync(buf, t.numel(), op, "all-reduce of a tensor of " + t.numel() + " floats").await();
            copyOut(buf, 0, t);
        }
    }

    static void broadcast(ProcessGroup pg, Tensor t, int root) {
        MemorySegment src = heapBytes(t, "broadcast");
        try (Arena a = Arena.ofShared()) {
            MemorySegment buf = a.allocate(src.byteSize(), 64);
            buf.copyFrom(src);
            pg.broadcastAsync(buf, buf.byteSize(), root, "broadcast of a " + t.dtype().torchName() + " tensor of " + t.numel()
                    + " elements from rank " + root).await();
            heapBytes(t, "broadcast").copyFrom(buf);
            t.storage().bumpVersion();
        }
    }
}
