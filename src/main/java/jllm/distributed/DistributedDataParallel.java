package jllm.distributed;

import jllm.autograd.Engine;
import jllm.nn.Module;
import jllm.tensor.DType;
import jllm.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * PyTorch's {@code torch.nn.parallel.DistributedDataParallel}: every rank holds a full replica of
 * {@code module}, runs forward and backward on its own part of the batch, and the gradients are
 * averaged over the ranks during backward, so that after {@code loss.backward()} every rank holds
 * the same gradient and the optimizer steps keep the replicas identical.
 *
 * <pre>{@code
 * try (ProcessGroup pg = ProcessGroup.init(ProcessGroup.DEFAULT_TIMEOUT)) {
 *     var model = new GPT(cfg);                                 // any init: rank 0's weights win
 *     var ddp = new DistributedDataParallel<>(model, pg);       // broadcasts parameters and buffers
 *     Tensor loss = ddp.module().forward(x, y).loss();          // this rank's share of the batch
 *     loss.backward();                                           // gradients averaged over the ranks
 *     optimizer.step();
 * }
 * }</pre>
 *
 * <p>How: at construction the parameters that require grad are grouped into buckets of about
 * {@code bucketCapMb} megabytes (the first one 1 MB, as PyTorch does, so that communication starts
 * early), in reverse registration order, the order in which backward produces their gradients.
 * Each parameter gets a post-accumulate-grad hook; when it fires, the gradient is copied, already
 * divided by the world size, into its bucket's off-heap buffer, and when a bucket is full its
 * all-reduce is started at once, so that it runs while backward goes on with the earlier layers.
 * Buckets are started strictly in order (MPI matches collectives by order on every rank). At the
 * end of the backward pass (an engine callback) every bucket is waited for and its sums copied
 * back into the parameters' {@code .grad}.
 *
 * <p>{@link #noSync()} turns this off for gradient-accumulation micro-steps: the gradients then
 * only accumulate locally, and the next synchronised backward reduces the accumulated sum, as in
 * PyTorch. A parameter that requires grad but gets none in a synchronised backward is an error
 * (every rank must reduce every bucket); freeze such parameters before wrapping.
 *
 * <p>Unlike PyTorch, forward is called on {@link #module()} directly: the hooks sit on the
 * parameters, so nothing happens in forward, and buffers are broadcast once, at construction.
 */
public final class DistributedDataParallel<M extends Module> extends Module {
    /** PyTorch's default bucket_cap_mb. */
    public static final double DEFAULT_BUCKET_CAP_MB = 25;
    /** PyTorch's {@code dist._DEFAULT_FIRST_BUCKET_BYTES}: a small first bucket starts communication early in backward. */
    public static final long FIRST_BUCKET_BYTES = 1L << 20;

    private final M module;
    private final ProcessGroup group;
    private final List<Bucket> buckets = new ArrayList<>();
    private final Map<Tensor, Slot> slots = new IdentityHashMap<>();
    private final float gradScale;
    private final Set<Slot> readyInPass = Collections.newSetFromMap(new IdentityHashMap<>()); // hooks fired in the current pass

    private boolean requireSync = true;
    private boolean inPass;          // a synchronised backward pass has started (a hook fired) and not yet finished
    private int nextLaunch;          // the first bucket not yet started
    private long passStartNanos;
    private Timeline lastTimeline;

    /** Where a parameter's gradient goes: its bucket and its offset there, in floats. */
    private record Slot(String name, Tensor param, Bucket bucket, long offset) {}

    private static final class Bucket {
        final int index;
        final List<Slot> slots = new ArrayList<>();
        long floats;
        MemorySegment buffer;
        int pending;
        Work work;
        long startNanos;

        Bucket(int index) {
            this.index = index;
        }
    }

    /**
     * What one synchronised backward pass did, for tests and benchmarks: when each bucket's
     * all-reduce started and when backward ended (nanoseconds since the pass's first gradient), and
     * how long the end of backward then waited for the all-reduces to finish.
     */
    public record Timeline(long[] bucketStartNanos, long backwardEndNanos, long waitNanos) {}

    public DistributedDataParallel(M module, ProcessGroup group) {
        this(module, group, DEFAULT_BUCKET_CAP_MB);
    }

    /**
     * Wraps {@code module}: checks that every rank has the same parameters, broadcasts rank 0's
     * parameters and buffers, builds the buckets and registers the gradient hooks.
     *
     * @throws DistributedException if the ranks' parameter lists differ
     */
    public DistributedDataParallel(M module, ProcessGroup group, double bucketCapMb) {
        this.module = registerModule("module", Objects.requireNonNull(module, "module"));
        this.group = Objects.requireNonNull(group, "group");
        if (!(bucketCapMb > 0)) throw new IllegalArgumentException("bucket_cap_mb must be positive, got " + bucketCapMb);
        this.gradScale = 1f / group.worldSize();

        Map<String, Tensor> params = module.namedParameters();
        StringBuilder desc = new StringBuilder();
        for (var e : params.entrySet()) {
            Tensor p = e.getValue();
            desc.append(e.getKey()).append(Arrays.toString(p.shape())).append(p.dtype().torchName())
                    .append(p.requiresGrad() ? "" : "(frozen)").append(';');
        }
        group.verifySame("the model's parameters (name, shape, dtype)", desc.toString());
        broadcastState(module);

        List<Map.Entry<String, Tensor>> trainable = new ArrayList<>();
        for (var e : params.entrySet()) if (e.getValue().requiresGrad()) trainable.add(e);
        if (trainable.isEmpty()) throw new IllegalArgumentException("DistributedDataParallel: the module has no parameter that requires grad");
        long cap = (long) (bucketCapMb * 1024 * 1024);
        Bucket b = null;
        long bytes = 0;
        for (int i = trainable.size() - 1; i >= 0; i--) {
            String name = trainable.get(i).getKey();
            Tensor p = trainable.get(i).getValue();
            if (p.dtype() != DType.F32) {
                throw new IllegalArgumentException("DistributedDataParallel: parameter " + name + " is " + p.dtype().torchName()
                        + "; gradients are all-reduced in float32");
            }
            long limit = b == null || b.index == 0 ? Math.min(FIRST_BUCKET_BYTES, cap) : cap;
            if (b == null || bytes > 0 && bytes + 4L * p.numel() > limit) {
                b = new Bucket(buckets.size());
                buckets.add(b);
                bytes = 0;
            }
            Slot s = new Slot(name, p, b, b.floats);
            b.slots.add(s);
            b.floats += p.numel();
            bytes += 4L * p.numel();
            slots.put(p, s);
        }
        Arena arena = Arena.ofAuto(); // freed with this object; MPI holds a bucket only between its launch and the end of backward
        for (Bucket k : buckets) k.buffer = arena.allocate(4 * k.floats, 64);
        for (Slot s : slots.values()) s.param.registerPostAccumulateGradHook(this::gradReady);
    }

    public M module() { return module; }

    public ProcessGroup processGroup() { return group; }

    /** Number of gradient buckets. */
    public int bucketCount() { return buckets.size(); }

    /** The parameter names of each bucket, in the order their all-reduces start. */
    public List<List<String>> bucketLayout() {
        List<List<String>> out = new ArrayList<>();
        for (Bucket b : buckets) out.add(b.slots.stream().map(Slot::name).toList());
        return out;
    }

    /** The last synchronised backward pass's timeline (null before the first). */
    public Timeline lastTimeline() { return lastTimeline; }

    /**
     * A scope in which backward passes do not all-reduce: gradients accumulate locally until the
     * first synchronised backward after it, as PyTorch's {@code no_sync()}.
     */
    public Scope noSync() {
        boolean previous = requireSync;
        requireSync = false;
        return () -> requireSync = previous;
    }

    /** A scope whose close cannot fail. */
    public interface Scope extends AutoCloseable {
        @Override
        void close();
    }

    /**
     * One micro-step's backward: synchronised when {@code sync} (the last micro-step of an
     * iteration), inside {@link #noSync()} otherwise. What a trainer's backward hook calls.
     */
    public void backward(Tensor loss, boolean sync) {
        if (sync) {
            loss.backward();
        } else {
            try (Scope s = noSync()) {
                loss.backward();
            }
        }
    }

    /** True unless inside {@link #noSync()}. */
    public boolean requireSync() { return requireSync; }

    // ------------------------------------------------------------------ the reducer

    private void gradReady(Tensor param) {
        if (!requireSync) return;
        if (!inPass) {
            inPass = true;
            nextLaunch = 0;
            passStartNanos = System.nanoTime();
            for (Bucket b : buckets) b.pending = b.slots.size();
            readyInPass.clear();
            Engine.queueCallback(this::finishBackward);
        }
        Slot s = slots.get(param);
        Bucket b = s.bucket;
        if (b.pending <= 0) {
            throw new IllegalStateException("DistributedDataParallel: parameter " + s.name + " received its gradient twice in one backward pass");
        }
        readyInPass.add(s);
        HostBuffer.copyIn(param.grad(), b.buffer, s.offset, gradScale);
        if (--b.pending == 0) launchReady();
    }

    private void launchReady() {
        while (nextLaunch < buckets.size() && buckets.get(nextLaunch).pending == 0) {
            Bucket b = buckets.get(nextLaunch++);
            b.startNanos = System.nanoTime();
            b.work = group.allReduceAsync(b.buffer, b.floats, ProcessGroup.Op.SUM, String.format(Locale.ROOT,
                    "all-reduce of gradient bucket %d of %d (%.1f MB)", b.index, buckets.size(), b.floats * 4 / 1e6));
        }
    }

    private void finishBackward() {
        long end = System.nanoTime();
        inPass = false;
        if (nextLaunch < buckets.size()) {
            List<String> missing = new ArrayList<>();
            for (Bucket b : buckets) for (Slot s : b.slots) if (!readyInPass.contains(s)) missing.add(s.name);
            throw new DistributedException("rank " + group.rank() + ": DistributedDataParallel: these parameters require grad but received "
                    + "no gradient in this backward pass: " + missing + "; every rank must reduce every parameter, so freeze them "
                    + "(requiresGrad(false)) before wrapping the module or make them take part in the loss");
        }
        for (Bucket b : buckets) {
            b.work.await();
            for (Slot s : b.slots) HostBuffer.copyOut(b.buffer, s.offset, s.param.grad());
        }
        long[] starts = new long[buckets.size()];
        for (int i = 0; i < starts.length; i++) starts[i] = buckets.get(i).startNanos - passStartNanos;
        lastTimeline = new Timeline(starts, end - passStartNanos, System.nanoTime() - end);
    }

    // ------------------------------------------------------------------ start-up

    /** Rank 0's parameters and buffers overwrite every other rank's, in one broadcast. */
    private void broadcastState(Module m) {
        if (group.worldSize() == 1) return;
        List<Tensor> tensors = new ArrayList<>();
        for (Tensor p : m.namedParameters().values()) if (p != null) tensors.add(p);
        for (Tensor t : m.namedBuffers().values()) if (t != null) tensors.add(t);
        long total = 0;
        for (Tensor t : tensors) total += HostBuffer.heapBytes(t, "broadcast of the initial state").byteSize();
        try (Arena a = Arena.ofShared()) {
            MemorySegment buf = a.allocate(Math.max(1, total), 64);
            long off = 0;
            for (Tensor t : tensors) {
                MemorySegment src = HostBuffer.heapBytes(t, "broadcast of the initial state");
                MemorySegment.copy(src, 0, buf, off, src.byteSize());
                off += src.byteSize();
            }
            group.broadcastAsync(buf, total, 0, String.format(Locale.ROOT, "broadcast of rank 0's parameters and buffers (%.1f MB)",
                    total / 1e6)).await();
            off = 0;
            for (Tensor t : tensors) {
                MemorySegment dst = HostBuffer.heapBytes(t, "broadcast of the initial state");
                MemorySegment.copy(buf, off, dst, 0, dst.byteSize());
                t.storage().bumpVersion();
                off += dst.byteSize();
            }
        }
    }
}
