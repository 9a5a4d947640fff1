package jllm.nn;

import jllm.autograd.Grad;
import jllm.io.TensorIO;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * The base of every layer and model, PyTorch's {@code nn.Module}: it owns named parameters,
 * buffers and child modules (each kept in registration order), and walks that tree for
 * {@link #namedParameters()}, {@link #stateDict()}, {@link #loadStateDict}, {@link #to(Device)},
 * {@link #train()}/{@link #eval()} and printing.
 *
 * <p>Java has no attribute magic, so a subclass registers explicitly in its constructor, usually
 * keeping a field too: {@code fc1 = registerModule("fc1", new Linear(400, 120))}. A field holding
 * a child module is fine (modules are never replaced by {@code to}); a field holding a parameter
 * or buffer goes stale after {@code to(...)}, which replaces the registered tensors, so read
 * those through {@link #parameter}/{@link #buffer} (layers expose getters such as
 * {@code Linear.weight()}).
 *
 * <p>There is no abstract {@code forward}: signatures differ between modules. Single-input layers
 * implement {@link UnaryModule}, which {@link Sequential} chains.
 */
public abstract class Module {
    private final LinkedHashMap<String, Tensor> params = new LinkedHashMap<>();
    private final LinkedHashMap<String, Tensor> buffers = new LinkedHashMap<>();
    private final Set<String> nonPersistent = new HashSet<>();
    private final LinkedHashMap<String, Module> modules = new LinkedHashMap<>();
    private boolean training = true;

    protected Module() {}

    // ------------------------------------------------------------------ registration

    private void checkName(String name, String kind, Map<String, ?> own) {
        if (name == null) throw new NullPointerException(kind + " name can't be null");
        if (name.isEmpty()) throw new IllegalArgumentException(kind + " name can't be empty string \"\"");
        if (name.contains(".")) throw new IllegalArgumentException(kind + " name can't contain \".\", got: " + name);
        String other = own != params && params.containsKey(name) ? "parameter"
                : own != buffers && buffers.containsKey(name) ? "buffer"
                : own != modules && modules.containsKey(name) ? "module" : null;
        if (other != null) {
            throw new IllegalArgumentException("attribute '" + name + "' already exists in " + typeName() + " as a " + other
                    + "; cannot register it as a " + kind);
        }
    }

    /**
     * Registers (or replaces) a parameter; t may be null (an absent optional parameter, printed and
     * saved nowhere). A non-leaf t is detached first; the parameter gets requiresGrad(true), except a
     * quantized one (Q8_0, Q4_0), which is frozen.
     */
    public Tensor registerParameter(String name, Tensor t) {
        checkName(name, "parameter", params);
        Tensor p = t == null ? null : asParameter(t);
        params.put(name, p);
        return p;
    }

    private static Tensor asParameter(Tensor t) {
        Tensor p = t.isLeaf() ? t : t.detach();
        return p.dtype().isQuantized() ? p : p.requiresGrad(true); // quantized weights are frozen: they have no gradient
    }

    /** Registers (or replaces) a persistent buffer: saved in {@link #stateDict()}, moved by {@code to(...)}; t may be null. */
    public Tensor registerBuffer(String name, Tensor t) { return registerBuffer(name, t, true); }

    /** Registers a buffer; a non-persistent one moves with the module but is not part of {@link #stateDict()}. */
    public Tensor registerBuffer(String name, Tensor t, boolean persistent) {
        checkName(name, "buffer", buffers);
        buffers.put(name, t);
        if (persistent) nonPersistent.remove(name);
        else nonPersistent.add(name);
        return t;
    }

    /** Registers (or replaces) a child module; m may be null (printed as None). Returns m. */
    public <M extends Module> M registerModule(String name, M m) {
        checkName(name, "module", modules);
        if (m == this) throw new IllegalArgumentException("a module can't be registered as its own child ('" + name + "')");
        modules.put(name, m);
        return m;
    }

    /** Replaces a registered parameter (the new tensor becomes a parameter, requiresGrad(true)). */
    public Tensor setParameter(String name, Tensor t) {
        if (!params.containsKey(name)) throw noSuch("parameter", name, params.keySet());
        Tensor p = t == null ? null : asParameter(t);
        params.put(name, p);
        return p;
    }

    /** Replaces a registered buffer, keeping its persistence. */
    public Tensor setBuffer(String name, Tensor t) {
        if (!buffers.containsKey(name)) throw noSuch("buffer", name, buffers.keySet());
        buffers.put(name, t);
        return t;
    }

    /** The own parameter called name (null if registered as null). */
    public Tensor parameter(String name) {
        if (!params.containsKey(name)) throw noSuch("parameter", name, params.keySet());
        return params.get(name);
    }

    /** The own buffer called name (null if registered as null). */
    public Tensor buffer(String name) {
        if (!buffers.containsKey(name)) throw noSuch("buffer", name, buffers.keySet());
        return buffers.get(name);
    }

    /** The direct child called name. */
    public Module module(String name) {
        if (!modules.containsKey(name)) throw noSuch("module", name, modules.keySet());
        return modules.get(name);
    }

    /**
     * Runs the child called name, a {@link UnaryModule}, on x. Models call their layers through
     * this rather than through a Java field so that a module registered in that child's place
     * later (a LoRA layer wrapping a Linear, say) is the one that runs.
     */
    public Tensor forwardChild(String name, Tensor x) {
        Module m = module(name);
        if (!(m instanceof UnaryModule u)) {
            throw new IllegalStateException(typeName() + "." + name + " is a " + (m == null ? "None" : m.typeName())
                    + ", not a one-input module");
        }
        return u.forward(x);
    }

    public boolean hasParameter(String name) { return params.containsKey(name); }

    public boolean hasBuffer(String name) { return buffers.containsKey(name); }

    public boolean hasModule(String name) { return modules.containsKey(name); }

    public boolean isPersistentBuffer(String name) { return buffers.containsKey(name) && !nonPersistent.contains(name); }

    /** A descendant by dotted path ("" is this module), like {@code get_submodule}. */
    public Module getSubmodule(String target) {
        if (target.isEmpty()) return this;
        Module m = this;
        StringBuilder path = new StringBuilder();
        for (String part : target.split("\\.", -1)) {
            if (m == null || !m.modules.containsKey(part)) {
                throw new IllegalArgumentException((path.isEmpty() ? typeName() : path) + " has no submodule '" + part + "' (looking up '" + target + "')");
            }
            m = m.modules.get(part);
            if (!path.isEmpty()) path.append('.');
            path.append(part);
        }
        return m;
    }

    private IllegalArgumentException noSuch(String kind, String name, Set<String> known) {
        return new IllegalArgumentException(typeName() + " has no " + kind + " '" + name + "' (its " + kind + "s: " + known + ")");
    }

    // ------------------------------------------------------------------ traversal

    /** Every parameter of this module and its descendants, dotted names, each tensor once (tied weights under the first name). */
    public LinkedHashMap<String, Tensor> namedParameters() { return namedParameters(true); }

    /** With recurse=false only this module's own parameters. */
    public LinkedHashMap<String, Tensor> namedParameters(boolean recurse) {
        return namedTensors(recurse, m -> m.params, false);
    }

    public List<Tensor> parameters() { return new ArrayList<>(namedParameters().values()); }

    public List<Tensor> parameters(boolean recurse) { return new ArrayList<>(namedParameters(recurse).values()); }

    /** Every buffer (persistent or not), dotted names, each tensor once. */
    public LinkedHashMap<String, Tensor> namedBuffers() { return namedBuffers(true); }

    public LinkedHashMap<String, Tensor> namedBuffers(boolean recurse) {
        return namedTensors(recurse, m -> m.buffers, false);
    }

    public List<Tensor> buffers() { return new ArrayList<>(namedBuffers().values()); }

    private LinkedHashMap<String, Tensor> namedTensors(boolean recurse, java.util.function.Function<Module, Map<String, Tensor>> own,
                                                      boolean keepDuplicates) {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Map<String, Module> mods = recurse ? namedModules() : Map.of("", this);
        for (Map.Entry<String, Module> e : mods.entrySet()) {
            String prefix = e.getKey().isEmpty() ? "" : e.getKey() + ".";
            for (Map.Entry<String, Tensor> t : own.apply(e.getValue()).entrySet()) {
                if (t.getValue() == null) continue;
                if (!keepDuplicates && !seen.add(t.getValue())) continue;
                out.put(prefix + t.getKey(), t.getValue());
            }
        }
        return out;
    }

    /** This module ("") and all descendants in pre-order, each module once. */
    public LinkedHashMap<String, Module> namedModules() {
        LinkedHashMap<String, Module> out = new LinkedHashMap<>();
        collectModules("", this, out, Collections.newSetFromMap(new IdentityHashMap<>()));
        return out;
    }

    private static void collectModules(String prefix, Module m, Map<String, Module> out, Set<Module> seen) {
        if (!seen.add(m)) return;
        out.put(prefix, m);
        for (Map.Entry<String, Module> c : m.modules.entrySet()) {
            if (c.getValue() == null) continue;
            collectModules(prefix.isEmpty() ? c.getKey() : prefix + "." + c.getKey(), c.getValue(), out, seen);
        }
    }

    public List<Module> modules() { return new ArrayList<>(namedModules().values()); }

    /** The direct children (non-null, each once), by name. */
    public LinkedHashMap<String, Module> namedChildren() {
        LinkedHashMap<String, Module> out = new LinkedHashMap<>();
        Set<Module> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Map.Entry<String, Module> c : modules.entrySet()) {
            if (c.getValue() != null && seen.add(c.getValue())) out.put(c.getKey(), c.getValue());
        }
        return out;
    }

    public List<Module> children() { return new ArrayList<>(namedChildren().values()); }

    // ------------------------------------------------------------------ state dict

    /**
     * Parameters and persistent buffers as detached tensors sharing the live data, keyed by dotted
     * name, in PyTorch's order: a module's own parameters, its own buffers, then each child in
     * turn. A tensor reachable under two names (tied weights) appears under both.
     */
    public LinkedHashMap<String, Tensor> stateDict() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : slots().entrySet()) out.put(e.getKey(), e.getValue().detach());
        return out;
    }

    /** The live registered tensors behind {@link #stateDict()} keys. */
    private LinkedHashMap<String, Tensor> slots() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        collectSlots("", out);
        return out;
    }

    private void collectSlots(String prefix, Map<String, Tensor> out) {
        for (Map.Entry<String, Tensor> e : params.entrySet()) {
            if (e.getValue() != null) out.put(prefix + e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Tensor> e : buffers.entrySet()) {
            if (e.getValue() != null && !nonPersistent.contains(e.getKey())) out.put(prefix + e.getKey(), e.getValue());
        }
        for (Map.Entry<String, Module> c : modules.entrySet()) {
            if (c.getValue() != null) c.getValue().collectSlots(prefix + c.getKey() + ".", out);
        }
    }

    /** The outcome of {@link #loadStateDict}: keys the model has but the map lacked, and keys the map had but the model lacks. */
    public record LoadResult(List<String> missingKeys, List<String> unexpectedKeys) {
        public LoadResult {
            missingKeys = List.copyOf(missingKeys);
            unexpectedKeys = List.copyOf(unexpectedKeys);
        }

        public boolean isClean() { return missingKeys.isEmpty() && unexpectedKeys.isEmpty(); }
    }

    public LoadResult loadStateDict(Map<String, Tensor> stateDict) { return loadStateDict(stateDict, true); }

    /**
     * Copies values from stateDict into this module's existing parameters and persistent buffers
     * (under {@code Grad.off()}, converting dtype and device), so references held elsewhere (an
     * optimizer) stay valid. As in PyTorch, a shape mismatch is always an error; missing and
     * unexpected keys are errors only when strict. Unlike PyTorch nothing is copied when an
     * error is thrown: the module is left untouched. The exception lists every problem.
     */
    public LoadResult loadStateDict(Map<String, Tensor> stateDict, boolean strict) {
        LinkedHashMap<String, Tensor> slots = slots();
        List<String> missing = new ArrayList<>();
        List<String> unexpected = new ArrayList<>();
        List<String> errors = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : slots.entrySet()) {
            String key = e.getKey();
            if (!stateDict.containsKey(key)) {
                missing.add(key);
                continue;
            }
            Tensor src = stateDict.get(key);
            Tensor dst = e.getValue();
            if (src == null) {
                errors.add("value for " + key + " is null");
            } else if (!Arrays.equals(src.shape(), dst.shape())) {
                errors.add("size mismatch for " + key + ": copying a param with shape " + Arrays.toString(src.shape())
                        + " from checkpoint, the shape in current model is " + Arrays.toString(dst.shape()) + ".");
            } else if (LoadChecks.dtypeError(key, src, dst) != null) {
                errors.add(LoadChecks.dtypeError(key, src, dst));
            }
        }
        for (String k : stateDict.keySet()) if (!slots.containsKey(k)) unexpected.add(k);
        if (strict) {
            if (!unexpected.isEmpty()) errors.add(0, "Unexpected key(s) in state_dict: " + quoted(unexpected) + ". ");
            if (!missing.isEmpty()) errors.add(0, "Missing key(s) in state_dict: " + quoted(missing) + ". ");
        }
        if (!errors.isEmpty()) {
            throw new IllegalArgumentException("Error(s) in loading state_dict for " + typeName() + ":\n\t" + String.join("\n\t", errors));
        }
        try (var g = Grad.off()) {
            for (Map.Entry<String, Tensor> e : slots.entrySet()) {
                Tensor src = stateDict.get(e.getKey());
                if (src != null) e.getValue().copy_(src);
            }
        }
        return new LoadResult(missing, unexpected);
    }

    private static String quoted(List<String> keys) {
        StringBuilder sb = new StringBuilder();
        for (String k : keys) {
            if (!sb.isEmpty()) sb.append(", ");
            sb.append('"').append(k).append('"');
        }
        return sb.toString();
    }

    /** Writes {@link #stateDict()} to a safetensors file (metadata {@code format=pt}, as Hugging Face writes). */
    public void save(Path file) throws IOException {
        TensorIO.save(file, stateDict(), Map.of("format", "pt"));
    }

    /** Loads a safetensors file written by {@link #save} (or PyTorch) into this module, strictly. */
    public LoadResult load(Path file) throws IOException { return load(file, true); }

    /** Loads a safetensors file written by {@link #save}; a tensor that does not fit is an error naming the file. */
    public LoadResult load(Path file, boolean strict) throws IOException {
        var sd = TensorIO.load(file);
        try {
            return loadStateDict(sd, strict);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    // ------------------------------------------------------------------ device, dtype, modes

    /**
     * Moves every parameter and buffer (and parameter gradient) to a device. The registered
     * tensors are replaced by the moved ones (keeping requiresGrad; tied tensors stay tied), so
     * create optimizers after moving, as PyTorch advises. Returns this.
     */
    public Module to(Device device) { return applyToTensors(t -> t.to(device)); }

    public Module to(String device) { return to(Device.parse(device)); }

    /** Converts floating-point parameters and buffers to dtype; integer and bool tensors are kept, as PyTorch does. */
    public Module to(DType dtype) {
        if (!dtype.isFloatingPoint()) {
            throw new IllegalArgumentException("nn.Module.to only accepts floating point dtypes, but got desired dtype=" + dtype.torchName());
        }
        return applyToTensors(t -> t.dtype().isFloatingPoint() ? t.to(dtype) : t);
    }

    /** Applies fn to every parameter (with its gradient) and buffer, replacing the registered tensor with the result. */
    protected Module applyToTensors(UnaryOperator<Tensor> fn) {
        IdentityHashMap<Tensor, Tensor> memo = new IdentityHashMap<>();
        try (var g = Grad.off()) {
            for (Module m : modules()) {
                for (Map.Entry<String, Tensor> e : m.params.entrySet()) {
                    Tensor p = e.getValue();
                    if (p == null) continue;
                    Tensor q = memo.get(p);
                    if (q == null) {
                        q = fn.apply(p);
                        if (q != p) {
                            q = q.isLeaf() ? q : q.detach();
                            q.requiresGrad(p.requiresGrad());
                            if (p.grad() != null) q.setGrad(fn.apply(p.grad()));
                        }
                        memo.put(p, q);
                    }
                    e.setValue(q);
                }
                for (Map.Entry<String, Tensor> e : m.buffers.entrySet()) {
                    Tensor b = e.getValue();
                    if (b == null) continue;
                    e.setValue(memo.computeIfAbsent(b, fn));
                }
            }
        }
        return this;
    }

    /** Sets training mode on this module and all descendants. */
    public Module train(boolean mode) {
        for (Module m : modules()) m.training = mode;
        return this;
    }

    public Module train() { return train(true); }

    public Module eval() { return train(false); }

    public boolean isTraining() { return training; }

    /** Calls fn on every child's subtree first, then on this module (PyTorch's order). */
    public Module apply(Consumer<Module> fn) {
        for (Module c : children()) c.apply(fn);
        fn.accept(this);
        return this;
    }

    /** Sets every parameter's gradient to null (PyTorch's default set_to_none=True). */
    public void zeroGrad() {
        for (Tensor p : parameters()) p.setGrad(null);
    }

    /** Turns gradient tracking of every parameter on or off (freezing). */
    public Module requiresGrad_(boolean on) {
        for (Tensor p : parameters()) p.requiresGrad(on);
        return this;
    }

    /** Number of parameter elements (each tied tensor counted once). */
    public long numParameters() { return numParameters(false); }

    public long numParameters(boolean onlyTrainable) {
        long n = 0;
        for (Tensor p : parameters()) if (!onlyTrainable || p.requiresGrad()) n += p.numel();
        return n;
    }

    // ------------------------------------------------------------------ printing

    /** The name printed for this module: the simple class name by default. */
    public String typeName() {
        String n = getClass().getSimpleName();
        if (n.isEmpty()) {
            Class<?> c = getClass();
            while (c.getSimpleName().isEmpty()) c = c.getSuperclass();
            n = c.getSimpleName();
        }
        return n;
    }

    /** The layer's settings shown inside its parentheses, e.g. {@code in_features=3, out_features=2, bias=True}. */
    public String extraRepr() { return ""; }

    /** The module tree, exactly as PyTorch prints it. */
    @Override
    public String toString() {
        List<String> extra = new ArrayList<>();
        String er = extraRepr();
        if (er != null && !er.isEmpty()) extra.addAll(Arrays.asList(er.split("\n", -1)));
        List<String> childLines = new ArrayList<>();
        for (Map.Entry<String, Module> c : modules.entrySet()) {
            String s = c.getValue() == null ? "None" : c.getValue().toString();
            childLines.add("(" + c.getKey() + "): " + addIndent(s, 2));
        }
        return formatRepr(typeName(), extra, childLines);
    }

    static String formatRepr(String name, List<String> extra, List<String> childLines) {
        List<String> lines = new ArrayList<>(extra);
        lines.addAll(childLines);
        StringBuilder sb = new StringBuilder(name).append('(');
        if (!lines.isEmpty()) {
            if (extra.size() == 1 && childLines.isEmpty()) sb.append(extra.get(0));
            else sb.append("\n  ").append(String.join("\n  ", lines)).append('\n');
        }
        return sb.append(')').toString();
    }

    /** PyTorch's _addindent: indents every line but the first. */
    static String addIndent(String s, int spaces) {
        String[] lines = s.split("\n", -1);
        if (lines.length == 1) return s;
        String pad = " ".repeat(spaces);
        StringBuilder sb = new StringBuilder(lines[0]);
        for (int i = 1; i < lines.length; i++) sb.append('\n').append(pad).append(lines[i]);
        return sb.toString();
    }

    /** Own child modules in registration order, including null entries (for container printing). */
    protected final Map<String, Module> childMap() { return Collections.unmodifiableMap(modules); }

    /** Removes a child (containers use this when re-indexing). */
    protected final Module removeModule(String name) { return modules.remove(name); }

}
