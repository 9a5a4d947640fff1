package jllm.distributed;

import jllm.backend.cpu.CpuStorage;
import jllm.optim.Optimizer;
import jllm.optim.OptimizerStateDict;
import jllm.optim.ParamGroup;
import jllm.optim.ParamState;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ZeRO stage 1, as PyTorch's {@code torch.distributed.optim.ZeroRedundancyOptimizer}: the optimizer
 * state (AdamW's {@code exp_avg} and {@code exp_avg_sq}, twice the model's size) is sharded across
 * the ranks of a data-parallel job instead of replicated, so each rank holds about {@code 1/world}
 * of it. Gradients are still all-reduced in full (by {@link DistributedDataParallel}), and every
 * rank still holds the whole model.
 *
 * <pre>{@code
 * var ddp = new DistributedDataParallel<>(model, pg);
 * var opt = new ZeroRedundancyOptimizer(new AdamW(model.parameters(), 3e-4), pg);
 * model.forward(x, y).loss().backward();   // DDP averages the gradients
 * opt.step();                              // AdamW on this rank's parameters, then every rank's broadcast
 * }</pre>
 *
 * <p>How: the parameters of the wrapped optimizer are partitioned as PyTorch does it: group by
 * group, each group's parameters sorted by size (largest first, stable), each to the rank with the
 * smallest total so far (the lowest rank on a tie), the totals carried over from group to group.
 * {@link #step()} hides the gradients of the other ranks' parameters while it runs the wrapped
 * optimizer, which skips a parameter without a gradient and so creates and updates state only for
 * this rank's share; then every rank's parameters are broadcast from their owner, rank by rank, so
 * that all replicas stay bit-identical. The broadcast goes through two off-heap staging buffers of
 * at most {@link #DEFAULT_CHUNK_BYTES} each (one is filled while the other is on the wire), never
 * through a copy of the whole model, so the memory the sharding saves is not spent elsewhere.
 *
 * <p>Why it extends {@link Optimizer} (as PyTorch's does) rather than giving the trainer a new
 * interface: the trainer, checkpoints and learning-rate schedule all speak {@code Optimizer}, so a
 * wrapped optimizer drops in where the plain one was. {@link #paramGroups()} are the wrapped
 * optimizer's own group objects, so setting a group's learning rate reaches it; parameter groups
 * must be added to the wrapped optimizer before it is wrapped.
 *
 * <p>Checkpoints: {@link #consolidateStateDict()} is a collective (call it on every rank) that
 * gathers every rank's state to rank 0, after which rank 0's {@link #stateDict()} is the full state
 * dict, in exactly the format of the unwrapped optimizer, so a checkpoint written with ZeRO resumes
 * without it and the other way round. {@link #loadStateDict} takes a full state dict on every rank
 * and keeps only this rank's parameters' state. In a world of one nothing is sharded and everything
 * goes straight to the wrapped optimizer.
 */
public final class ZeroRedundancyOptimizer extends Optimizer {
    /** The size of each of the two staging buffers of the parameter broadcast (16 MB). */
    public static final long DEFAULT_CHUNK_BYTES = 16L << 20;
    private static final Pattern STATE_KEY = Pattern.compile("state\\.(0|[1-9][0-9]{0,9})\\.(.+)");

    private final Optimizer inner;
    private final ProcessGroup group;
    private final List<Tensor> params = new ArrayList<>(); // the wrapped optimizer's parameters, in state-dict order
    private final int[] owner;                              // the rank that owns each parameter (by state-dict index)
    private final long chunkBytes;
    private final List<Chunk> parameterBroadcast;           // every step's broadcast, precomputed
    private final boolean constructed;
    private MemorySegment[] staging = new MemorySegment[2];
    private OptimizerStateDict consolidated;                // rank 0, after consolidateStateDict() and until the next step or load

    /** A run of bytes that one rank broadcasts: tensor bytes [from, from + bytes) sit at {@code at} in the staging buffer. */
    private record Piece(Tensor tensor, long from, long bytes, long at) {}

    private static final class Chunk {
        final int root;
        final List<Piece> pieces = new ArrayList<>();
        long bytes;

        Chunk(int root) {
            this.root = root;
        }
    }

    /** One tensor to broadcast from {@code root}; {@code tensor} null on a rank that receives and discards {@code bytes} bytes. */
    private record Item(int root, Tensor tensor, long bytes) {}

    public ZeroRedundancyOptimizer(Optimizer inner, ProcessGroup group) {
        this(inner, group, DEFAULT_CHUNK_BYTES);
    }

    /**
     * Wraps {@code inner}, which must have no state yet (or the same state on every rank): its
     * parameters are partitioned over {@code group}'s ranks, and from now on only this rank's share
     * gets state. Checks that every rank's optimizer has the same parameter sizes.
     *
     * @param chunkBytes the size of each of the two staging buffers of the broadcasts
     */
    public ZeroRedundancyOptimizer(Optimizer inner, ProcessGroup group, long chunkBytes) {
        super(Objects.requireNonNull(inner, "inner").paramGroups(), inner.defaults()); // shares the wrapped optimizer's group objects
        if (inner instanceof ZeroRedundancyOptimizer) throw new IllegalArgumentException("the optimizer is already a ZeroRedundancyOptimizer");
        this.inner = inner;
        this.group = Objects.requireNonNull(group, "group");
        if (chunkBytes < 8) throw new IllegalArgumentException("chunk size must be at least 8 bytes, got " + chunkBytes);
        this.chunkBytes = chunkBytes;
        long[][] sizes = new long[inner.paramGroups().size()][];
        StringBuilder layout = new StringBuilder();
        for (int g = 0; g < sizes.length; g++) {
            List<Tensor> ps = inner.paramGroups().get(g).params();
            sizes[g] = new long[ps.size()];
            for (int i = 0; i < ps.size(); i++) {
                Tensor p = ps.get(i);
                if (!(p.storage() instanceof CpuStorage) || !p.isContiguous()) {
                    throw new IllegalArgumentException("ZeroRedundancyOptimizer: parameter " + params.size() + " must be a contiguous CPU tensor "
                            + "(its updates are broadcast through MPI), got one on " + p.device());
                }
                params.add(p);
                sizes[g][i] = p.numel();
                layout.append(Arrays.toString(p.shape())).append(p.dtype().torchName()).append(';');
            }
            layout.append('|');
        }
        group.verifySame("the optimizer's parameters (shapes and groups)", layout.toString());
        this.owner = partition(sizes, group.worldSize());
        List<Item> items = new ArrayList<>();
        for (int r = 0; r < group.worldSize(); r++) {
            for (int i = 0; i < params.size(); i++) if (owner[i] == r) items.add(new Item(r, params.get(i), bytes(params.get(i))));
        }
        this.parameterBroadcast = chunks(items, chunkBytes);
        this.constructed = true;
    }

    /**
     * PyTorch's partition: for each group in turn, its parameters by size, largest first (ties
     * keep their order), each to the rank whose total is smallest so far (the lowest such rank);
     * the totals carry over from one group to the next. Returns the owning rank of each
     * parameter, numbered across groups in order.
     */
    public static int[] partition(long[][] groupSizes, int world) {
        if (world < 1) throw new IllegalArgumentException("world size must be >= 1, got " + world);
        int n = 0;
        for (long[] g : groupSizes) n += g.length;
        int[] owner = new int[n];
        long[] totals = new long[world];
        int base = 0;
        for (long[] g : groupSizes) {
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < g.length; i++) order.add(i);
            order.sort((a, b) -> Long.compare(g[b], g[a])); // stable: equal sizes keep their order
            for (int i : order) {
                int r = 0;
                for (int k = 1; k < world; k++) if (totals[k] < totals[r]) r = k;
                owner[base + i] = r;
                totals[r] += g[i];
            }
            base += g.length;
        }
        return owner;
    }

    /** The wrapped optimizer (it holds the state of this rank's parameters only). */
    public Optimizer inner() { return inner; }

    public ProcessGroup processGroup() { return group; }

    /** The rank that owns (updates and keeps the state of) each parameter, numbered as in the state dict. */
    public int[] owners() { return owner.clone(); }

    /** Whether this rank owns {@code param}. */
    public boolean owns(Tensor param) {
        for (int i = 0; i < params.size(); i++) if (params.get(i) == param) return owner[i] == group.rank();
        throw new IllegalArgumentException("not a parameter of this optimizer");
    }

    /** This rank's parameters, in state-dict order. */
    public List<Tensor> localParameters() {
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) if (owner[i] == group.rank()) out.add(params.get(i));
        return out;
    }

    @Override
    public String name() { return "ZeroRedundancyOptimizer"; }

    /** The wrapped optimizer's groups (the same objects): setting a learning rate here sets it there. */
    @Override
    public List<ParamGroup> paramGroups() { return inner.paramGroups(); }

    @Override
    public Map<String, Object> defaults() { return inner.defaults(); }

    // ------------------------------------------------------------------ step

    /**
     * The wrapped optimizer's step on this rank's parameters (the others' gradients are hidden
     * meanwhile and put back after), then every parameter is broadcast from its owner. Every
     * rank must call it (it is a collective).
     */
    @Override
    public void step() {
        consolidated = null;
        int rank = group.rank();
        List<Tensor> hidden = new ArrayList<>();
        List<Tensor> grads = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            Tensor p = params.get(i);
            if (owner[i] != rank && p.grad() != null) {
                hidden.add(p);
                grads.add(p.grad());
                p.setGrad(null);
            }
        }
        try {
            inner.step();
        } finally {
            for (int i = 0; i < hidden.size(); i++) hidden.get(i).setGrad(grads.get(i));
        }
        if (group.worldSize() > 1) run(parameterBroadcast, "ZeRO broadcast of the updated parameters");
    }

    @Override
    public void zeroGrad(boolean setToNone) { inner.zeroGrad(setToNone); }

    /** The state of a parameter on this rank: null for the other ranks' parameters. */
    @Override
    public ParamState state(Tensor param) { return inner.state(param); }

    // ------------------------------------------------------------------ state dict

    /**
     * The full state dict: in a world of one the wrapped optimizer's; otherwise, on rank 0, the
     * one {@link #consolidateStateDict()} gathered (since the last step). Elsewhere, or before
     * consolidating, an error: a rank holds only its share ({@link #localStateDict()}).
     */
    @Override
    public OptimizerStateDict stateDict() {
        if (group.worldSize() == 1) return inner.stateDict();
        if (group.rank() != 0) {
            throw new IllegalStateException("rank " + group.rank() + ": only rank 0 holds the full optimizer state, after consolidateStateDict()");
        }
        if (consolidated == null) {
            throw new IllegalStateException("the optimizer state has not been consolidated since the last step: call consolidateStateDict() "
                    + "on every rank first");
        }
        return consolidated;
    }

    /** This rank's share of the state, as a state dict of the wrapped optimizer (parameters numbered as in the full one). */
    public OptimizerStateDict localStateDict() { return inner.stateDict(); }

    /**
     * Gathers every rank's optimizer state to rank 0, where {@link #stateDict()} then returns the
     * full state dict, key for key and in the same order what the unwrapped optimizer would write.
     * A collective: every rank must call it. The other ranks' state travels through the same
     * bounded staging buffers as the parameters; rank 0 holds the whole state until the next step or
     * {@link #releaseConsolidatedStateDict()}.
     */
    public void consolidateStateDict() {
        if (group.worldSize() == 1) return;
        int rank = group.rank(), world = group.worldSize();
        OptimizerStateDict local = inner.stateDict();
        StringBuilder desc = new StringBuilder();
        for (Map.Entry<String, Tensor> e : local.tensors().entrySet()) {
            int idx = index(e.getKey());
            if (idx < 0 || idx >= params.size() || owner[idx] != rank) {
                throw new IllegalStateException("rank " + rank + ": the wrapped optimizer holds state '" + e.getKey()
                        + "' for a parameter this rank does not own");
            }
            Tensor t = e.getValue();
            desc.append(e.getKey()).append('\t').append(t.dtype().name()).append('\t');
            for (int d : t.shape()) desc.append(d).append(',');
            desc.append('\n');
        }
        List<String> descs = group.allGather(desc.toString(), "the optimizer state layout");

        // rank by rank, each rank's state tensors (rank 0's stay where they are)
        TreeMap<Integer, Map<String, Tensor>> byIndex = new TreeMap<>();
        List<Item> items = new ArrayList<>();
        for (int r = 1; r < world; r++) {
            if (r == rank) {
                for (Tensor t : local.tensors().values()) items.add(new Item(r, contiguous(t), bytes(t)));
                continue;
            }
            for (String line : descs.get(r).split("\n")) {
                if (line.isEmpty()) continue;
                String[] f = line.split("\t");
                DType dtype = DType.valueOf(f[1]);
                int[] shape = f.length < 3 || f[2].isEmpty() ? new int[0] : Arrays.stream(f[2].split(",")).mapToInt(Integer::parseInt).toArray();
                long bytes = (long) dtype.itemSize() * Arrays.stream(shape).asLongStream().reduce(1, (a, b) -> a * b);
                Tensor t = rank == 0 ? Tensor.zeros(shape, dtype, Device.CPU) : null;
                items.add(new Item(r, t, bytes));
                if (t != null) byIndex.computeIfAbsent(index(f[0]), k -> new LinkedHashMap<>()).put(f[0], t);
            }
        }
        run(chunks(items, chunkBytes), "ZeRO consolidation of the optimizer state");
        if (rank != 0) return;
        for (Map.Entry<String, Tensor> e : local.tensors().entrySet()) {
            byIndex.computeIfAbsent(index(e.getKey()), k -> new LinkedHashMap<>()).put(e.getKey(), e.getValue());
        }
        Map<String, Tensor> all = new LinkedHashMap<>();
        for (Map<String, Tensor> m : byIndex.values()) all.putAll(m);
        consolidated = new OptimizerStateDict(all, local.metadata());
    }

    /**
     * Drops the state {@link #consolidateStateDict()} gathered on rank 0, once it is written, so that
     * rank 0 does not carry the whole state through the next forward and backward (the next step
     * drops it too).
     */
    public void releaseConsolidatedStateDict() { consolidated = null; }

    /**
     * Loads a full state dict (every rank loads the same one), keeping only the state of this
     * rank's parameters; the wrapped optimizer checks what it keeps as it checks any state dict.
     */
    @Override
    public void loadStateDict(OptimizerStateDict sd) {
        consolidated = null;
        if (group.worldSize() == 1) {
            inner.loadStateDict(sd);
            return;
        }
        Map<String, Tensor> mine = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : sd.tensors().entrySet()) {
            int idx = index(e.getKey());
            // keys the wrapped optimizer would reject stay in, so that it reports them
            if (idx < 0 || idx >= params.size() || owner[idx] == group.rank()) mine.put(e.getKey(), e.getValue());
        }
        inner.loadStateDict(new OptimizerStateDict(mine, sd.metadata()));
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "ZeroRedundancyOptimizer(rank %d of %d owns %d of %d parameters) wrapping %s", group.rank(),
                group.worldSize(), localParameters().size(), params.size(), inner);
    }

    // ------------------------------------------------------------------ the abstract hooks, unused

    /** Groups come from the wrapped optimizer at construction; later ones would not be partitioned. */
    @Override
    protected void validateGroup(ParamGroup g) {
        if (constructed) {
            throw new IllegalStateException("ZeroRedundancyOptimizer: add parameter groups to the wrapped optimizer before wrapping it");
        }
    }

    /** Not called: {@link #step()} is replaced as a whole. */
    @Override
    protected void stepGroup(ParamGroup g) {
        throw new IllegalStateException("ZeroRedundancyOptimizer steps through its wrapped optimizer");
    }

    /** Not used: the state dict comes from the wrapped optimizer. */
    @Override
    protected List<String> stateKeys(ParamGroup g) { return List.of(); }

    /** Not used: the state dict comes from the wrapped optimizer. */
    @Override
    protected boolean hasStepCounter() { return false; }

    // ------------------------------------------------------------------ transport

    private static int index(String key) {
        Matcher m = STATE_KEY.matcher(key);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    private static long bytes(Tensor t) {
        return (long) t.numel() * t.dtype().itemSize();
    }

    private static Tensor contiguous(Tensor t) {
        return t.isContiguous() && t.storage() instanceof CpuStorage ? t : t.contiguous();
    }

    /** Cuts the items into broadcasts of at most {@code cap} bytes, each from one root; a tensor may span several. */
    private static List<Chunk> chunks(List<Item> items, long cap) {
        List<Chunk> out = new ArrayList<>();
        Chunk c = null;
        for (Item it : items) {
            long done = 0;
            while (done < it.bytes()) {
                if (c == null || c.root != it.root() || c.bytes == cap) {
                    c = new Chunk(it.root());
                    out.add(c);
                }
                long n = Math.min(cap - c.bytes, it.bytes() - done);
                c.pieces.add(new Piece(it.tensor(), done, n, c.bytes));
                c.bytes += n;
                done += n;
            }
        }
        return Collections.unmodifiableList(out);
    }

    /**
     * Broadcasts the chunks in order through two staging buffers: while one chunk is on the wire,
     * the next is packed into the other buffer (on its root), and the previous one is unpacked
     * (elsewhere).
     */
    private void run(List<Chunk> chunks, String what) {
        if (chunks.isEmpty()) return;
        long need = 0;
        for (Chunk c : chunks) need = Math.max(need, c.bytes);
        if (staging[0] == null || staging[0].byteSize() < need) {
            Arena arena = Arena.ofAuto(); // freed with this object; MPI holds a buffer only between a broadcast's start and its await
            staging = new MemorySegment[] {arena.allocate(need, 64), arena.allocate(need, 64)};
        }
        int rank = group.rank();
        Work previous = null;
        Chunk previousChunk = null;
        MemorySegment previousBuffer = null;
        for (int i = 0; i < chunks.size(); i++) {
            Chunk c = chunks.get(i);
            MemorySegment buf = staging[i & 1];
            if (c.root == rank) {
                for (Piece p : c.pieces) MemorySegment.copy(HostBuffer.heapBytes(p.tensor(), what), p.from(), buf, p.at(), p.bytes());
            }
            Work w = group.broadcastAsync(buf, c.bytes, c.root, String.format(Locale.ROOT, "%s (chunk %d of %d, %.1f MB from rank %d)",
                    what, i + 1, chunks.size(), c.bytes / 1e6, c.root));
            if (previous != null) finish(previous, previousChunk, previousBuffer, what);
            previous = w;
            previousChunk = c;
            previousBuffer = buf;
        }
        finish(previous, previousChunk, previousBuffer, what);
    }

    private void finish(Work w, Chunk c, MemorySegment buf, String what) {
        w.await();
        if (c.root == group.rank()) return;
        Map<Tensor, Boolean> touched = new IdentityHashMap<>();
        for (Piece p : c.pieces) {
            if (p.tensor() == null) continue;
            MemorySegment.copy(buf, p.at(), HostBuffer.heapBytes(p.tensor(), what), p.from(), p.bytes());
            touched.put(p.tensor(), true);
        }
        for (Tensor t : touched.keySet()) t.storage().bumpVersion();
    }
}
