package jllm.models;

import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.models.gpt.CharGPT;
import jllm.models.gpt.CharGPTConfig;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.nn.Module;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Builds a model from the {@code model} section of a training config, e.g.
 * {@code {"type": "gpt", "n_layer": 4, "n_head": 4, "n_embd": 128, "dropout": 0.0, "bias": false}}.
 * Types: {@code gpt} (seed 002 / nanoGPT; {@code "preset": "gpt2"} starts from a GPT-2 size) and
 * {@code char_gpt} (seed 003). The vocabulary size comes from the tokenizer and the block size from
 * the training config (a gpt section may set a larger {@code block_size} for the model itself).
 */
public final class ModelFactory {
    private ModelFactory() {}

    public static final String GPT_TYPE = "gpt";
    public static final String CHAR_GPT_TYPE = "char_gpt";

    private static final ObjectMapper JSON = jllm.io.StrictJson.MAPPER; // "n_embd": "128" is an error, not 128
    private static final Set<String> GPT_KEYS = Set.of("type", "preset", "n_layer", "n_head", "n_embd", "dropout", "bias", "block_size");
    private static final Set<String> CHAR_KEYS = Set.of("type", "n_layer", "n_head", "n_embd", "dropout");

    /** A model with the given section, vocabulary and block size; the section's type picks the family ({@link ModelRegistry}). */
    public static Module build(Map<String, Object> section, int vocabSize, int blockSize) {
        Map<String, Object> spec = section == null ? Map.of() : section;
        String type = String.valueOf(spec.getOrDefault("type", GPT_TYPE));
        ModelRegistry.Family f = ModelRegistry.bySectionType(type).orElseThrow(() -> new IllegalArgumentException("unknown model type '"
                + type + "' in the model section (known: " + String.join(", ", ModelRegistry.sectionTypes()) + ")"));
        return f.section().build(spec, vocabSize, blockSize);
    }

    /**
     * What a model built from the section would need in memory, without building it (the launcher
     * sizes the heap from it); the section is checked as {@link #build} checks it.
     */
    public static MemoryFootprint footprint(Map<String, Object> section, int vocabSize, int blockSize) {
        Map<String, Object> spec = section == null ? Map.of() : section;
        String type = String.valueOf(spec.getOrDefault("type", GPT_TYPE));
        ModelRegistry.Family f = ModelRegistry.bySectionType(type).orElseThrow(() -> new IllegalArgumentException("unknown model type '"
                + type + "' in the model section (known: " + String.join(", ", ModelRegistry.sectionTypes()) + ")"));
        return f.footprint().of(spec, vocabSize, blockSize);
    }

    /** {@code gpt}: seed 002's GPT; {@code "preset"} starts from a GPT-2 size, the other keys override it. */
    static Module gpt(Map<String, Object> spec, int vocabSize, int blockSize) {
        GPTConfig cfg = gptConfig(spec, vocabSize, blockSize);
        MemoryBudget.requireFits(cfg.numParameters(false), "the model section (type " + GPT_TYPE + ")");
        return new GPT(cfg);
    }

    static MemoryFootprint gptFootprint(Map<String, Object> spec, int vocabSize, int blockSize) {
        return MemoryFootprint.of(gptConfig(spec, vocabSize, blockSize));
    }

    private static GPTConfig gptConfig(Map<String, Object> spec, int vocabSize, int blockSize) {
        checkKeys(spec, GPT_KEYS, GPT_TYPE);
        GPTConfig base = spec.containsKey("preset") ? GPTConfig.of(String.valueOf(spec.get("preset"))) : GPTConfig.DEFAULT;
        Map<String, Object> fields = new LinkedHashMap<>(JSON.convertValue(base, Map.class));
        fields.put("block_size", blockSize);
        spec.forEach((k, v) -> { if (!k.equals("type") && !k.equals("preset")) fields.put(k, v); });
        fields.put("vocab_size", vocabSize);
        return convert(fields, GPTConfig.class, GPT_TYPE);
    }

    /** {@code char_gpt}: seed 003's character-level model; the keys override its defaults. */
    static Module charGpt(Map<String, Object> spec, int vocabSize, int blockSize) {
        return new CharGPT(charGptConfig(spec, vocabSize, blockSize));
    }

    static MemoryFootprint charGptFootprint(Map<String, Object> spec, int vocabSize, int blockSize) {
        return MemoryFootprint.of(charGptConfig(spec, vocabSize, blockSize));
    }

    private static CharGPTConfig charGptConfig(Map<String, Object> spec, int vocabSize, int blockSize) {
        checkKeys(spec, CHAR_KEYS, CHAR_GPT_TYPE);
        Map<String, Object> fields = new LinkedHashMap<>(JSON.convertValue(CharGPTConfig.SEED003, Map.class));
        spec.forEach((k, v) -> { if (!k.equals("type")) fields.put(k, v); });
        fields.put("vocab_size", vocabSize);
        fields.put("block_size", blockSize);
        return convert(fields, CharGPTConfig.class, CHAR_GPT_TYPE);
    }

    private static void checkKeys(Map<String, Object> spec, Set<String> allowed, String type) {
        Set<String> unknown = new TreeSet<>(spec.keySet());
        unknown.removeAll(allowed);
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown key(s) " + unknown + " in the model section for type '" + type
                    + "'; valid keys: " + new TreeSet<>(allowed));
        }
    }

    private static <T> T convert(Map<String, Object> fields, Class<T> cls, String type) {
        try {
            return JSON.convertValue(fields, cls);
        } catch (IllegalArgumentException e) {
            // name the field Jackson stopped at, with its own words minus the source location
            for (Throwable c = e; c != null; c = c.getCause()) {
                if (c instanceof com.fasterxml.jackson.databind.JsonMappingException m && !m.getPath().isEmpty()) {
                    String field = m.getPath().get(m.getPath().size() - 1).getFieldName();
                    throw new IllegalArgumentException("invalid model section for type '" + type + "': " + field + ": " + m.getOriginalMessage(), e);
                }
            }
            Throwable c = e;
            while (c.getCause() != null) c = c.getCause();
            throw new IllegalArgumentException("invalid model section for type '" + type + "': " + c.getMessage(), e);
        }
    }
}
