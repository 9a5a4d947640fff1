package jllm.models.phi3;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaConfig;

import java.util.List;

/** transformers' Phi3Config: the Llama decoder's sizes with Phi-3's defaults (eos 32000, 4096 positions) and its sliding_window. */
public record Phi3Config(LlamaConfig decoder, Integer slidingWindow) {

    public static final LlamaConfig.Family PHI3 = new LlamaConfig.Family("phi3", "Phi3ForCausalLM", 4096, 1, List.of(32000), null, null);

    public Phi3Config {
        if (slidingWindow != null && slidingWindow <= 0) throw new IllegalArgumentException("sliding_window must be positive, got " + slidingWindow);
    }

    public static Phi3Config fromJson(JsonNode n, Object source) {
        LlamaConfig d = LlamaConfig.fromJson(n, source, PHI3);
        try {
            JsonNode f = n.get("partial_rotary_factor");
            if (f != null && !f.isNull() && f.asDouble() != 1.0) {
                throw new IllegalArgumentException("partial_rotary_factor " + f + " is not implemented (jllm rotates the whole head)");
            }
            if (d.attentionBias() || d.mlpBias()) throw new IllegalArgumentException("attention_bias / mlp_bias are not Phi-3 options");
            return new Phi3Config(d, n.hasNonNull("sliding_window") ? jllm.io.ConfigFields.integer(n, "sliding_window", 0) : null);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    public ObjectNode toJson() {
        ObjectNode o = decoder.toJson();
        o.remove(List.of("attention_bias", "mlp_bias", "pretraining_tp", "head_dim"));
        o.putArray("architectures").add(PHI3.architecture());
        o.put("model_type", PHI3.modelType());
        o.put("partial_rotary_factor", 1.0);
        o.put("original_max_position_embeddings", decoder.maxPositionEmbeddings());
        if (slidingWindow == null) o.putNull("sliding_window");
        else o.put("sliding_window", slidingWindow);
        return o;
    }
}
