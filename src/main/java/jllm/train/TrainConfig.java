package jllm.train;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.lang.reflect.RecordComponent;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;

/**
 * The settings of one training run, named as nanoGPT's {@code train.py} globals (Java casing here,
 * snake_case in JSON and on the command line: {@code batch_size=32}). Defaults are nanoGPT's,
 * which train GPT-2 124M on OpenWebText; a real config overrides most of them.
 *
 * <p>{@code model} is a free-form section that the model factory interprets (n_layer, n_embd,
 * dropout, ...); the trainer never reads it, it only stores it in checkpoints.
 *
 * <p>Not carried over from nanoGPT: wandb, DDP backend, device, dtype and compile settings.
 * Added: {@code ddp_timeout}, the deadline in seconds of every collective of a data-parallel run, and
 * {@code zero_stage}: 0 (the default) replicates the optimizer state on every rank, 1 shards it
 * across the ranks ({@link jllm.distributed.ZeroRedundancyOptimizer}, ZeRO stage 1).
 * {@code initFrom} is "scratch" or "resume" (nanoGPT's "gpt2*" is a model-factory concern).
 */
public record TrainConfig(
        // I/O
        @JsonProperty("out_dir") String outDir,
        @JsonProperty("eval_interval") int evalInterval,
        @JsonProperty("log_interval") int logInterval,
        @JsonProperty("eval_iters") int evalIters,
        @JsonProperty("eval_only") boolean evalOnly,
        @JsonProperty("always_save_checkpoint") boolean alwaysSaveCheckpoint,
        @JsonProperty("init_from") String initFrom,
        // data
        @JsonProperty("dataset") String dataset,
        @JsonProperty("gradient_accumulation_steps") int gradientAccumulationSteps,
        @JsonProperty("batch_size") int batchSize,
        @JsonProperty("block_size") int blockSize,
        // adamw
        @JsonProperty("learning_rate") double learningRate,
        @JsonProperty("max_iters") int maxIters,
        @JsonProperty("weight_decay") double weightDecay,
        @JsonProperty("beta1") double beta1,
        @JsonProperty("beta2") double beta2,
        @JsonProperty("grad_clip") double gradClip,
        // learning rate schedule
        @JsonProperty("decay_lr") boolean decayLr,
        @JsonProperty("warmup_iters") int warmupIters,
        @JsonProperty("lr_decay_iters") int lrDecayIters,
        @JsonProperty("min_lr") double minLr,
        // system
        @JsonProperty("seed") long seed,
        @JsonProperty("ddp_timeout") double ddpTimeout,
        @JsonProperty("zero_stage") int zeroStage,
        // model section, interpreted by the model factory
        @JsonProperty("model") Map<String, Object> model) {

    public static final String SCRATCH = "scratch";
    public static final String RESUME = "resume";
    /** Prefix of override keys that go into the model section: {@code model.n_layer=4}. */
    public static final String MODEL_PREFIX = "model.";

    private static final ObjectMapper JSON = jllm.io.StrictJson.files().enable(SerializationFeature.INDENT_OUTPUT);
    /** JSON name -> record component, in declaration order. */
    private static final Map<String, RecordComponent> KEYS = keys();

    public TrainConfig {
        require(outDir != null && !outDir.isBlank(), "out_dir", "a non-empty path", outDir);
        require(evalInterval >= 1, "eval_interval", "an integer >= 1", evalInterval);
        require(logInterval >= 1, "log_interval", "an integer >= 1", logInterval);
        require(evalIters >= 1, "eval_iters", "an integer >= 1", evalIters);
        require(SCRATCH.equals(initFrom) || RESUME.equals(initFrom), "init_from", "\"scratch\" or \"resume\"", initFrom);
        require(dataset != null, "dataset", "a string", dataset);
        require(gradientAccumulationSteps >= 1, "gradient_accumulation_steps", "an integer >= 1", gradientAccumulationSteps);
        require(batchSize >= 1, "batch_size", "an integer >= 1", batchSize);
        require(blockSize >= 1, "block_size", "an integer >= 1", blockSize);
        require(Double.isFinite(learningRate) && learningRate >= 0, "learning_rate", "a finite number >= 0", learningRate);
        require(maxIters >= 0, "max_iters", "an integer >= 0", maxIters);
        require(Double.isFinite(weightDecay) && weightDecay >= 0, "weight_decay", "a finite number >= 0", weightDecay);
        require(beta1 >= 0 && beta1 < 1, "beta1", "a number in [0, 1)", beta1);
        require(beta2 >= 0 && beta2 < 1, "beta2", "a number in [0, 1)", beta2);
        require(Double.isFinite(gradClip) && gradClip >= 0, "grad_clip", "a finite number >= 0 (0 disables clipping)", gradClip);
        require(warmupIters >= 0, "warmup_iters", "an integer >= 0", warmupIters);
        require(lrDecayIters >= 0, "lr_decay_iters", "an integer >= 0", lrDecayIters);
        require(Double.isFinite(minLr) && minLr >= 0, "min_lr", "a finite number >= 0", minLr);
        require(Double.isFinite(ddpTimeout) && ddpTimeout > 0, "ddp_timeout", "a number of seconds > 0", ddpTimeout);
        require(zeroStage == 0 || zeroStage == 1, "zero_stage", "0 (off) or 1 (ZeRO-1: the optimizer state sharded across the ranks)",
                zeroStage);
        if (decayLr && lrDecayIters < warmupIters) {
            throw new IllegalArgumentException("config: lr_decay_iters (" + lrDecayIters + ") must be >= warmup_iters ("
                    + warmupIters + ") when decay_lr is true");
        }
        model = model == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(model));
    }

    private static void require(boolean ok, String key, String expected, Object got) {
        if (!ok) throw new IllegalArgumentException("config key '" + key + "' must be " + expected + ", got " + got);
    }

    /** nanoGPT's defaults (GPT-2 124M on OpenWebText) with an empty model section. */
    public static TrainConfig defaults() {
        return new TrainConfig("out", 2000, 1, 200, false, true, SCRATCH,
                "openwebtext", 5 * 8, 12, 1024,
                6e-4, 600000, 1e-1, 0.9, 0.95, 1.0,
                true, 2000, 600000, 6e-5,
                1337, DEFAULT_DDP_TIMEOUT, 0, Map.of());
    }

    /** Seconds a collective may take before the run stops (a rank died or hangs); see {@link jllm.distributed.ProcessGroup}. */
    public static final double DEFAULT_DDP_TIMEOUT = 300;

    /** {@code ddp_timeout} as a duration. */
    public java.time.Duration ddpTimeoutDuration() {
        return java.time.Duration.ofMillis(Math.max(1, Math.round(ddpTimeout * 1000)));
    }

    /** Tokens consumed by one iteration: gradient_accumulation_steps * batch_size * block_size. */
    public long tokensPerIter() {
        return (long) gradientAccumulationSteps * batchSize * blockSize;
    }

    /**
     * One rank's part of an iteration when {@code world} ranks train data-parallel: the config
     * describes the world's iteration (gradient_accumulation_steps micro-batches of batch_size
     * sequences). As nanoGPT does, the micro-steps are divided among the ranks; what the micro-steps
     * cannot absorb divides the batch (so a gradient_accumulation_steps=1 recipe runs on 2 ranks with
     * half the batch each, the same global batch). {@code microSteps * batchSize * world} is always
     * {@code gradient_accumulation_steps * batch_size}.
     *
     * @throws IllegalArgumentException when the iteration's sequences cannot be split evenly
     */
    public Share share(int world) {
        if (world < 1) throw new IllegalArgumentException("world size must be >= 1, got " + world);
        int g = gcd(gradientAccumulationSteps, world), rest = world / g;
        if (batchSize % rest != 0) {
            throw new IllegalArgumentException("gradient_accumulation_steps (" + gradientAccumulationSteps + ") x batch_size (" + batchSize
                    + ") cannot be split evenly across " + world + " ranks: make gradient_accumulation_steps a multiple of " + world
                    + ", or batch_size a multiple of " + rest);
        }
        return new Share(gradientAccumulationSteps / g, batchSize / rest);
    }

    /** What one rank runs per iteration: {@code microSteps} micro-batches of {@code batchSize} sequences. */
    public record Share(int microSteps, int batchSize) {}

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** This config with another model section (the trainer never reads it; checkpoints store it). */
    public TrainConfig withModel(Map<String, Object> model) {
        return new TrainConfig(outDir, evalInterval, logInterval, evalIters, evalOnly, alwaysSaveCheckpoint, initFrom, dataset,
                gradientAccumulationSteps, batchSize, blockSize, learningRate, maxIters, weightDecay, beta1, beta2, gradClip, decayLr,
                warmupIters, lrDecayIters, minLr, seed, ddpTimeout, zeroStage, model);
    }

    /**
     * This config with the given keys set (JSON names, values as Jackson would read them from a file:
     * strings, numbers, booleans), type-checked like a config file.
     */
    public TrainConfig with(Map<String, ?> values) {
        return fromJson(JSON.valueToTree(values), this);
    }

    /** The JSON names of all keys, in declaration order ({@code model} is the model section). */
    public static List<String> keyNames() {
        return List.copyOf(KEYS.keySet());
    }

    // ------------------------------------------------------------------ JSON

    /**
     * Reads a JSON object of config keys; keys it lacks keep their {@link #defaults()}. Unknown
     * keys and values of the wrong type are errors naming the file and the key.
     */
    public static TrainConfig load(Path json) throws IOException {
        return load(json, defaults());
    }

    /**
     * Applies the keys of a JSON config file on top of {@code base} (as {@link #fromJson}); errors
     * name the file.
     */
    public static TrainConfig load(Path json, TrainConfig base) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(json.toFile());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(json + ": not valid JSON: " + jllm.io.JsonErrors.describe(e), e);
        } catch (java.io.FileNotFoundException e) {
            throw new NoSuchFileException(json.toString(), null, "config file not found");
        }
        try {
            return fromJson(root, base);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(json + ": " + e.getMessage(), e);
        }
    }

    /** Parses a JSON text (see {@link #load}). */
    public static TrainConfig parse(String json) {
        try {
            return fromJson(JSON.readTree(json), defaults());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("config is not valid JSON: " + jllm.io.JsonErrors.describe(e), e);
        }
    }

    /**
     * Applies the keys of a JSON object on top of {@code base}; the model section is merged key by key.
     * Keys starting with an underscore are comments and ignored.
     */
    public static TrainConfig fromJson(JsonNode root, TrainConfig base) {
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException("config must be a JSON object, got " + (root == null ? "nothing" : root.getNodeType()));
        }
        ObjectNode tree = base.toTree();
        for (Iterator<Map.Entry<String, JsonNode>> it = root.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getKey().startsWith("_")) continue; // "_about" and other underscore keys are comments
            set(tree, e.getKey(), e.getValue());
        }
        return fromTree(tree);
    }

    /** The config as a JSON object (snake_case keys). */
    public ObjectNode toTree() {
        return JSON.valueToTree(this);
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot encode config: " + e.getMessage(), e);
        }
    }

    /** Writes {@link #toJson()} to a file (not atomically; checkpoints write into a fresh directory). */
    public void save(Path file) throws IOException {
        Files.writeString(file, toJson() + "\n");
    }

    private static TrainConfig fromTree(ObjectNode tree) {
        try {
            return JSON.treeToValue(tree, TrainConfig.class);
        } catch (JsonProcessingException e) {
            Throwable c = e.getCause();
            if (c instanceof IllegalArgumentException iae) throw iae; // a validation error from the constructor
            throw new IllegalArgumentException("invalid config: " + e.getOriginalMessage(), e);
        }
    }

    // ------------------------------------------------------------------ overrides

    /**
     * This config with {@code key=value} overrides applied in order, as nanoGPT's configurator
     * takes {@code --key=value}: keys are snake_case (camelCase and a leading {@code --} are
     * accepted too); {@code model.<name>=value} sets an entry of the model section (numbers,
     * true/false and null are parsed, anything else is a string). Each value must parse as the
     * key's type, e.g. {@code batch_size=abc} is an error naming the key.
     */
    public TrainConfig withOverrides(List<String> overrides) {
        ObjectNode tree = toTree();
        for (String o : overrides) {
            if (o == null) throw new IllegalArgumentException("override is null");
            String s = o.startsWith("--") ? o.substring(2) : o;
            int eq = s.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("override '" + o + "' must look like key=value");
            String key = s.substring(0, eq).trim();
            String value = s.substring(eq + 1);
            if (key.startsWith(MODEL_PREFIX)) {
                String name = key.substring(MODEL_PREFIX.length());
                if (name.isEmpty()) throw new IllegalArgumentException("override '" + o + "': model key name is empty");
                ObjectNode model = tree.get("model") instanceof ObjectNode m ? m : tree.putObject("model");
                model.set(name, scalar(value));
                continue;
            }
            String name = canonical(key);
            RecordComponent c = KEYS.get(name);
            if (c == null || c.getType() == Map.class) throw unknownKey(key);
            set(tree, name, parseValue(name, c.getType(), value));
        }
        return fromTree(tree);
    }

    /** {@link #withOverrides(List)} with a single override. */
    public TrainConfig with(String key, Object value) {
        return withOverrides(List.of(key + "=" + value));
    }

    private static String canonical(String key) {
        if (KEYS.containsKey(key)) return key;
        String snake = key.replaceAll("([a-z0-9])([A-Z])", "$1_$2").toLowerCase(Locale.ROOT);
        return KEYS.containsKey(snake) ? snake : key;
    }

    private static JsonNode parseValue(String key, Class<?> type, String raw) {
        String v = raw.trim();
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (type == String.class) {
            // a quoted value loses its quotes, as Python's literal_eval would
            if (v.length() >= 2 && (v.startsWith("\"") && v.endsWith("\"") || v.startsWith("'") && v.endsWith("'"))) {
                v = v.substring(1, v.length() - 1);
            }
            return f.textNode(v);
        }
        if (type == boolean.class) {
            if (v.equalsIgnoreCase("true")) return f.booleanNode(true);
            if (v.equalsIgnoreCase("false")) return f.booleanNode(false);
            throw badValue(key, "true or false", raw);
        }
        if (type == int.class || type == long.class) {
            try {
                long l = parseIntegral(v);
                if (type == int.class && (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE)) throw badValue(key, "an integer that fits in 32 bits", raw);
                return f.numberNode(l);
            } catch (NumberFormatException e) {
                throw badValue(key, "an integer", raw);
            }
        }
        if (type == double.class) {
            try {
                double d = Double.parseDouble(v);
                if (!Double.isFinite(d) || v.isEmpty() || Character.isLetter(v.charAt(v.length() - 1))) throw new NumberFormatException();
                return f.numberNode(d);
            } catch (NumberFormatException e) {
                throw badValue(key, "a finite number", raw);
            }
        }
        throw new IllegalStateException("unsupported config type " + type + " for '" + key + "'");
    }

    /** Integers, also written with underscores or as an integral float such as 5e3. */
    private static long parseIntegral(String v) {
        String s = v.replace("_", "");
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            if (s.isEmpty() || Character.isLetter(s.charAt(s.length() - 1))) throw e; // no "1f", "NaN", "Infinity"
            double d = Double.parseDouble(s);
            if (d != Math.rint(d) || Math.abs(d) > 9.0e15) throw new NumberFormatException(v);
            return (long) d;
        }
    }

    private static JsonNode scalar(String raw) {
        String v = raw.trim();
        JsonNodeFactory f = JsonNodeFactory.instance;
        if (v.equalsIgnoreCase("true")) return f.booleanNode(true);
        if (v.equalsIgnoreCase("false")) return f.booleanNode(false);
        if (v.equals("null") || v.equals("None")) return f.nullNode();
        try {
            long l = Long.parseLong(v);
            // ints where they fit, as Jackson reads them from a file, so configs compare equal after a round trip
            return l == (int) l ? f.numberNode((int) l) : f.numberNode(l);
        } catch (NumberFormatException ignored) {
            // not an integer
        }
        try {
            double d = Double.parseDouble(v);
            if (Double.isFinite(d) && !v.isEmpty() && !Character.isLetter(v.charAt(v.length() - 1))) return f.numberNode(d);
        } catch (NumberFormatException ignored) {
            // not a number
        }
        if (v.length() >= 2 && (v.startsWith("\"") && v.endsWith("\"") || v.startsWith("'") && v.endsWith("'"))) {
            v = v.substring(1, v.length() - 1);
        }
        return f.textNode(v);
    }

    /** Type-checks one JSON value against its key and stores it (the model section is merged). */
    private static void set(ObjectNode tree, String key, JsonNode value) {
        RecordComponent c = KEYS.get(key);
        if (c == null) throw unknownKey(key);
        Class<?> t = c.getType();
        if (t == Map.class) {
            if (value.isNull()) return;
            if (!value.isObject()) throw badValue(key, "a JSON object", value.toString());
            ObjectNode model = tree.get("model") instanceof ObjectNode m ? m : tree.putObject("model");
            JsonNode newType = value.get("type");
            if (newType != null && !newType.equals(model.get("type"))) model.removeAll(); // another kind of model: start afresh
            model.setAll((ObjectNode) value);
            return;
        }
        boolean ok;
        if (t == String.class) ok = value.isTextual();
        else if (t == boolean.class) ok = value.isBoolean();
        else if (t == double.class) ok = value.isNumber();
        else if (t == int.class || t == long.class) {
            ok = value.isIntegralNumber() && (t == long.class ? value.canConvertToLong() : value.canConvertToInt())
                    || value.isFloatingPointNumber() && value.asDouble() == Math.rint(value.asDouble())
                    && Math.abs(value.asDouble()) <= (t == int.class ? Integer.MAX_VALUE : 9.0e15);
            if (ok && value.isFloatingPointNumber()) value = JsonNodeFactory.instance.numberNode((long) value.asDouble());
        } else throw new IllegalStateException("unsupported config type " + t + " for '" + key + "'");
        if (!ok) {
            String expected = t == String.class ? "a string" : t == boolean.class ? "true or false"
                    : t == double.class ? "a number" : t == int.class ? "an integer that fits in 32 bits" : "an integer";
            throw badValue(key, expected, value.toString());
        }
        tree.set(key, value);
    }

    private static IllegalArgumentException badValue(String key, String expected, String got) {
        return new IllegalArgumentException("config key '" + key + "' expects " + expected + ", got '" + got + "'");
    }

    private static IllegalArgumentException unknownKey(String key) {
        List<String> valid = new ArrayList<>();
        for (String k : KEYS.keySet()) valid.add(KEYS.get(k).getType() == Map.class ? MODEL_PREFIX + "<name>" : k);
        String near = nearest(key);
        return new IllegalArgumentException("unknown config key '" + key + "'" + (near != null ? " (did you mean '" + near + "'?)" : "")
                + "; valid keys: " + String.join(", ", valid));
    }

    private static String nearest(String key) {
        String best = null;
        int bestD = Integer.MAX_VALUE;
        String k = canonical(key);
        for (String cand : KEYS.keySet()) {
            int d = distance(k, cand);
            if (d < bestD) {
                bestD = d;
                best = cand;
            }
        }
        return bestD <= Math.max(2, k.length() / 4) ? best : null;
    }

    private static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1], cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) prev[j] = j;
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int sub = prev[j - 1] + (a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1);
                cur[j] = Math.min(sub, Math.min(prev[j] + 1, cur[j - 1] + 1));
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    private static Map<String, RecordComponent> keys() {
        Map<String, RecordComponent> m = new LinkedHashMap<>();
        for (RecordComponent c : TrainConfig.class.getRecordComponents()) {
            JsonProperty p = c.getAccessor().getAnnotation(JsonProperty.class);
            if (p == null) throw new IllegalStateException("record component " + c.getName() + " lacks @JsonProperty");
            m.put(p.value(), c);
        }
        return Collections.unmodifiableMap(m);
    }
}
