package jllm.optim;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.autograd.Grad;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.DoubleSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Base of all optimizers, after {@code torch.optim.Optimizer}: parameter groups with their own
 * hyper-parameters, per-parameter state, {@link #step()}, {@link #zeroGrad()}, and a state dict
 * that round-trips through a safetensors file ({@link #save}/{@link #load}).
 *
 * <p>Parameters are leaf tensors; a parameter whose {@code grad()} is null is skipped by a step
 * and gets no state. Updates go through the parameter's backend, so they run on its device.
 */
public abstract class Optimizer {
    private static final ObjectMapper JSON = jllm.io.StrictJson.files();
    private static final Pattern STATE_KEY = Pattern.compile("state\\.(0|[1-9][0-9]{0,9})\\.([A-Za-z_][A-Za-z0-9_]*)");
    /** State key of the per-parameter step counter. */
    public static final String STEP = "step";

    private final Map<String, Object> defaults;
    private final List<ParamGroup> groups = new ArrayList<>();
    private final Set<Tensor> allParams = Collections.newSetFromMap(new IdentityHashMap<>());
    private Map<Tensor, ParamState> state = new IdentityHashMap<>();

    /**
     * @param groups   parameter groups; options they lack are taken from {@code defaults}
     * @param defaults default hyper-parameters under PyTorch's keys
     */
    protected Optimizer(List<ParamGroup> groups, Map<String, Object> defaults) {
        if (groups == null || groups.isEmpty()) throw new IllegalArgumentException("optimizer got an empty parameter list");
        this.defaults = Collections.unmodifiableMap(new LinkedHashMap<>(defaults));
        for (ParamGroup g : groups) addParamGroup(g);
    }

    /** One group holding all of {@code params}. */
    protected static List<ParamGroup> single(Iterable<Tensor> params) {
        ParamGroup g = new ParamGroup(params);
        if (g.params().isEmpty()) throw new IllegalArgumentException("optimizer got an empty parameter list");
        return List.of(g);
    }

    /** The class name PyTorch would show (AdamW, SGD, ...); stored in the state dict and checked on load. */
    public String name() { return getClass().getSimpleName(); }

    /** Default hyper-parameters (unmodifiable). */
    public Map<String, Object> defaults() { return defaults; }

    /** The groups, in order (the list is unmodifiable; each group's options are mutable). */
    public List<ParamGroup> paramGroups() { return Collections.unmodifiableList(groups); }

    /**
     * Adds a group (e.g. unfrozen layers during fine-tuning). Missing options are filled from the
     * defaults, then checked. A parameter may belong to one group only and must be a leaf.
     */
    public final void addParamGroup(ParamGroup group) {
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        int i = 0;
        for (Tensor p : group.params()) {
            if (!p.isLeaf()) throw new IllegalArgumentException("can't optimize a non-leaf Tensor (parameter " + i + " of group " + groups.size() + ")");
            if (!seen.add(p)) throw new IllegalArgumentException("parameter " + i + " appears twice in parameter group " + groups.size());
            if (allParams.contains(p)) throw new IllegalArgumentException("some parameters appear in more than one parameter group (parameter " + i + " of group " + groups.size() + ")");
            i++;
        }
        defaults.forEach(group::setDefault);
        validateGroup(group);
        allParams.addAll(seen);
        groups.add(group);
    }

    /** Checks a group's options (after defaults are filled); throws IllegalArgumentException naming the bad value. */
    protected abstract void validateGroup(ParamGroup group);

    /** Updates the parameters of one group (called with grad mode off). */
    protected abstract void stepGroup(ParamGroup group);

    /** The tensor state keys every parameter with state must have in this group (step excluded). */
    protected abstract List<String> stateKeys(ParamGroup group);

    /** Whether the state carries a per-parameter {@code step} counter. */
    protected abstract boolean hasStepCounter();

    /**
     * One optimization step over all groups, under {@link Grad#off()}. Not final only so that an
     * optimizer that wraps another ({@link jllm.distributed.ZeroRedundancyOptimizer}, which steps
     * its inner optimizer on this rank's parameters and then broadcasts them) can replace the whole
     * step; an ordinary optimizer implements {@link #stepGroup} instead.
     */
    public void step() {
        try (var g = Grad.off()) {
            for (ParamGroup group : groups) stepGroup(group);
        }
    }

    /** Re-evaluates the model with {@code closure} (grad mode on), then steps; returns the closure's loss. */
    public final double step(DoubleSupplier closure) {
        double loss;
        try (var g = Grad.on()) {
            loss = closure.getAsDouble();
        }
        step();
        return loss;
    }

    /** Sets every parameter's grad to null (PyTorch's default {@code set_to_none=True}). */
    public void zeroGrad() { zeroGrad(true); }

    /** {@code setToNone}: drop the grads; otherwise zero them in place (detached from any graph). */
    public void zeroGrad(boolean setToNone) {
        try (var g = Grad.off()) {
            for (ParamGroup group : groups) {
                for (Tensor p : group.params()) {
                    Tensor grad = p.grad();
                    if (grad == null) continue;
                    if (setToNone) p.setGrad(null);
                    else if (grad.gradFn() != null || grad.requiresGrad()) p.setGrad(Tensor.zerosLike(grad));
                    else grad.zero_();
                }
            }
        }
    }

    /** The state of a parameter, or null when it has none yet (never stepped with a grad). */
    public ParamState state(Tensor param) { return state.get(param); }

    /** The state of a parameter, created empty on first use. */
    protected final ParamState stateFor(Tensor param) { return state.computeIfAbsent(param, k -> new ParamState()); }

    /** Stores a state buffer (for subclasses). */
    protected static void putBuffer(ParamState s, String key, Tensor t) { s.buffers.put(key, t); }

    /** Increments and returns the step counter (for subclasses). */
    protected static long incrementStep(ParamState s) { return ++s.step; }

    // ------------------------------------------------------------------ state dict

    /**
     * The state as safetensors-ready tensors and metadata (see {@link OptimizerStateDict}). The
     * buffers are the live tensors, not copies; steps are I64 scalars.
     */
    public OptimizerStateDict stateDict() {
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        List<Map<String, Object>> groupsJson = new ArrayList<>();
        int index = 0;
        for (ParamGroup g : groups) {
            List<Integer> ids = new ArrayList<>();
            for (Tensor p : g.params()) {
                ParamState s = state.get(p);
                if (s != null) {
                    if (hasStepCounter()) tensors.put(key(index, STEP), Tensor.scalar(s.step, DType.I64, Device.CPU));
                    for (Map.Entry<String, Tensor> e : s.buffers.entrySet()) tensors.put(key(index, e.getKey()), e.getValue());
                }
                ids.add(index++);
            }
            Map<String, Object> gj = new LinkedHashMap<>(g.options());
            gj.put("params", ids);
            groupsJson.add(gj);
        }
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put(OptimizerStateDict.META_OPTIMIZER, name());
        try {
            meta.put(OptimizerStateDict.META_PARAM_GROUPS, JSON.writeValueAsString(groupsJson));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode param_groups: " + e.getMessage(), e);
        }
        return new OptimizerStateDict(tensors, meta);
    }

    private static String key(int index, String name) { return "state." + index + "." + name; }

    /**
     * Loads a state dict: the saved groups' hyper-parameters replace the current ones, and the
     * state is copied onto each parameter's device. Everything is checked before anything changes:
     * optimizer type, group count and sizes, key names, parameter indices, shapes (the error names
     * the key and both shapes) and that every parameter with state has all its keys.
     */
    public void loadStateDict(OptimizerStateDict sd) {
        String saved = sd.metadata().get(OptimizerStateDict.META_OPTIMIZER);
        if (saved == null) throw new IllegalArgumentException("optimizer state dict has no '" + OptimizerStateDict.META_OPTIMIZER + "' metadata");
        if (!saved.equals(name())) throw new IllegalArgumentException("optimizer state dict was saved by " + saved + ", cannot load it into " + name());
        String gjText = sd.metadata().get(OptimizerStateDict.META_PARAM_GROUPS);
        if (gjText == null) throw new IllegalArgumentException("optimizer state dict has no '" + OptimizerStateDict.META_PARAM_GROUPS + "' metadata");
        List<Map<String, Object>> savedGroups;
        try {
            savedGroups = JSON.readValue(gjText, new TypeReference<List<Map<String, Object>>>() {});
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("optimizer state dict: param_groups is not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (savedGroups.size() != groups.size()) {
            throw new IllegalArgumentException("loaded state dict has " + savedGroups.size() + " parameter groups but the optimizer has " + groups.size());
        }
        // probe groups: current params with the saved options, validated before anything changes
        List<ParamGroup> probes = new ArrayList<>();
        List<Tensor> params = new ArrayList<>();
        List<ParamGroup> groupOf = new ArrayList<>();
        for (int gi = 0; gi < groups.size(); gi++) {
            ParamGroup cur = groups.get(gi);
            Map<String, Object> sg = savedGroups.get(gi);
            Object ids = sg.get("params");
            int savedSize = ids instanceof List<?> l ? l.size() : -1;
            if (savedSize != cur.params().size()) {
                throw new IllegalArgumentException("loaded state dict contains a parameter group (" + gi + ") with " + savedSize
                        + " parameters that doesn't match the size of optimizer's group (" + cur.params().size() + ")");
            }
            ParamGroup probe = new ParamGroup(cur.params(), cur.options());
            for (Map.Entry<String, Object> e : sg.entrySet()) {
                if (!e.getKey().equals("params") && e.getValue() != null) probe.set(e.getKey(), e.getValue());
            }
            try {
                validateGroup(probe);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("loaded param group " + gi + ": " + e.getMessage(), e);
            }
            probes.add(probe);
            for (Tensor p : cur.params()) {
                params.add(p);
                groupOf.add(probe);
            }
        }
        // collect and check tensors
        Map<Integer, Map<String, Tensor>> byIndex = new TreeMap<>();
        for (Map.Entry<String, Tensor> e : sd.tensors().entrySet()) {
            String k = e.getKey();
            Matcher m = STATE_KEY.matcher(k);
            if (!m.matches()) throw new IllegalArgumentException("unexpected key '" + k + "' in optimizer state dict (expected state.<paramIndex>.<name>)");
            long idx = Long.parseLong(m.group(1));
            if (idx >= params.size()) {
                throw new IllegalArgumentException("optimizer state '" + k + "' is for parameter " + idx + " but the optimizer has " + params.size() + " parameters");
            }
            int i = (int) idx;
            String name = m.group(2);
            ParamGroup g = groupOf.get(i);
            Tensor t = e.getValue();
            Tensor p = params.get(i);
            if (name.equals(STEP) && hasStepCounter()) {
                if (t.numel() != 1) throw new IllegalArgumentException("optimizer state '" + k + "' must be a scalar, got shape " + Arrays.toString(t.shape()));
                double v = t.item();
                if (!(v >= 0) || v != Math.rint(v)) throw new IllegalArgumentException("optimizer state '" + k + "' must be a non-negative integer, got " + v);
            } else if (stateKeys(g).contains(name)) {
                if (!Arrays.equals(t.shape(), p.shape())) {
                    throw new IllegalArgumentException("optimizer state '" + k + "' has shape " + Arrays.toString(t.shape())
                            + " but parameter " + i + " has shape " + Arrays.toString(p.shape()));
                }
                if (!t.dtype().isFloatingPoint()) throw new IllegalArgumentException("optimizer state '" + k + "' must be floating point, got " + t.dtype().torchName());
            } else {
                throw new IllegalArgumentException("unexpected key '" + k + "' in optimizer state dict (" + name()
                        + " keeps " + expectedKeys(g) + " per parameter)");
            }
            byIndex.computeIfAbsent(i, x -> new LinkedHashMap<>()).put(name, t);
        }
        for (Map.Entry<Integer, Map<String, Tensor>> e : byIndex.entrySet()) {
            for (String need : expectedKeys(groupOf.get(e.getKey()))) {
                if (!e.getValue().containsKey(need)) {
                    throw new IllegalArgumentException("missing key '" + key(e.getKey(), need) + "' in optimizer state dict (parameter "
                            + e.getKey() + " has " + e.getValue().keySet() + ")");
                }
            }
        }
        // commit
        Map<Tensor, ParamState> fresh = new IdentityHashMap<>();
        try (var gm = Grad.off()) {
            for (Map.Entry<Integer, Map<String, Tensor>> e : byIndex.entrySet()) {
                Tensor p = params.get(e.getKey());
                ParamState s = new ParamState();
                for (Map.Entry<String, Tensor> t : e.getValue().entrySet()) {
                    if (t.getKey().equals(STEP)) s.step = (long) t.getValue().item();
                    else s.buffers.put(t.getKey(), Tensor.zerosLike(p).copy_(t.getValue()));
                }
                fresh.put(p, s);
            }
        }
        state = fresh;
        for (int gi = 0; gi < groups.size(); gi++) {
            ParamGroup cur = groups.get(gi);
            probes.get(gi).options().forEach(cur::set);
        }
    }

    private List<String> expectedKeys(ParamGroup g) {
        List<String> keys = new ArrayList<>();
        if (hasStepCounter()) keys.add(STEP);
        keys.addAll(new LinkedHashSet<>(stateKeys(g)));
        return keys;
    }

    /** Writes {@link #stateDict()} to a safetensors file, atomically. */
    public void save(Path file) throws IOException {
        stateDict().write(file);
    }

    /** Reads a file written by {@link #save} and loads it; errors name the file. */
    public void load(Path file) throws IOException {
        OptimizerStateDict sd = OptimizerStateDict.read(file);
        try {
            loadStateDict(sd);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(name()).append(" (");
        for (int i = 0; i < groups.size(); i++) {
            sb.append("\nParameter Group ").append(i);
            for (Map.Entry<String, Object> e : groups.get(i).options().entrySet()) {
                sb.append("\n    ").append(e.getKey()).append(": ").append(e.getValue());
            }
        }
        return sb.append("\n)").toString();
    }
}
