package jllm.models.mistral;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaConfig;

import java.util.List;

/**
 * transformers' MistralConfig: the Llama decoder's sizes with Mistral's defaults (8 kv heads,
 * 131072 positions) and {@code sliding_window} (null: full attention).
 */
public record MistralConfig(LlamaConfig decoder, Integer slidingWindow) {

    public static final LlamaConfig.Family MISTRAL = new LlamaConfig.Family("mistral", "MistralForCausalLM", 4096 * 32, 1, List.of(2), 8, null);

    public MistralConfig {
        if (slidingWindow != null && slidingWindow <= 0) throw new IllegalArgumentException("sliding_window must be positive, got " + slidingWindow);
    }

    public static MistralConfig fromJson(JsonNode n, Object source) {
        LlamaConfig d = LlamaConfig.fromJson(n, source, MISTRAL);
        try {
            if (d.attentionBias() || d.mlpBias()) throw new IllegalArgumentException("attention_bias / mlp_bias are not Mistral options (its layers have no biases)");
            return new MistralConfig(d, n.hasNonNull("sliding_window") ? jllm.io.ConfigFields.integer(n, "sliding_window", 0) : null);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    public ObjectNode toJson() {
        ObjectNode o = decoder.toJson();
        o.remove(List.of("attention_bias", "mlp_bias", "pretraining_tp"));
        o.putArray("architectures").add(MISTRAL.architecture());
        o.put("model_type", MISTRAL.modelType());
        if (slidingWindow == null) o.putNull("sliding_window");
        else o.put("sliding_window", slidingWindow);
        return o;
    }
}
