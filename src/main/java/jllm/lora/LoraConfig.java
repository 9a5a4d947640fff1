package jllm.lora;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * PEFT's {@code LoraConfig}, read from and written to {@code adapter_config.json} with PEFT's
 * field names. Only the options jllm implements are components; the other fields PEFT's
 * LoraConfig has are written with PEFT's defaults so that {@code PeftModel.from_pretrained} loads
 * the file. On read, a field that would make the adapter compute something jllm does not (DoRA,
 * lora_bias, layers_to_transform, rank/alpha patterns, ...) is an error rather than a silently
 * different adapter; fields that only describe initialisation are skipped, and keys PEFT does not
 * know are skipped with a warning (PEFT warns too).
 *
 * @param r                    the LoRA rank (> 0)
 * @param loraAlpha            scaling numerator: scaling = lora_alpha / r (or / sqrt(r) with rsLoRA)
 * @param loraDropout          dropout on the LoRA branch input, in [0, 1)
 * @param targetModules        which Linear layers get LoRA; null = the model type's default
 * @param bias                 "none", "all" or "lora_only": which biases are trained and saved
 * @param fanInFanOut          true when the base weights are stored [in, out] (Hugging Face GPT-2's
 *                             Conv1D); jllm keeps [out, in] internally, so this is metadata that
 *                             only changes how a delta is laid out on an HF-orientation weight
 * @param useRslora            scaling = lora_alpha / sqrt(r)
 * @param modulesToSave        modules (by name or suffix) trained in full and saved with the adapter
 * @param taskType             "CAUSAL_LM" (null means it; any other task is an error)
 * @param baseModelNameOrPath  informational, written for PEFT
 * @param inferenceMode        PEFT writes true on save_pretrained; a loaded adapter is frozen when true
 */
