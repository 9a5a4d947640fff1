package jllm.models.llama;

import com.fasterxml.jackson.databind.JsonNode;
import static jllm.io.ConfigFields.bool;
import static jllm.io.ConfigFields.integer;
import static jllm.io.ConfigFields.number;
import static jllm.io.ConfigFields.text;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Hyper-parameters of {@link LlamaForCausalLM}, transformers' {@code LlamaConfig} with its JSON
 * field names and defaults (vocab 32000, hidden 4096, ..., rms_norm_eps 1e-6, rope_theta 10000,
 * tie_word_embeddings false). num_key_value_heads defaults to num_attention_heads and head_dim to
 * hidden_size / num_attention_heads, as in transformers.
 *
 * @param ropeScaling null for plain RoPE
 * @param eosTokenIds one or more end-of-sequence ids (config.json holds an int or a list)
 */
public record LlamaConfig(
        int vocabSize,
        int hiddenSize,
        int intermediateSize,
        int numHiddenLayers,
        int numAttentionHeads,
        int numKeyValueHeads,
        int headDim,
        double rmsNormEps,
        double ropeTheta,
        RopeScaling ropeScaling,
        int maxPositionEmbeddings,
        boolean tieWordEmbeddings,
        boolean attentionBias,
        boolean mlpBias,
        double initializerRange,
        Integer bosTokenId,
        List<Integer> eosTokenIds) {

    /**
     * RoPE frequency scaling of modeling_rope_utils: {@code linear} (factor) or {@code llama3}
     * (factor, low_freq_factor, high_freq_factor, original_max_position_embeddings; unused fields 0).
     */
    public record RopeScaling(String ropeType, double factor, double lowFreqFactor, double highFreqFactor,
                              int originalMaxPositionEmbeddings) {
        public RopeScaling {
            switch (ropeType) {
                case "linear" -> {
                    if (!(factor >= 1)) throw new IllegalArgumentException("LlamaConfig: rope_scaling factor must be >= 1, got " + factor);
                }
                case "llama3" -> {
                    if (!(factor >= 1)) throw new IllegalArgumentException("LlamaConfig: rope_scaling factor must be >= 1, got " + factor);
                    if (!(highFreqFactor > lowFreqFactor)) {
                        throw new IllegalArgumentException("LlamaConfig: llama3 rope_scaling needs high_freq_factor (" + highFreqFactor
                                + ") > low_freq_factor (" + lowFreqFactor + ")");
                    }
                    if (originalMaxPositionEmbeddings <= 0) {
                        throw new IllegalArgumentException("LlamaConfig: llama3 rope_scaling needs a positive original_max_position_embeddings");
                    }
                }
                default -> throw new IllegalArgumentException("LlamaConfig: unsupported rope type '" + ropeType
                        + "' (supported: default, linear, llama3)");
            }
        }

        public static RopeScaling linear(double factor) { return new RopeScaling("linear", factor, 0, 0, 0); }

        public static RopeScaling llama3(double factor, double low, double high, int originalMax) {
            return new RopeScaling("llama3", factor, low, high, originalMax);
        }
    }

    public LlamaConfig {
        positive("vocab_size", vocabSize);
        positive("hidden_size", hiddenSize);
        positive("intermediate_size", intermediateSize);
        if (numHiddenLayers < 0) throw new IllegalArgumentException("LlamaConfig: num_hidden_layers must be >= 0, got " + numHiddenLayers);
        positive("num_attention_heads", numAttentionHeads);
        positive("num_key_value_heads", numKeyValueHeads);
        positive("head_dim", headDim);
        positive("max_position_embeddings", maxPositionEmbeddings);
        if (numAttentionHeads % numKeyValueHeads != 0) {
            throw new IllegalArgumentException("LlamaConfig: num_attention_heads (" + numAttentionHeads
                    + ") must be divisible by num_key_value_heads (" + numKeyValueHeads + ")");
        }
        if (headDim % 2 != 0) throw new IllegalArgumentException("LlamaConfig: head_dim must be even for rotary embeddings, got " + headDim);
        if (!(rmsNormEps > 0)) throw new IllegalArgumentException("LlamaConfig: rms_norm_eps must be positive, got " + rmsNormEps);
        if (!(ropeTheta > 0)) throw new IllegalArgumentException("LlamaConfig: rope_theta must be positive, got " + ropeTheta);
        eosTokenIds = eosTokenIds == null ? List.of() : List.copyOf(eosTokenIds);
    }

    private static void positive(String name, int v) {
        if (v <= 0) throw new IllegalArgumentException("LlamaConfig: " + name + " must be positive, got " + v);
    }

    /** A small config with transformers' defaults elsewhere (head_dim = hidden / heads, no rope scaling, untied, bos 1, eos 2). */
    public static LlamaConfig of(int vocabSize, int hiddenSize, int intermediateSize, int numHiddenLayers, int numAttentionHeads,
                                 int numKeyValueHeads, int maxPositionEmbeddings) {
        return new LlamaConfig(vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads,
                hiddenSize / numAttentionHeads, 1e-6, 10000.0, null, maxPositionEmbeddings, false, false, false, 0.02, 1, List.of(2));
    }

    public LlamaConfig withRope(double theta, RopeScaling scaling) {
        return new LlamaConfig(vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads, headDim,
                rmsNormEps, theta, scaling, maxPositionEmbeddings, tieWordEmbeddings, attentionBias, mlpBias, initializerRange,
                bosTokenId, eosTokenIds);
    }

    public LlamaConfig withTieWordEmbeddings(boolean tie) {
        return new LlamaConfig(vocabSize, hiddenSize, intermediateSize, numHiddenLayers, numAttentionHeads, numKeyValueHeads, headDim,
                rmsNormEps, ropeTheta, ropeScaling, maxPositionEmbeddings, tie, attentionBias, mlpBias, initializerRange,
                bosTokenId, eosTokenIds);
    }

    // ------------------------------------------------------------------------------- JSON

    /**
     * What a family built on the Llama decoder reads differently from config.json: its model_type
     * and architecture, and transformers' defaults where they differ from LlamaConfig's.
     *
     * @param kvHeadsDefault num_key_value_heads when absent; null: num_attention_heads
     * @param headDimDefault head_dim when absent; null: hidden_size / num_attention_heads
     * @param tieDefault     tie_word_embeddings when absent
     * @param actField       the config field naming the MLP's activation (Gemma reads hidden_activation)
     * @param act            the activation the family computes (transformers' name); the field must say it or be absent
     */
    public record Family(String modelType, String architecture, int maxPositionsDefault, Integer bosDefault, List<Integer> eosDefault,
                         Integer kvHeadsDefault, Integer headDimDefault, boolean tieDefault, String actField, String act) {
        /** A family with Llama's untied embeddings and SiLU MLP. */
        public Family(String modelType, String architecture, int maxPositionsDefault, Integer bosDefault, List<Integer> eosDefault,
                      Integer kvHeadsDefault, Integer headDimDefault) {
            this(modelType, architecture, maxPositionsDefault, bosDefault, eosDefault, kvHeadsDefault, headDimDefault, false, "hidden_act", "silu");
        }
    }

    public static final Family LLAMA = new Family("llama", "LlamaForCausalLM", 2048, 1, List.of(2), null, null);

    /** Reads a Llama config.json object; source (the file) is named in every error. */
    public static LlamaConfig fromJson(JsonNode n, Object source) { return fromJson(n, source, LLAMA); }

    /** Reads a config.json object of a Llama-style family with that family's defaults; source is named in every error. */
    public static LlamaConfig fromJson(JsonNode n, Object source, Family fam) {
        String where = source == null ? "config" : source.toString();
        try {
            if (n == null || !n.isObject()) throw new IllegalArgumentException("expected a JSON object");
            if (n.hasNonNull("model_type") && !n.get("model_type").asText().equals(fam.modelType())) {
                throw new IllegalArgumentException("model_type is '" + n.get("model_type").asText() + "', not '" + fam.modelType() + "'");
            }
            if (n.hasNonNull("architectures")) {
                List<String> arch = new ArrayList<>();
                n.get("architectures").forEach(a -> arch.add(a.asText()));
                if (!arch.contains(fam.architecture())) {
                    throw new IllegalArgumentException("unsupported architecture " + arch + " (jllm's " + fam.modelType() + " loads "
                            + fam.architecture() + ")");
                }
            }
            String act = text(n, fam.actField(), fam.act());
            if (!act.equals(fam.act())) {
                throw new IllegalArgumentException("unsupported " + fam.actField() + " '" + act + "' (" + fam.modelType() + " uses " + fam.act() + ")");
            }
            // the model's sizes must be given: transformers would build its 7B defaults, which is never what a file meant
            for (String key : List.of("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads")) {
                if (!n.hasNonNull(key)) throw new IllegalArgumentException("missing '" + key + "' (the model's sizes must be given)");
            }
            int hidden = integer(n, "hidden_size", 0);
            int heads = integer(n, "num_attention_heads", 0);
            int kv = integer(n, "num_key_value_heads", fam.kvHeadsDefault() == null ? heads : fam.kvHeadsDefault());
            int headDim = integer(n, "head_dim", fam.headDimDefault() != null ? fam.headDimDefault() : heads > 0 ? hidden / heads : 0);
            double theta = number(n, "rope_theta", 10000.0);
            RopeScaling rs = null;
            JsonNode rp = n.get("rope_parameters");
            JsonNode scaling = rp != null && rp.isObject() ? rp : n.get("rope_scaling");
            if (scaling != null && !scaling.isNull()) {
                if (!scaling.isObject()) throw new IllegalArgumentException("rope_scaling must be an object or null");
                if (scaling == rp) theta = number(rp, "rope_theta", theta);
                String type = text(scaling, "rope_type", text(scaling, "type", "default"));
                rs = switch (type) {
                    case "default" -> null;
                    case "linear" -> RopeScaling.linear(required(scaling, "factor", type));
                    case "llama3" -> RopeScaling.llama3(required(scaling, "factor", type), required(scaling, "low_freq_factor", type),
                            required(scaling, "high_freq_factor", type), (int) required(scaling, "original_max_position_embeddings", type));
                    default -> throw new IllegalArgumentException("unsupported rope type '" + type + "' (supported: default, linear, llama3)");
                };
            }
            Integer bos = n.hasNonNull("bos_token_id") ? Integer.valueOf(integer(n, "bos_token_id", 0)) : n.has("bos_token_id") ? null : fam.bosDefault();
            List<Integer> eos = jllm.io.ConfigFields.tokenIds(n, "eos_token_id", fam.eosDefault());
            return new LlamaConfig(integer(n, "vocab_size", 0), hidden, integer(n, "intermediate_size", 0),
                    integer(n, "num_hidden_layers", 0), heads, kv, headDim, number(n, "rms_norm_eps", 1e-6), theta, rs,
                    integer(n, "max_position_embeddings", fam.maxPositionsDefault()), bool(n, "tie_word_embeddings", fam.tieDefault()),
                    bool(n, "attention_bias", false), bool(n, "mlp_bias", false), number(n, "initializer_range", 0.02), bos, eos);
        } catch (IllegalArgumentException ex) {
            throw new IllegalArgumentException(where + ": " + stripPrefix(ex.getMessage()), ex);
        }
    }

    private static String stripPrefix(String m) {
        return m.startsWith("LlamaConfig: ") ? m.substring(13) : m;
    }

    /** The parameter count of LlamaForCausalLM with this config (lm_head counted once when tied). */
    public long numParameters() {
        long h = hiddenSize, q = (long) numAttentionHeads * headDim, kv = (long) numKeyValueHeads * headDim;
        long attn = h * q + 2 * h * kv + q * h + (attentionBias ? q + 2 * kv + h : 0);
        long mlp = 3 * h * intermediateSize + (mlpBias ? 2L * intermediateSize + h : 0);
        long layer = attn + mlp + 2 * h;
        return (long) vocabSize * h * (tieWordEmbeddings ? 1 : 2) + numHiddenLayers * layer + h;
    }

    private static double required(JsonNode n, String key, String type) {
        JsonNode v = n.get(key);
        if (v == null || !v.isNumber()) throw new IllegalArgumentException(type + " rope scaling needs a number '" + key + "'");
        return v.asDouble();
    }

    /** config.json as transformers' LlamaConfig writes it (weights saved as float32). */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.putArray("architectures").add("LlamaForCausalLM");
        o.put("attention_bias", attentionBias);
        o.put("attention_dropout", 0.0);
        if (bosTokenId == null) o.putNull("bos_token_id");
        else o.put("bos_token_id", bosTokenId);
        if (eosTokenIds.isEmpty()) o.putNull("eos_token_id");
        else if (eosTokenIds.size() == 1) o.put("eos_token_id", eosTokenIds.get(0));
        else {
            ArrayNode a = o.putArray("eos_token_id");
            eosTokenIds.forEach(a::add);
        }
        o.put("head_dim", headDim);
        o.put("hidden_act", "silu");
        o.put("hidden_size", hiddenSize);
        o.put("initializer_range", initializerRange);
        o.put("intermediate_size", intermediateSize);
        o.put("max_position_embeddings", maxPositionEmbeddings);
        o.put("mlp_bias", mlpBias);
        o.put("model_type", "llama");
        o.put("num_attention_heads", numAttentionHeads);
        o.put("num_hidden_layers", numHiddenLayers);
        o.put("num_key_value_heads", numKeyValueHeads);
        o.put("pretraining_tp", 1);
        o.put("rms_norm_eps", rmsNormEps);
        if (ropeScaling == null) o.putNull("rope_scaling");
        else {
            ObjectNode r = o.putObject("rope_scaling");
            r.put("factor", ropeScaling.factor());
            if (ropeScaling.ropeType().equals("llama3")) {
                r.put("high_freq_factor", ropeScaling.highFreqFactor());
                r.put("low_freq_factor", ropeScaling.lowFreqFactor());
                r.put("original_max_position_embeddings", ropeScaling.originalMaxPositionEmbeddings());
            }
            r.put("rope_type", ropeScaling.ropeType());
        }
        o.put("rope_theta", ropeTheta);
        o.put("tie_word_embeddings", tieWordEmbeddings);
        o.put("torch_dtype", "float32");
        o.put("use_cache", true);
        o.put("vocab_size", vocabSize);
        return o;
    }

    // ------------------------------------------------------------------------------- RoPE

    /**
     * inv_freq [head_dim / 2] in float32, computed with the operations (and float32 rounding) of
     * modeling_rope_utils: default {@code 1 / theta^(2i/d)}, linear divides by factor, llama3
     * keeps high frequencies, divides low ones by factor and blends the band in between.
     */
    public float[] ropeInvFreq() {
        int half = headDim / 2;
        float[] inv = new float[half];
        float base = (float) ropeTheta;
        for (int i = 0; i < half; i++) {
            float e = (float) (2 * i) / headDim;
            inv[i] = 1.0f / (float) Math.pow(base, e);
        }
        if (ropeScaling == null) return inv;
        float factor = (float) ropeScaling.factor();
        if (ropeScaling.ropeType().equals("linear")) {
            for (int i = 0; i < half; i++) inv[i] = inv[i] / factor;
            return inv;
        }
        double low = ropeScaling.lowFreqFactor(), high = ropeScaling.highFreqFactor();
        double oldContext = ropeScaling.originalMaxPositionEmbeddings();
        double lowWavelen = oldContext / low, highWavelen = oldContext / high;
        for (int i = 0; i < half; i++) {
            float wavelen = (float) (2 * Math.PI) / inv[i];
            float scaled = wavelen > lowWavelen ? inv[i] / factor : inv[i];
            if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
                float smooth = (float) (((float) (oldContext / wavelen) - low) / (high - low));
                scaled = (1 - smooth) * scaled / factor + smooth * scaled;
            }
            inv[i] = scaled;
        }
        return inv;
    }
}
