package jllm.cli;

import jllm.models.MemoryFootprint;

import java.util.Arrays;
import java.util.Locale;

/**
 * The JVM heap a run needs, from what the model and the run hold: the launcher starts the JVM with
 * it instead of a fixed size, because G1 grows the heap as far as it is allowed (a fixed -Xmx8g let
 * the 0.8M-parameter main job reach 0.83 GB resident) and keeps it while the run lasts.
 *
 * <p>The heap is the live peak plus a young generation for the garbage between collections:
 * <ul>
 *   <li>training: weights, gradients and AdamW's two moments (16 bytes per trained parameter; a
 *       frozen base as it is loaded), the activations one forward saves ({@link MemoryFootprint}), the head's
 *       logits gradient and softmax, and room for the largest array to find contiguous regions in
 *       a nearly full heap. When the largest activation is at most 16 MB, activations are ordinary
 *       young objects: the run gets the serial collector and a young generation of 6 x the
 *       activations, so a step's survivors fit in the survivor space (SurvivorRatio=3) and are never
 *       promoted. G1 took 43 MB of native memory for its own structures beside the main job's 237 MiB
 *       heap; the serial collector takes under 1 MB, and its young collections of a few MB of
 *       survivors took 0.43 ms each against G1's 3.2 ms (peak RSS 336-359 MiB against 388-392 MiB, the
 *       same time within the noise, two interleaved runs each). Otherwise (GPT-2's logits) the
 *       activations are humongous for G1, allocated in old regions and freed at every young
 *       collection (the serial collector would leave them in the old generation for a full
 *       collection), and 64 MB of young generation is enough;</li>
 *   <li>inference: the weights in the type they load as, the KV cache for the positions the run can reach, the
 *       prompt's activations (every position's logits without the cache), and 32 MB of young
 *       generation: decoding makes little garbage per token. It runs on the serial collector:
 *       G1's own structures (remembered sets, card tables, mark bitmaps) took 44 MB of native
 *       memory beside a 291 MB heap (NMT, a BF16 Llama of 77M parameters), and collecting 32 MB of
 *       short-lived tensors needs no concurrent machinery (peak RSS 320 against 345 MB, decode
 *       speed the same within the noise, two interleaved runs each).</li>
 * </ul>
 * Training adds 64 MB for everything else (the dataset, the tokenizer, the metrics), inference
 * 32 MB; training on G1 counts the regions lost to the weights' humongous arrays. The G1 flags fix
 * the young size and turn off G1's concurrent cycles, which a heap mostly filled by long-lived
 * weights would otherwise start after nearly every collection.
 *
 * @param regionBytes G1's region size; 0 for the serial collector, which has no regions
 */
record HeapPlan(long liveBytes, long youngBytes, long regionBytes, String what) {
    static final long MB = 1L << 20;
    /** Roughly what a JVM running jllm holds beside its heap: code, metaspace, the start-up cache, GC structures, threads. */
    static final long NATIVE_BYTES = 160 * MB;
    private static final long MAX_REGION = 32 * MB;

    long heapBytes() { return liveBytes + youngBytes; }

    /**
     * A training run of fp (weights: the bytes of each of its weight arrays as loaded) with batch x
     * seq tokens per step; trainable parameters get gradients and AdamW moments: all of them when
     * training from scratch, the adapter with LoRA (whose base stays as loaded, frozen).
     */
    static HeapPlan training(MemoryFootprint fp, long[] weights, long trainable, int batch, int seq) {
        boolean scratch = trainable >= fp.parameters();
        long state = 16 * trainable + (scratch ? 0 : Arrays.stream(weights).sum());
        long activations = fp.savedActivationBytes(batch, seq);
        long tokens = (long) batch * seq;
        long logits = tokens * fp.vocab() * Float.BYTES, layer = fp.largestLayerActivationBytes(batch, seq);
        long head = 2 * logits;
        long biggest = Math.max(logits, layer);
        boolean youngActivations = 2 * biggest + 32 <= MAX_REGION;
        // activations that are young objects live in the young generation, counted there; humongous ones
        // in old regions, with the op being computed (its inputs, output and scratch, e.g. a dropout mask)
        // and room for the largest array to find contiguous regions
        long old = youngActivations ? 0 : activations + 3 * layer;
        long largest = Math.max(biggest, (long) fp.vocab() * fp.width() * Float.BYTES);
        long base = state + old + head + largest + 64 * MB;
        long region = youngActivations ? 0 : regionBytes(base);
        // on G1 every trained weight is 4 arrays (itself, its gradient, two moments), a frozen one 1
        long live = region == 0 ? base : base + regionWaste(weights, scratch ? 4 : 1, region);
        long young = youngActivations ? Math.max(64 * MB, 6 * activations) : 64 * MB;
        String what = String.format(Locale.ROOT, "%,d parameters%s = %s for weights, gradients and AdamW moments, activations of batch %d x %d ~ %s",
                fp.parameters(), scratch ? "" : String.format(Locale.ROOT, " (%,d trained)", trainable), gb(state), batch, seq, gb(activations));
        return new HeapPlan(live, young, region, what);
    }