public record LoraConfig(int r, double loraAlpha, double loraDropout, TargetModules targetModules, String bias,
                         boolean fanInFanOut, boolean useRslora, List<String> modulesToSave, String taskType,
                         String baseModelNameOrPath, boolean inferenceMode) {

    public static final String PEFT_TYPE = "LORA";
    public static final String ALL_LINEAR = "all-linear";

    /**
     * target_modules: a list of module names (each matching a module's full name exactly or its
     * last dotted parts, PEFT's {@code key.endswith("." + name)}), a regex matched against the
     * whole module name ({@code re.fullmatch}), or "all-linear" (regex == "all-linear").
     */
    public record TargetModules(List<String> names, String regex) {
        public TargetModules {
            if ((names == null) == (regex == null)) throw new IllegalArgumentException("target_modules: give either names or a regex");
            if (names != null) {
                if (names.isEmpty()) throw new IllegalArgumentException("target_modules: the list of names is empty");
                names = List.copyOf(names);
            }
            if (regex != null && !regex.equalsIgnoreCase(ALL_LINEAR)) {
                try {
                    Pattern.compile(regex);
                } catch (PatternSyntaxException e) {
                    throw new IllegalArgumentException("target_modules: invalid regex '" + regex + "': " + e.getDescription(), e);
                }
            }
        }

        public static TargetModules names(String... names) { return new TargetModules(List.of(names), null); }

        public static TargetModules names(List<String> names) { return new TargetModules(names, null); }

        public static TargetModules regex(String regex) { return new TargetModules(null, regex); }

        public static TargetModules allLinear() { return new TargetModules(null, ALL_LINEAR); }

        public boolean isAllLinear() { return regex != null && regex.equalsIgnoreCase(ALL_LINEAR); }

        /**
         * A command-line value: "all-linear"; a comma-separated list of names ("q_proj,v_proj");
         * or, when it contains regex syntax, a regex over full module names.
         */
        public static TargetModules parse(String s) {
            if (s == null || s.isBlank()) throw new IllegalArgumentException("target_modules: empty value");
            s = s.strip();
            if (s.equalsIgnoreCase(ALL_LINEAR)) return allLinear();
            if (s.chars().anyMatch(c -> "*?[]()|^$\\+{}".indexOf(c) >= 0)) return regex(s);
            List<String> out = new ArrayList<>();
            for (String part : s.split(",")) if (!part.isBlank()) out.add(part.strip());
            return names(out);
        }

        /** PEFT's check_target_module_exists for one module name (all-linear is resolved before matching). */
        public boolean matches(String key) {
            if (regex != null) return Pattern.compile(regex).matcher(key).matches();
            for (String n : names) if (key.equals(n) || key.endsWith("." + n)) return true;
            return false;
        }

        /** As PEFT prints it in errors: a Python set/list repr or the string. */
        @Override
        public String toString() {
            if (regex != null) return regex;
            StringBuilder sb = new StringBuilder("{");
            for (String n : names) sb.append(sb.length() > 1 ? ", " : "").append('\'').append(n).append('\'');
            return sb.append('}').toString();
        }
    }

    public LoraConfig {
        if (r <= 0) throw new IllegalArgumentException("`r` should be a positive integer value but the value passed is " + r);
        if (!(loraDropout >= 0 && loraDropout < 1)) throw new IllegalArgumentException("lora_dropout must be in [0, 1), got " + loraDropout);
        if (bias == null) bias = "none";
        if (!Set.of("none", "all", "lora_only").contains(bias)) {
            throw new IllegalArgumentException("bias must be one of none, all, lora_only; got '" + bias + "'");
        }
        if (!Double.isFinite(loraAlpha)) throw new IllegalArgumentException("lora_alpha must be finite, got " + loraAlpha);
        modulesToSave = modulesToSave == null ? null : List.copyOf(modulesToSave);
        if (taskType == null) taskType = "CAUSAL_LM";
        if (!taskType.equals("CAUSAL_LM")) {
            throw new IllegalArgumentException("task_type " + taskType + " is not supported: jllm adapts causal language models (task_type CAUSAL_LM)");
        }
    }

    /** r and alpha; PEFT's other defaults (dropout 0, bias none, the model type's target modules). */
    public static LoraConfig of(int r, double loraAlpha) {
        return new LoraConfig(r, loraAlpha, 0.0, null, "none", false, false, null, "CAUSAL_LM", null, false);
    }

    public LoraConfig withDropout(double p) {
        return new LoraConfig(r, loraAlpha, p, targetModules, bias, fanInFanOut, useRslora, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    public LoraConfig withTargetModules(TargetModules t) {
        return new LoraConfig(r, loraAlpha, loraDropout, t, bias, fanInFanOut, useRslora, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    public LoraConfig withTargetModules(String... names) { return withTargetModules(TargetModules.names(names)); }

    public LoraConfig withBias(String b) {
        return new LoraConfig(r, loraAlpha, loraDropout, targetModules, b, fanInFanOut, useRslora, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    public LoraConfig withFanInFanOut(boolean f) {
        return new LoraConfig(r, loraAlpha, loraDropout, targetModules, bias, f, useRslora, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    public LoraConfig withRslora(boolean on) {
        return new LoraConfig(r, loraAlpha, loraDropout, targetModules, bias, fanInFanOut, on, modulesToSave, taskType, baseModelNameOrPath, inferenceMode);
    }

    public LoraConfig withModulesToSave(List<String> m) {
        return new LoraConfig(r, loraAlpha, loraDropout, targetModules, bias, fanInFanOut, useRslora, m, taskType, baseModelNameOrPath, inferenceMode);
    }

    public LoraConfig withBaseModelNameOrPath(String p) {
        return new LoraConfig(r, loraAlpha, loraDropout, targetModules, bias, fanInFanOut, useRslora, modulesToSave, taskType, p, inferenceMode);
    }

    public LoraConfig withInferenceMode(boolean on) {
        return new LoraConfig(r, loraAlpha, loraDropout, targetModules, bias, fanInFanOut, useRslora, modulesToSave, taskType, baseModelNameOrPath, on);
    }

    public String peftType() { return PEFT_TYPE; }

    /** lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA (PEFT's LoraLayer.update_layer). */
    public double scaling() { return useRslora ? loraAlpha / Math.sqrt(r) : loraAlpha / r; }

    /** PEFT's TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING for the model types jllm has ({@link jllm.models.ModelRegistry}). */
    public static TargetModules defaultTargetModules(String modelType) {
        List<String> t = modelType == null ? List.of()
                : jllm.models.ModelRegistry.byModelType(modelType).map(jllm.models.ModelRegistry.Family::loraTargets).orElse(List.of());
        if (!t.isEmpty()) return TargetModules.names(t);
        throw new IllegalArgumentException("Please specify `target_modules` in `peft_config` (no default for model type "
                + (modelType == null ? "unknown" : "'" + modelType + "'") + ")");
    }

    // ------------------------------------------------------------------ adapter_config.json

    private static final ObjectMapper JSON = jllm.io.StrictJson.files().enable(SerializationFeature.INDENT_OUTPUT);

    /**
     * PEFT's file: every LoraConfig field PEFT has had since 0.10 (so that old and new PEFT versions
     * construct a LoraConfig from it), keys sorted as PEFT's {@code json.dumps(sort_keys=True)}.
     */
    public String toJson() {
        Map<String, Object> m = new TreeMap<>();
        m.put("alpha_pattern", Map.of());
        m.put("auto_mapping", null);
        m.put("base_model_name_or_path", baseModelNameOrPath);
        m.put("bias", bias);
        m.put("fan_in_fan_out", fanInFanOut);
        m.put("inference_mode", inferenceMode);
        m.put("init_lora_weights", true);
        m.put("layer_replication", null);
        m.put("layers_pattern", null);
        m.put("layers_to_transform", null);
        m.put("loftq_config", Map.of());
        m.put("lora_alpha", loraAlpha == Math.rint(loraAlpha) && Math.abs(loraAlpha) < 1e15 ? (Object) (long) loraAlpha : (Object) loraAlpha);
        m.put("lora_dropout", loraDropout);
        m.put("megatron_config", null);
        m.put("megatron_core", "megatron.core");
        m.put("modules_to_save", modulesToSave);
        m.put("peft_type", PEFT_TYPE);
        m.put("r", r);
        m.put("rank_pattern", Map.of());
        m.put("revision", null);
        m.put("target_modules", targetModules == null ? null : targetModules.regex() != null ? targetModules.regex() : targetModules.names());
        m.put("task_type", taskType);
        m.put("use_dora", false);
        m.put("use_rslora", useRslora);
        try {
            return JSON.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Parses adapter_config.json text; source names the file in error messages. */
    public static LoraConfig fromJson(String json, String source) {
        JsonNode n;
        try {
            n = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(source + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (n == null || !n.isObject()) throw new IllegalArgumentException(source + ": expected a JSON object");
        String peftType = text(n, "peft_type", source);
        if (peftType != null && !peftType.equals(PEFT_TYPE)) {
            throw new IllegalArgumentException(source + ": peft_type is " + peftType + ", only LORA adapters are supported");
        }
        List<String> unsupported = new ArrayList<>(), unknown = new ArrayList<>();
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (UNSUPPORTED.contains(f)) {
                if (isSet(n.get(f))) unsupported.add(f + "=" + n.get(f));
            } else if (!IMPLEMENTED.contains(f) && !NO_EFFECT_ON_LOAD.contains(f)) {
                unknown.add(f);
            }
        }
        if (!unsupported.isEmpty()) {
            throw new IllegalArgumentException(source + ": " + String.join(", ", unsupported)
                    + (unsupported.size() == 1 ? " is" : " are") + " not supported by jllm's LoRA (the adapter would compute something else)");
        }
        if (!unknown.isEmpty()) {
            System.err.println("warning: " + source + ": " + unknown + " are not LoraConfig fields; ignored (as PEFT ignores them)");
        }
        try {
            int r = n.has("r") ? intField(n, "r", source) : 8;
            double alpha = n.has("lora_alpha") ? numField(n, "lora_alpha", source) : 8;
            double dropout = n.hasNonNull("lora_dropout") ? numField(n, "lora_dropout", source) : 0.0;
            TargetModules t = null;
            JsonNode tm = n.get("target_modules");
            if (tm != null && !tm.isNull()) {
                if (tm.isTextual()) t = TargetModules.regex(tm.asText());
                else if (tm.isArray()) t = TargetModules.names(strings((ArrayNode) tm, "target_modules", source));
                else throw new IllegalArgumentException(source + ": target_modules must be a list or a string, got " + tm);
            }
            List<String> mts = null;
            JsonNode ms = n.get("modules_to_save");
            if (ms != null && !ms.isNull()) {
                if (!ms.isArray()) throw new IllegalArgumentException(source + ": modules_to_save must be a list, got " + ms);
                mts = strings((ArrayNode) ms, "modules_to_save", source);
            }
            return new LoraConfig(r, alpha, dropout, t, text(n, "bias", source), jllm.io.ConfigFields.bool(n, "fan_in_fan_out", false),
                    jllm.io.ConfigFields.bool(n, "use_rslora", false), mts, text(n, "task_type", source), text(n, "base_model_name_or_path", source),
                    jllm.io.ConfigFields.bool(n, "inference_mode", false));
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith(source)) throw e;
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    public static LoraConfig fromJson(String json) { return fromJson(json, "adapter_config.json"); }

    /** The adapter_config.json fields jllm reads. */
    private static final Set<String> IMPLEMENTED = Set.of("peft_type", "task_type", "r", "lora_alpha", "lora_dropout",
            "target_modules", "bias", "fan_in_fan_out", "use_rslora", "modules_to_save", "inference_mode");

    /**
     * PEFT fields that do not change what a saved adapter computes: how the weights were
     * initialised (LoftQ, EVA, CorDA, LoRA-GA, PiSSA via init_lora_weights), where it came from,
     * and settings only for layers jllm has not (Megatron, QALoRA's group size without QALoRA).
     */
    private static final Set<String> NO_EFFECT_ON_LOAD = Set.of("init_lora_weights", "loftq_config", "eva_config",
            "corda_config", "lora_ga_config", "megatron_config", "megatron_core", "runtime_config", "ensure_weight_tying",
            "layers_pattern", "qalora_group_size", "auto_mapping", "peft_version", "revision", "base_model_name_or_path");

    /** PEFT options that change the adapter's outputs when set, and that jllm does not implement. */
    private static final Set<String> UNSUPPORTED = Set.of("use_dora", "lora_bias", "use_qalora", "use_bdlora",
            "rank_pattern", "alpha_pattern", "layers_to_transform", "layer_replication", "exclude_modules",
            "target_parameters", "trainable_token_indices", "alora_invocation_tokens", "velora_config",
            "monteclora_config", "arrow_config", "kasa_config");

    /** Set = anything but null, false, 0, "" and an empty list or object (PEFT's defaults). */
    private static boolean isSet(JsonNode v) {
        if (v == null || v.isNull() || v.isMissingNode()) return false;
        if (v.isBoolean()) return v.asBoolean();
        if (v.isNumber()) return v.asDouble() != 0;
        if (v.isTextual()) return !v.asText().isEmpty();
        return !v.isEmpty();
    }

    private static String text(JsonNode n, String f, String source) {
        JsonNode v = n.get(f);
        if (v == null || v.isNull()) return null;
        if (!v.isTextual()) throw new IllegalArgumentException(source + ": " + f + " must be a string, got " + v);
        return v.asText();
    }

    private static int intField(JsonNode n, String f, String source) {
        JsonNode v = n.get(f);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber()) throw new IllegalArgumentException(source + ": " + f + " must be an integer, got " + v);
        return v.asInt();
    }

    private static double numField(JsonNode n, String f, String source) {
        JsonNode v = n.get(f);
        if (v == null || !v.isNumber()) throw new IllegalArgumentException(source + ": " + f + " must be a number, got " + v);
        return v.asDouble();
    }

    private static List<String> strings(ArrayNode a, String f, String source) {
        List<String> out = new ArrayList<>();
        for (Iterator<JsonNode> it = a.elements(); it.hasNext(); ) {
            JsonNode e = it.next();
            if (!e.isTextual()) throw new IllegalArgumentException(source + ": " + f + " must hold strings, got " + e);
            out.add(e.asText());
        }
        return out;
    }

    /** Writes adapter_config.json atomically (temp file + rename). */
    public void save(Path file) {
        try {
            Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
            Files.writeString(tmp, toJson());
            Files.move(tmp, file, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file, e);
        }
    }

    public static LoraConfig load(Path file) {
        String s;
        try {
            s = jllm.io.TextFiles.readUtf8(file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read adapter config " + file, e);
        }
        return fromJson(s, file.toString());
    }
}
