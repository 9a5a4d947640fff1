package jllm.lora;

import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.UnaryModule;
import jllm.nn.functional.F;
import jllm.tensor.Tensor;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Several LoRA adapters over one base model at once, for serving (S-LoRA / punica's scheme, PEFT's
 * mixed-batch inference): each targeted Linear runs its base weight once over all rows, then each
 * adapter's low-rank update {@code x A^T B^T * scaling} runs only on the rows of the sequences that
 * asked for it and is added there. Adapters load from PEFT directories through
 * {@link PeftModel#fromPretrained} (so key names, shapes and configs are checked exactly as for
 * one adapter); their weights are kept and the model unloaded before the next one, then one
 * {@link Layer} per targeted Linear takes its place in the base model.
 *
 * <p>Which rows use which adapter is set per forward with {@link #route}; without a route every
 * row runs the base model. Not thread-safe: one forward at a time.
 */
public final class MultiLora {
    private final List<String> names;
    private int[] counts;
    private int[] adapters;

    private MultiLora(List<String> names) { this.names = List.copyOf(names); }

    /**
     * Loads the adapters (name -> PEFT directory) into base, in place. Adapters that change what is
     * shared by all sequences are refused: modules_to_save, and bias other than "none".
     */
    public static MultiLora load(Module base, Map<String, Path> adapterDirs) {
        List<String> names = new ArrayList<>(adapterDirs.keySet());
        MultiLora ml = new MultiLora(names);
        Map<String, Map<Integer, LowRank>> byLayer = new TreeMap<>();
        int a = 0;
        for (Map.Entry<String, Path> e : adapterDirs.entrySet()) {
            PeftModel p = PeftModel.fromPretrained(base, e.getValue());
            LoraConfig c = p.peftConfig();
            String refused = c.modulesToSave() != null && !c.modulesToSave().isEmpty() ? "modules_to_save " + c.modulesToSave()
                    : !c.bias().equals("none") ? "bias=\"" + c.bias() + "\"" : null;
            if (refused != null) {
                p.unload();
                throw new IllegalArgumentException("adapter '" + e.getKey() + "' (" + e.getValue() + "): " + refused
                        + " changes weights every sequence shares, so it cannot be served next to other adapters; merge it into its own model instead");
            }
            for (String n : p.loraLayerNames()) {
                LoraLinear l = p.loraLayer(n);
                byLayer.computeIfAbsent(n, k -> new LinkedHashMap<>()).put(a, new LowRank(l.loraA().weight(), l.loraB().weight(), l.scaling()));
            }
            p.unload();
            a++;
        }
        for (Map.Entry<String, Map<Integer, LowRank>> e : byLayer.entrySet()) {
            String n = e.getKey();
            int dot = n.lastIndexOf('.');
            Module parent = dot < 0 ? base : base.getSubmodule(n.substring(0, dot));
            Linear lin = (Linear) base.getSubmodule(n);
            parent.registerModule(n.substring(dot + 1), new Layer(lin, e.getValue(), ml));
        }
        return ml;
    }

    /** The adapters' names, in their index order. */
    public List<String> names() { return names; }

    /** An adapter's index, or -1 when there is none of that name. */
    public int index(String name) { return names.indexOf(name); }

    /**
     * The next forwards' rows, in order: counts[i] rows use adapter adapters[i] (-1: the base model
     * alone). null clears the route.
     */
    public void route(int[] counts, int[] adapters) {
        if ((counts == null) != (adapters == null) || counts != null && counts.length != adapters.length) {
            throw new IllegalArgumentException("MultiLora.route: counts and adapters must both be given, of the same length");
        }
        if (adapters != null) {
            for (int x : adapters) {
                if (x < -1 || x >= names.size()) throw new IllegalArgumentException("MultiLora.route: no adapter " + x + " (have " + names.size() + ")");
            }
        }
        this.counts = counts == null ? null : counts.clone();
        this.adapters = adapters == null ? null : adapters.clone();
    }

    /** One adapter's update of one layer: A [r, in], B [out, r] and alpha / r (or rsLoRA's alpha / sqrt r). */
    private record LowRank(Tensor a, Tensor b, double scaling) {}

    /** A targeted Linear serving every loaded adapter: the base weight once, each adapter on its rows. */
    static final class Layer extends Module implements UnaryModule {
        private final Map<Integer, LowRank> updates;
        private final MultiLora owner;

        Layer(Linear base, Map<Integer, LowRank> updates, MultiLora owner) {
            registerModule("base_layer", base);
            this.updates = Map.copyOf(updates);
            this.owner = owner;
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor y = forwardChild("base_layer", x);
            int[] counts = owner.counts, adapters = owner.adapters;
            if (counts == null) return y;
            int in = x.size(-1), rows = (int) (x.numel() / in);
            int total = 0;
            for (int c : counts) total += c;
            if (total != rows) throw new IllegalStateException("MultiLora: the route covers " + total + " rows, the input has " + rows);
            Tensor x2 = x.reshape(rows, in), y2 = y.view(rows, -1);
            for (Map.Entry<Integer, LowRank> e : updates.entrySet()) {
                List<Tensor> parts = new ArrayList<>();
                List<int[]> ranges = new ArrayList<>();
                int off = 0;
                for (int i = 0; i < counts.length; i++) {
                    if (adapters[i] == e.getKey()) {
                        parts.add(x2.narrow(0, off, counts[i]));
                        ranges.add(new int[] {off, counts[i]});
                    }
                    off += counts[i];
                }
                if (parts.isEmpty()) continue;
                LowRank u = e.getValue();
                Tensor xa = parts.size() == 1 ? parts.getFirst() : Tensor.cat(parts, 0);
                Tensor d = F.linear(F.linear(xa, u.a(), null), u.b(), null).mul(u.scaling());
                int r = 0;
                for (int[] range : ranges) {
                    y2.narrow(0, range[0], range[1]).add_(d.narrow(0, r, range[1]));
                    r += range[1];
                }
            }
            return y;
        }

        @Override
        public String typeName() { return "MultiLora.Layer"; }
    }
}
