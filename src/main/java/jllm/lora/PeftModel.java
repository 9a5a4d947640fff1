package jllm.lora;

import jllm.autograd.Grad;
import jllm.io.SafeTensorsException;
import jllm.io.TensorIO;
import jllm.models.CachedLanguageModel;
import jllm.models.KVCache;
import jllm.models.LanguageModel;
import jllm.models.ModelRegistry;
import jllm.models.PretrainedCausalLM;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * PEFT's PeftModelForCausalLM with one LoRA adapter ("default"): the tree
 * {@code PeftModelForCausalLM(base_model: LoraModel(model: <base>))}, so parameter names read as in
 * PEFT ({@code base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight}). The LoRA
 * layers are injected into the base model in place (as PEFT does), so the base object itself
 * changes until {@link #mergeAndUnload()} returns it plain.
 *
 * <p>forward delegates to the base model; a base that is a {@link CachedLanguageModel} gives a
 * PeftModel that is one too ({@link #getPeftModel} returns the subclass), so the trainer and the
 * generator take it in the base's place. Injected layers work only where the base model calls its
 * layers through {@link Module#forwardChild}; the first forward checks that every injected layer
 * ran, so a model that bypasses them fails loudly instead of silently training nothing.
 */
public class PeftModel extends Module implements LanguageModel {
    public static final String CONFIG_FILE = "adapter_config.json";
    public static final String WEIGHTS_FILE = "adapter_model.safetensors";
    static final String PREFIX = "base_model.model.";

    private final LoraConfig config;
    /** The base model's family in the {@link ModelRegistry}, or null for a module jllm has no family for. */
    private final ModelRegistry.Family family;
    private final String modelType;
    /** Base-relative names of the injected LoRA layers and of the modules_to_save wrappers, in model order. */
    private final List<String> loraLayers = new ArrayList<>();
    private final List<String> savedModules = new ArrayList<>();
    private boolean runChecked;
    private boolean unloaded;

    PeftModel(Module base, LoraConfig config, Generator gen) {
        Objects.requireNonNull(base, "base model");
        Objects.requireNonNull(config, "config");
        this.family = ModelRegistry.of(base).orElse(null);
        this.modelType = family == null ? null : family.modelType();
        this.config = inject(base, config, gen);
        registerModule("base_model", new LoraModel(base, this.config));
        markTrainable();
    }

    // ------------------------------------------------------------------ construction

    /** PEFT's get_peft_model: injects LoRA into base (in place), freezes the rest; returns a Cached PeftModel when base is a CachedLanguageModel. */
    public static PeftModel getPeftModel(Module base, LoraConfig config) { return getPeftModel(base, config, Generator.defaultGenerator()); }

    /** As {@link #getPeftModel(Module, LoraConfig)}, drawing lora_A's initial values from gen. */
    public static PeftModel getPeftModel(Module base, LoraConfig config, Generator gen) {
        return base instanceof CachedLanguageModel ? new Cached(base, config, gen) : new PeftModel(base, config, gen);
    }

    /**
     * PEFT's PeftModel.from_pretrained: reads {@code adapter_config.json} and
     * {@code adapter_model.safetensors} from dir, injects LoRA into base and loads the adapter.
     * Not trainable (PEFT's default is_trainable=False): everything frozen and in eval mode.
     */
    public static PeftModel fromPretrained(Module base, Path dir) { return fromPretrained(base, dir, false); }

    /** With isTrainable the LoRA weights (and biases / modules_to_save per the config) stay trainable, to continue training. */
    public static PeftModel fromPretrained(Module base, Path dir, boolean isTrainable) {
        LoraConfig cfg = readConfig(dir).withInferenceMode(!isTrainable);
        PeftModel m;
        try {
            m = getPeftModel(base, cfg);
        } catch (IllegalArgumentException e) { // what the config asks does not fit the model: name the file that asked
            throw new IllegalArgumentException(dir.resolve(CONFIG_FILE) + ": " + e.getMessage(), e);
        }
        m.warnFanInFanOut(cfg, dir.resolve(CONFIG_FILE));
        m.loadAdapterWeights(dir.resolve(WEIGHTS_FILE));
        if (!isTrainable) m.eval();
        return m;
    }

    /**
     * PEFT corrects a fan_in_fan_out that disagrees with the layer (Conv1D stores [in, out]) and
     * warns; jllm computes the same either way (its weights are [out, in]) and warns the same way.
     */
    private void warnFanInFanOut(LoraConfig fromFile, Path file) {
        if (fromFile.fanInFanOut() != config.fanInFanOut()) {
            System.err.println("warning: " + file + ": fan_in_fan_out=" + fromFile.fanInFanOut() + " but the target layers of this "
                    + (modelType == null ? "model" : modelType + " model") + " store weights " + (config.fanInFanOut() ? "[in, out] (Conv1D)" : "[out, in] (Linear)")
                    + "; using fan_in_fan_out=" + config.fanInFanOut() + " as PEFT does");
        }
    }

    private static LoraConfig readConfig(Path dir) {
        Path c = dir.resolve(CONFIG_FILE);
        if (!Files.isRegularFile(c)) throw new IllegalArgumentException("not a PEFT adapter directory: " + c + " does not exist");
        return LoraConfig.load(c);
    }

    /** Resolves target_modules, wraps modules_to_save and replaces each targeted Linear by a LoraLinear; returns the resolved config. */
    private LoraConfig inject(Module base, LoraConfig cfg, Generator gen) {
        LoraConfig.TargetModules targets = cfg.targetModules();
        if (targets == null) targets = LoraConfig.defaultTargetModules(modelType);
        LinkedHashMap<String, Module> mods = base.namedModules();
        for (Module m : mods.values()) {
            if (m instanceof LoraLinear || m instanceof ModulesToSaveWrapper) {
                throw new IllegalArgumentException("the base model already has LoRA layers (" + m.typeName()
                        + "); merge or unload them first");
            }
        }
        if (targets.isAllLinear()) {
            // PEFT's _maybe_include_all_linear_layers: every Linear but the output layer
            List<String> names = new ArrayList<>();
            for (Map.Entry<String, Module> e : mods.entrySet()) {
                if (e.getValue() instanceof Linear && !e.getKey().equals("lm_head")) names.add(e.getKey());
            }
            if (names.isEmpty()) throw new IllegalArgumentException("target_modules='all-linear' found no Linear layer (besides lm_head) in the base model");
            targets = LoraConfig.TargetModules.names(names);
        }
        // PEFT forces fan_in_fan_out to match the layer class: true for GPT-2's Conv1D, false for nn.Linear
        // (with a warning). jllm computes the same either way; the flag is what goes into adapter_config.json.
        boolean fanInFanOut = family != null && family.fanInFanOut();
        LoraConfig resolved = new LoraConfig(cfg.r(), cfg.loraAlpha(), cfg.loraDropout(), targets, cfg.bias(), fanInFanOut,
                cfg.useRslora(), cfg.modulesToSave(), cfg.taskType(), cfg.baseModelNameOrPath(), cfg.inferenceMode());

        List<String> mts = cfg.modulesToSave() == null ? List.of() : cfg.modulesToSave();
        for (Map.Entry<String, Module> e : mods.entrySet()) {
            String key = e.getKey();
            if (key.isEmpty()) continue;
            if (matchesSavedModule(key, mts)) {
                if (!mts.contains(key) && mts.stream().noneMatch(n -> key.endsWith("." + n))) continue; // inside a saved module
                replace(base, key, new ModulesToSaveWrapper(e.getValue()));
                savedModules.add(key);
                continue;
            }
            if (!targets.matches(key)) continue;
            if (!(e.getValue() instanceof Linear lin)) {
                throw new IllegalArgumentException("Target module " + key + " (" + e.getValue().typeName() + ") is not supported. "
                        + "Currently, only the following modules are supported: `Linear`.");
            }
            replace(base, key, new LoraLinear(lin, resolved, gen));
            loraLayers.add(key);
        }
        List<String> unmatched = new ArrayList<>();
        for (String n : mts) if (savedModules.stream().noneMatch(k -> k.equals(n) || k.endsWith("." + n))) unmatched.add(n);
        if (!unmatched.isEmpty()) throw new IllegalArgumentException("modules_to_save " + unmatched + " not found in the base model");
        if (loraLayers.isEmpty()) {
            throw new IllegalArgumentException("Target modules " + targets + " not found in the base model. "
                    + "Please check the target modules and try again.");
        }
        return resolved;
    }

    /** PEFT never puts an adapter on or inside a module to save: {@code (^|.*\.)name($|\..*)}. */
    private static boolean matchesSavedModule(String key, List<String> mts) {
        for (String n : mts) {
            if (key.equals(n) || key.endsWith("." + n) || key.startsWith(n + ".") || key.contains("." + n + ".")) return true;
        }
        return false;
    }

    private static void replace(Module root, String name, Module m) {
        int dot = name.lastIndexOf('.');
        Module parent = dot < 0 ? root : root.getSubmodule(name.substring(0, dot));
        parent.registerModule(name.substring(dot + 1), m);
    }

    /** PEFT's _mark_only_adapters_as_trainable plus the bias option; modules_to_save copies stay trainable. */
    private void markTrainable() {
        Module base = getBaseModel();
        Set<Tensor> trainable = Collections.newSetFromMap(new IdentityHashMap<>());
        for (String n : loraLayers) {
            LoraLinear l = (LoraLinear) base.getSubmodule(n);
            trainable.add(l.loraA().weight());
            trainable.add(l.loraB().weight());
            if (config.bias().equals("lora_only") && l.baseLayer().bias() != null) trainable.add(l.baseLayer().bias());
        }
        for (String n : savedModules) trainable.addAll(((ModulesToSaveWrapper) base.getSubmodule(n)).trainable().parameters());
        for (Map.Entry<String, Tensor> e : base.namedParameters().entrySet()) {
            boolean isOriginal = savedModules.stream().anyMatch(s -> e.getKey().startsWith(s + ".original_module."));
            if (config.bias().equals("all") && (e.getKey().equals("bias") || e.getKey().endsWith(".bias")) && !isOriginal) {
                trainable.add(e.getValue());
            }
        }
        for (Tensor p : base.parameters()) p.requiresGrad(!config.inferenceMode() && trainable.contains(p));
    }

    // ------------------------------------------------------------------ accessors

    /** The resolved config (target_modules made explicit for all-linear or the model-type default). */
    public LoraConfig peftConfig() { return config; }

    /** The base model with the LoRA layers in it (PEFT's get_base_model). */
    public Module getBaseModel() {
        checkLive();
        return ((LoraModel) module("base_model")).model();
    }

    /** Names (relative to the base model) of the injected LoRA layers. */
    public List<String> loraLayerNames() { return List.copyOf(loraLayers); }

    public List<String> modulesToSaveNames() { return List.copyOf(savedModules); }

    public LoraLinear loraLayer(String baseRelativeName) { return (LoraLinear) getBaseModel().getSubmodule(baseRelativeName); }

    @Override
    public String typeName() { return "PeftModelForCausalLM"; }

    private void checkLive() {
        if (unloaded) throw new IllegalStateException("this PeftModel was merged and unloaded; use the model mergeAndUnload returned");
    }

    // ------------------------------------------------------------------ parameter counts

    /** PEFT's get_nb_trainable_parameters: {trainable, all}, each tensor once (a tied embedding counts once). */
    public long[] getNbTrainableParameters() {
        long trainable = 0, all = 0;
        for (Tensor p : parameters()) {
            all += p.numel();
            if (p.requiresGrad()) trainable += p.numel();
        }
        return new long[] {trainable, all};
    }

    /** "trainable params: 6,815,744 || all params: 8,037,076,992 || trainable%: 0.0848", PEFT's print_trainable_parameters line. */
    public String trainableParametersLine() {
        long[] n = getNbTrainableParameters();
        if (n[1] == 0) throw new IllegalStateException("the model has no parameters");
        // Python's :.4f rounds the exact binary value half-even; BigDecimal(double) is that exact value
        String pct = new BigDecimal(100.0 * n[0] / n[1]).setScale(4, RoundingMode.HALF_EVEN).toPlainString();
        return String.format(Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %s", n[0], n[1], pct);
    }

    public void printTrainableParameters() { System.out.println(trainableParametersLine()); }

    // ------------------------------------------------------------------ forward

    private LanguageModel lm() {
        Module base = getBaseModel();
        if (base instanceof LanguageModel lm) return lm;
        throw new IllegalStateException("the base model " + base.typeName() + " is not a LanguageModel; call it directly via getBaseModel()");
    }

    @Override
    public Output forward(Tensor idx, Tensor targets) {
        LanguageModel lm = lm();
        if (runChecked) return lm.forward(idx, targets);
        Map<Module, Long> before = callCounts();
        Output out = lm.forward(idx, targets);
        checkAllRan(before);
        runChecked = true;
        return out;
    }

    private Map<Module, Long> callCounts() {
        Map<Module, Long> m = new IdentityHashMap<>();
        Module base = getBaseModel();
        for (String n : loraLayers) m.put(base.getSubmodule(n), ((LoraLinear) base.getSubmodule(n)).calls());
        for (String n : savedModules) m.put(base.getSubmodule(n), ((ModulesToSaveWrapper) base.getSubmodule(n)).calls());
        return m;
    }

    private void checkAllRan(Map<Module, Long> before) {
        Module base = getBaseModel();
        List<String> idle = new ArrayList<>();
        for (String n : loraLayers) if (((LoraLinear) base.getSubmodule(n)).calls() == before.get(base.getSubmodule(n))) idle.add(n);
        for (String n : savedModules) {
            if (((ModulesToSaveWrapper) base.getSubmodule(n)).calls() == before.get(base.getSubmodule(n))) idle.add(n);
        }
        if (!idle.isEmpty()) {
            throw new IllegalStateException(base.typeName() + " did not run the injected layer(s) " + idle
                    + ": the model must call them through Module.forwardChild for LoRA / modules_to_save to take effect");
        }
    }

    @Override
    public int blockSize() { return lm().blockSize(); }

    @Override
    public int vocabSize() { return lm().vocabSize(); }

    @Override
    public boolean lastPositionOnlyInInference() { return lm().lastPositionOnlyInInference(); }

    /** A PeftModel over a {@link CachedLanguageModel}, usable by the KV-cache generator. */
    public static final class Cached extends PeftModel implements CachedLanguageModel {
        Cached(Module base, LoraConfig config, Generator gen) { super(base, config, gen); }

        private CachedLanguageModel clm() { return (CachedLanguageModel) getBaseModel(); }

        @Override
        public KVCache newCache(int batchSize) { return clm().newCache(batchSize); }

        @Override
        public Tensor forward(Tensor idx, KVCache cache, boolean lastPositionOnly) { return clm().forward(idx, cache, lastPositionOnly); }
    }

    // ------------------------------------------------------------------ adapter state dict

    /**
     * PEFT's get_peft_model_state_dict: the adapter's tensors keyed as in
     * {@code adapter_model.safetensors}: the adapter name removed
     * ({@code base_model.model.<layer>.lora_A.weight}), biases per the bias option
     * ({@code ...base_layer.bias} for LoRA layers), and each module to save under its own name
     * ({@code base_model.model.lm_head.weight}). Values are detached views of the live tensors.
     */
    public LinkedHashMap<String, Tensor> adapterStateDict() {
        LinkedHashMap<String, Tensor> sd = stateDict();
        Map<String, String> rename = checkpointKeys();
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : sd.entrySet()) {
            String ck = rename.get(e.getKey());
            if (ck != null) out.put(ck, e.getValue());
        }
        return out;
    }

    /** Model key -> checkpoint key for every tensor the adapter file holds. */
    private LinkedHashMap<String, String> checkpointKeys() {
        Module base = getBaseModel();
        String dflt = "." + LoraLinear.ADAPTER + ".";
        LinkedHashMap<String, String> out = new LinkedHashMap<>();
        for (String n : loraLayers) {
            for (String ab : new String[] {"lora_A", "lora_B"}) {
                String k = PREFIX + n + "." + ab + dflt + "weight";
                out.put(k, PREFIX + n + "." + ab + ".weight");
            }
            if (config.bias().equals("lora_only") && ((LoraLinear) base.getSubmodule(n)).baseLayer().bias() != null) {
                out.put(PREFIX + n + ".base_layer.bias", PREFIX + n + ".base_layer.bias");
            }
        }
        if (config.bias().equals("all")) {
            for (String k : base.namedParameters().keySet()) {
                if (!(k.equals("bias") || k.endsWith(".bias"))) continue;
                if (savedModules.stream().anyMatch(s -> k.startsWith(s + "."))) continue;
                out.put(PREFIX + k, PREFIX + k);
            }
        }
        for (String n : savedModules) {
            Module copy = ((ModulesToSaveWrapper) base.getSubmodule(n)).trainable();
            for (String k : copy.stateDict().keySet()) {
                out.put(PREFIX + n + ".modules_to_save" + dflt + k, PREFIX + n + "." + k);
            }
        }
        return out;
    }

    /**
     * Training checkpoints of a PEFT model (the trainer calls {@link Module#save}) hold what
     * training changes, the adapter's tensors under their adapter_model.safetensors keys, not the
     * frozen base, which comes from the base model's directory: a LoRA checkpoint of a 1B model is
     * megabytes, not gigabytes. {@link #load(Path, boolean)} reads it back, strictly.
     */
    @Override
    public void save(Path file) throws IOException {
        checkLive();
        TensorIO.save(file, adapterStateDict(), Map.of("format", "pt"));
    }

    @Override
    public LoadResult load(Path file, boolean strict) throws IOException {
        loadAdapterWeights(file);
        return new LoadResult(List.of(), List.of());
    }

    /** PEFT's save_pretrained: dir/adapter_config.json and dir/adapter_model.safetensors, each written atomically. */
    public void savePretrained(Path dir) {
        checkLive();
        try {
            Files.createDirectories(dir);
            TensorIO.save(dir.resolve(WEIGHTS_FILE), adapterStateDict(), Map.of("format", "pt"));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot save the adapter to " + dir, e);
        }
        // PEFT writes inference_mode=true into a saved config
        config.withInferenceMode(true).save(dir.resolve(CONFIG_FILE));
    }

    /**
     * Loads an adapter directory written by PEFT or {@link #savePretrained} into this (already
     * injected) model: its config must describe the same adapter (r, lora_alpha, rsLoRA, targets,
     * bias, modules_to_save), then the weights are checked and copied.
     */
    public void loadAdapter(Path dir) {
        checkLive();
        LoraConfig other = readConfig(dir);
        warnFanInFanOut(other, dir.resolve(CONFIG_FILE));
        List<String> diffs = new ArrayList<>();
        if (other.r() != config.r()) diffs.add("r " + other.r() + " vs " + config.r());
        if (other.loraAlpha() != config.loraAlpha()) diffs.add("lora_alpha " + other.loraAlpha() + " vs " + config.loraAlpha());
        if (other.useRslora() != config.useRslora()) diffs.add("use_rslora " + other.useRslora() + " vs " + config.useRslora());
        if (!other.bias().equals(config.bias())) diffs.add("bias " + other.bias() + " vs " + config.bias());
        if (!Objects.equals(orEmpty(other.modulesToSave()), orEmpty(config.modulesToSave()))) {
            diffs.add("modules_to_save " + other.modulesToSave() + " vs " + config.modulesToSave());
        }
        if (other.targetModules() != null && !other.targetModules().isAllLinear()) {
            // the layers the file's target_modules would have chosen in this model must be the ones that have LoRA
            LoraConfig.TargetModules t = other.targetModules();
            List<String> wouldMatch = new ArrayList<>();
            for (String n : getBaseModel().namedModules().keySet()) {
                boolean inside = loraLayers.stream().anyMatch(l -> n.startsWith(l + ".")) || savedModules.stream().anyMatch(s -> n.equals(s) || n.startsWith(s + "."));
                if (!inside && t.matches(n)) wouldMatch.add(n);
            }
            if (!wouldMatch.equals(loraLayers)) diffs.add("target_modules " + t + " vs " + config.targetModules());
        }
        if (!diffs.isEmpty()) {
            throw new IllegalArgumentException(dir.resolve(CONFIG_FILE) + " does not match this model's LoRA config (file vs model): "
                    + String.join(", ", diffs));
        }
        loadAdapterWeights(dir.resolve(WEIGHTS_FILE));
    }

    private static List<String> orEmpty(List<String> l) { return l == null ? List.of() : l; }

    /** Reads an adapter_model.safetensors file and loads it via {@link #setAdapterStateDict}. */
    public void loadAdapterWeights(Path file) {
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException("adapter weights file " + file + " does not exist");
        Map<String, Tensor> sd;
        try {
            sd = TensorIO.load(file);
        } catch (IOException | SafeTensorsException e) {
            throw new IllegalArgumentException("cannot read adapter weights " + file + ": " + e.getMessage(), e);
        }
        setAdapterStateDict(sd, file.toString());
    }

    /**
     * PEFT's set_peft_model_state_dict, strictly: every adapter tensor must be present with the
     * right shape and nothing else may be there (PEFT only warns about unexpected keys; a typo
     * would otherwise leave B at zero and the adapter silently inert). Keys of a GPT-2 adapter
     * made on GPT2Model ({@code base_model.model.h.0...}) are accepted for jllm's GPT, whose names
     * carry {@code transformer.}. Nothing is copied unless everything fits.
     */
    public void setAdapterStateDict(Map<String, Tensor> sd, String source) {
        checkLive();
        LinkedHashMap<String, String> modelToCkpt = checkpointKeys();
        Map<String, String> ckptToModel = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : modelToCkpt.entrySet()) ckptToModel.put(e.getValue(), e.getKey());
        LinkedHashMap<String, Tensor> live = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : namedSlots().entrySet()) live.put(e.getKey(), e.getValue());

        Map<String, Tensor> found = new LinkedHashMap<>();
        List<String> unexpected = new ArrayList<>(), errors = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : sd.entrySet()) {
            String k = normalize(e.getKey(), ckptToModel);
            if (k == null) {
                unexpected.add(e.getKey());
                continue;
            }
            found.put(k, e.getValue());
        }
        List<String> missing = new ArrayList<>();
        for (String ck : ckptToModel.keySet()) if (!found.containsKey(ck)) missing.add(ck);
        for (Map.Entry<String, Tensor> e : found.entrySet()) {
            Tensor dst = live.get(ckptToModel.get(e.getKey()));
            Tensor src = e.getValue();
            if (!Arrays.equals(src.shape(), dst.shape())) errors.add(shapeError(e.getKey(), src, dst));
            else if (!src.dtype().isFloatingPoint()) errors.add(e.getKey() + " has dtype " + src.dtype().torchName() + ", expected a floating type");
        }
        if (!missing.isEmpty()) errors.add(0, "missing key(s) " + missing);
        if (!unexpected.isEmpty()) errors.add(0, "unexpected key(s) " + unexpected);
        if (!errors.isEmpty()) {
            throw new IllegalArgumentException("adapter " + source + " does not fit this model (r=" + config.r() + ", LoRA on "
                    + loraLayers.size() + " layer(s)):\n\t" + String.join("\n\t", errors));
        }
        try (var g = Grad.off()) {
            for (Map.Entry<String, Tensor> e : found.entrySet()) live.get(ckptToModel.get(e.getKey())).copy_(e.getValue());
        }
        jllm.nn.LoadChecks.warnNonFinite(found, source);
    }

    /** The checkpoint key k names, in this model's checkpoint-key space, or null. */
    private String normalize(String k, Map<String, String> ckptToModel) {
        if (ckptToModel.containsKey(k)) return k;
        // PEFT < 0.15 saved modules_to_save as <name>.modules_to_save.<param>
        String old = k.replace(".modules_to_save.", ".");
        if (!old.equals(k) && ckptToModel.containsKey(old) && savedModules.stream().anyMatch(s -> k.startsWith(PREFIX + s + ".modules_to_save."))) {
            return old;
        }
        // the base model's own key aliases (an adapter made on GPT2Model lacks GPT2LMHeadModel's "transformer.")
        if (getBaseModel() instanceof PretrainedCausalLM p && k.startsWith(PREFIX)) {
            String t = PREFIX + p.canonicalHfKey(k.substring(PREFIX.length()));
            if (ckptToModel.containsKey(t)) return t;
        }
        return null;
    }

    private String shapeError(String key, Tensor src, Tensor dst) {
        String what = key.contains(".lora_A.") || key.contains(".lora_B.")
                ? " (lora_A is [r, in_features], lora_B is [out_features, r]; this model has r=" + config.r() + ")" : "";
        return "size mismatch for " + key + ": the adapter has shape " + Arrays.toString(src.shape()) + ", this model needs "
                + Arrays.toString(dst.shape()) + what;
    }

    /** The live (not detached) parameter tensors by state-dict name, so loading writes into them. */
    private LinkedHashMap<String, Tensor> namedSlots() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Module> e : namedModules().entrySet()) {
            String prefix = e.getKey().isEmpty() ? "" : e.getKey() + ".";
            for (Map.Entry<String, Tensor> p : e.getValue().namedParameters(false).entrySet()) out.putIfAbsent(prefix + p.getKey(), p.getValue());
        }
        return out;
    }

    // ------------------------------------------------------------------ merging

    /**
     * PEFT's merge_and_unload: W += scaling * B @ A in each LoRA layer's base Linear (jllm's [out, in]
     * orientation; fan_in_fan_out does not apply), each LoRA layer replaced by its base Linear and
     * each modules_to_save wrapper by its trained copy. Returns the plain base model; this
     * PeftModel is unusable afterwards. Parameters keep their requiresGrad flags (as in PEFT).
     */
    public Module mergeAndUnload() {
        Module base = getBaseModel();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        for (String n : loraLayers) {
            Tensor w = ((LoraLinear) base.getSubmodule(n)).baseLayer().weight();
            if (w.dtype().isQuantized()) {
                throw new IllegalStateException("cannot merge into the " + w.dtype().torchName() + " weight of " + n + ": the adapter's small update "
                        + "would be lost to the blocks' rounding; merge into the unquantized base model, then quantize the result "
                        + "(jllm convert quantize)");
            }
            if (!seen.add(w)) throw new IllegalStateException("cannot merge: two LoRA layers share the weight of " + n);
        }
        // a tied weight (GPT's lm_head/wte) would change under both names; refuse instead of silently changing the embedding
        List<String> tied = new ArrayList<>();
        for (Map.Entry<String, Module> e : base.namedModules().entrySet()) {
            if (e.getValue() instanceof LoraLinear || loraLayers.contains(e.getKey().replaceFirst("\\.base_layer$", ""))) continue;
            for (Tensor p : e.getValue().parameters(false)) if (seen.contains(p)) tied.add(e.getKey());
        }
        if (!tied.isEmpty()) throw new IllegalStateException("cannot merge: a LoRA layer's weight is tied to " + tied + "; merging would change both");
        for (String n : loraLayers) replace(base, n, ((LoraLinear) base.getSubmodule(n)).mergeIntoBase());
        for (String n : savedModules) replace(base, n, ((ModulesToSaveWrapper) base.getSubmodule(n)).trainable());
        unloaded = true;
        return base;
    }
}