    /**
     * Generation with fp's weights (the bytes of each array as loaded, in weightType) over at most
     * positions tokens of sequences rows (prompt included), with the KV cache or, without it, a full
     * forward per token.
     */
    static HeapPlan inference(MemoryFootprint fp, long[] arrays, String weightType, int positions, int sequences, int promptTokens,
                              boolean cache) {
        long weights = Arrays.stream(arrays).sum();
        long kv = cache ? fp.kvCacheBytesPerPosition() * positions * sequences : 0;
        long rows = (long) sequences * (cache ? promptTokens : positions);
        long forward = rows * (4L * fp.width() + 2L * fp.mlpWidth() + (cache ? 0 : fp.vocab())) * Float.BYTES;
        long live = weights + kv + forward + 32 * MB;
        String what = String.format(Locale.ROOT, "%,d parameters = %s as %s%s", fp.parameters(), gb(weights), weightType,
                cache ? String.format(Locale.ROOT, ", KV cache for %d positions %s", positions, gb(kv)) : "");
        return new HeapPlan(live, 32 * MB, 0, what);
    }

    /** The bytes of float32 arrays of these element counts. */
    static long[] float32(long[] elements) {
        return Arrays.stream(elements).map(n -> n * Float.BYTES).toArray();
    }

    /**
     * What G1 loses to the weights' arrays (their sizes in bytes) with regions of region bytes: an
     * array of at least half a region is humongous and takes whole regions, so the tail of its last
     * one stays empty (GPT-2's 2.4 MB projections take 3 MB, a 6 MB matrix 7 with its header), copies
     * times for every matrix.
     */
    static long regionWaste(long[] arrays, int copies, long region) {
        long r = region, waste = 0;
        for (long n : arrays) {
            long b = n + 16; // the array's header: a 6 MB matrix takes 7 regions
            if (2 * b >= r) waste += (r - b % r) % r;
        }
        return copies * waste;
    }

    /** G1's own region size for a heap this large (the heap over 2048 regions, a power of two from 1 to 32 MB). */
    static long regionBytes(long heapBytes) {
        long r = Long.highestOneBit(Math.max(1, heapBytes / 2048));
        return Math.min(MAX_REGION, Math.max(MB, r));
    }

    /**
     * The JVM options for this heap: -Xmx and -Xmn, then for G1 the region size in MB, no concurrent
     * cycles and G1's lazy expansion, or the serial collector.
     */
    String jvmOptions() {
        if (regionBytes == 0) {
            return String.format(Locale.ROOT, "-Xmx%dm -Xmn%dm -XX:+UseSerialGC -XX:SurvivorRatio=3", ceilMb(heapBytes()), ceilMb(youngBytes));
        }
        return String.format(Locale.ROOT, "-Xmx%dm -Xmn%dm -XX:G1HeapRegionSize=%dm -XX:SurvivorRatio=3 -XX:-G1UseAdaptiveIHOP "
                + "-XX:InitiatingHeapOccupancyPercent=100 -XX:GCTimeRatio=4", ceilMb(heapBytes()), ceilMb(youngBytes), regionBytes / MB);
    }

    /**
     * Null when ranks JVMs of this plan fit in memoryBytes; otherwise why not, for the launcher to
     * print as one line.
     */
    String doesNotFit(long memoryBytes, int ranks) {
        long need = ranks * (heapBytes() + NATIVE_BYTES);
        if (need <= memoryBytes) return null;
        return String.format(Locale.ROOT, "this run needs about %s of memory (%s%s) but this machine has %s; use a smaller model, "
                        + "batch or sequence, or set JLLM_JAVA_OPTS=-Xmx<size> to try anyway",
                gb(need), what, ranks > 1 ? String.format(Locale.ROOT, ", for each of %d ranks", ranks) : "", gb(memoryBytes));
    }

    private static long ceilMb(long bytes) { return (bytes + MB - 1) / MB; }

    private static String gb(long bytes) {
        return bytes >= 1L << 30 ? String.format(Locale.ROOT, "%.1f GB", bytes / (double) (1L << 30)) : ceilMb(bytes) + " MB";
    }
}
