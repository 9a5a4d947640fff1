package jllm.models.gpt;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Collections;
import java.util.Set;

/**
 * Hyper-parameters of {@link GPT}, seed 002's {@code GPTConfig} plus nanoGPT's {@code dropout} and
 * {@code bias}. JSON uses the Python field names ({@code block_size}, {@code n_embd}, ...), so a
 * checkpoint's config reads like nanoGPT's.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record GPTConfig(
        @JsonProperty("block_size") int blockSize,
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("n_layer") int nLayer,
        @JsonProperty("n_head") int nHead,
        @JsonProperty("n_embd") int nEmbd,
        @JsonProperty("dropout") double dropout,
        @JsonProperty("bias") boolean bias) implements GptSizes {

    /** Defaults of seed 002: GPT-2 small (124M). */
    public static final GPTConfig DEFAULT = new GPTConfig(1024, 50257, 12, 12, 768, 0.0, true);

    private static final Map<String, GPTConfig> PRESETS = new LinkedHashMap<>();

    static {
        // n_layer, n_head and n_embd are determined from model_type; vocab and block are always 50257 and 1024
        PRESETS.put("gpt2", DEFAULT);
        PRESETS.put("gpt2-medium", new GPTConfig(1024, 50257, 24, 16, 1024, 0.0, true));
        PRESETS.put("gpt2-large", new GPTConfig(1024, 50257, 36, 20, 1280, 0.0, true));
        PRESETS.put("gpt2-xl", new GPTConfig(1024, 50257, 48, 25, 1600, 0.0, true));
    }

    public GPTConfig {
        if (blockSize <= 0) throw new IllegalArgumentException("GPTConfig: block_size must be positive, got " + blockSize);
        if (vocabSize <= 0) throw new IllegalArgumentException("GPTConfig: vocab_size must be positive, got " + vocabSize);
        if (nLayer < 0) throw new IllegalArgumentException("GPTConfig: n_layer must be non-negative, got " + nLayer);
        if (nHead <= 0) throw new IllegalArgumentException("GPTConfig: n_head must be positive, got " + nHead);
        if (nEmbd <= 0 || nEmbd % nHead != 0) {
            throw new IllegalArgumentException("GPTConfig: n_embd (" + nEmbd + ") must be a positive multiple of n_head (" + nHead + ")");
        }
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("GPTConfig: dropout must be in [0, 1), got " + dropout);
    }

    /** The seed's five fields; dropout 0, bias true. */
    public GPTConfig(int blockSize, int vocabSize, int nLayer, int nHead, int nEmbd) {
        this(blockSize, vocabSize, nLayer, nHead, nEmbd, 0.0, true);
    }

    /** One of {@link #presetNames()}: gpt2 (124M), gpt2-medium (350M), gpt2-large (774M), gpt2-xl (1558M). */
    public static GPTConfig of(String name) {
        GPTConfig c = PRESETS.get(name);
        if (c == null) {
            throw new IllegalArgumentException("unknown GPT-2 model type '" + name + "'; valid names: " + String.join(", ", PRESETS.keySet()));
        }
        return c;
    }

    public static Set<String> presetNames() { return Collections.unmodifiableSet(PRESETS.keySet()); }

    public static GPTConfig gpt2() { return of("gpt2"); }


    public GPTConfig withDropout(double p) { return new GPTConfig(blockSize, vocabSize, nLayer, nHead, nEmbd, p, bias); }

    public GPTConfig withBlockSize(int n) { return new GPTConfig(n, vocabSize, nLayer, nHead, nEmbd, dropout, bias); }

    public GPTConfig withVocabSize(int n) { return new GPTConfig(blockSize, n, nLayer, nHead, nEmbd, dropout, bias); }

    // ------------------------------------------------------------------ parameter counts without building a model

    /**
     * Parameters of a GPT with this config, the tied wte/lm_head weight counted once (as
     * {@code sum(p.numel() for p in model.parameters())}); nonEmbedding subtracts the position
     * embedding, as nanoGPT's {@code get_num_params} (the token embedding stays: it is the lm_head).
     */
    public long numParameters(boolean nonEmbedding) {
        long c = nEmbd, b = bias ? 1 : 0;
        long ln = c + b * c;
        long attn = c * 3 * c + b * 3 * c + c * c + b * c;
        long mlp = c * 4 * c + b * 4 * c + 4 * c * c + b * c;
        long block = 2 * ln + attn + mlp;
        long n = (long) vocabSize * c + (long) blockSize * c + nLayer * block + ln;
        return nonEmbedding ? n - (long) blockSize * c : n;
    }

    // ------------------------------------------------------------------ JSON

    private static final ObjectMapper JSON = jllm.io.StrictJson.MAPPER;

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Jackson's entry: absent fields take seed 002's defaults (dropout 0, bias true). */
    @JsonCreator
    static GPTConfig fromJsonFields(@JsonProperty("block_size") Integer blockSize, @JsonProperty("vocab_size") Integer vocabSize,
                                    @JsonProperty("n_layer") Integer nLayer, @JsonProperty("n_head") Integer nHead,
                                    @JsonProperty("n_embd") Integer nEmbd, @JsonProperty("dropout") Double dropout,
                                    @JsonProperty("bias") Boolean bias) {
        GPTConfig d = DEFAULT;
        return new GPTConfig(blockSize != null ? blockSize : d.blockSize, vocabSize != null ? vocabSize : d.vocabSize,
                nLayer != null ? nLayer : d.nLayer, nHead != null ? nHead : d.nHead, nEmbd != null ? nEmbd : d.nEmbd,
                dropout != null ? dropout : d.dropout, bias != null ? bias : d.bias);
    }

    public static GPTConfig fromJson(String json) {
        try {
            return JSON.readValue(json, GPTConfig.class);
        } catch (JsonProcessingException e) {
            if (e.getCause() instanceof IllegalArgumentException iae) throw iae;
            throw new IllegalArgumentException("invalid GPTConfig JSON: " + e.getOriginalMessage(), e);
        }
    }

    public void save(Path file) {
        try {
            Files.writeString(file, toJson());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write GPT config " + file, e);
        }
    }

    public static GPTConfig load(Path file) {
        try {
            return fromJson(jllm.io.TextFiles.readUtf8(file));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read GPT config " + file, e);
        }
    }
}
