package jllm.models.qwen2;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaConfig;

import java.util.List;

/**
 * transformers' Qwen2Config: the Llama decoder's sizes ({@code decoder}) with Qwen2's defaults
 * (no bos/eos, 32768 positions, num_key_value_heads 32 when absent) and its sliding-window fields.
 *
 * @param slidingWindow   the window when use_sliding_window is on, else null (as Qwen2Config stores it)
 * @param maxWindowLayers layers from this index on use the window (when on)
 */
public record Qwen2Config(LlamaConfig decoder, boolean useSlidingWindow, Integer slidingWindow, int maxWindowLayers) {

    public static final LlamaConfig.Family QWEN2 = new LlamaConfig.Family("qwen2", "Qwen2ForCausalLM", 32768, null, List.of(), 32);

    public Qwen2Config {
        if (useSlidingWindow && slidingWindow != null && slidingWindow < decoder.maxPositionEmbeddings()
                && maxWindowLayers < decoder.numHiddenLayers()) {
            throw new IllegalArgumentException("use_sliding_window with sliding_window " + slidingWindow + " < max_position_embeddings "
                    + decoder.maxPositionEmbeddings() + " on layers " + maxWindowLayers + ".." + (decoder.numHiddenLayers() - 1)
                    + ": sliding-window attention is not implemented for qwen2");
        }
    }

    /** Reads config.json; source (the file) is named in every error. */
    public static Qwen2Config fromJson(JsonNode n, Object source) {
        LlamaConfig d = LlamaConfig.fromJson(n, source, QWEN2);
        try {
            boolean on = n.hasNonNull("use_sliding_window") && n.get("use_sliding_window").asBoolean();
            int window = LlamaConfig.integer(n, "sliding_window", 4096);
            int maxWindowLayers = LlamaConfig.integer(n, "max_window_layers", 28);
            JsonNode types = n.get("layer_types");
            if (on && types != null && types.isArray()) {
                // explicit layer types: the first sliding layer is where the window starts (transformers checks per layer)
                int first = d.numHiddenLayers();
                for (int i = 0; i < types.size(); i++) if (types.get(i).asText().equals("sliding_attention")) { first = i; break; }
                maxWindowLayers = first;
            }
            return new Qwen2Config(d, on, on ? window : null, maxWindowLayers);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    /** config.json as transformers' Qwen2Config writes it. */
    public ObjectNode toJson() {
        ObjectNode o = decoder.toJson();
        o.remove(List.of("attention_bias", "mlp_bias", "pretraining_tp"));
        o.putArray("architectures").add(QWEN2.architecture());
        o.put("model_type", QWEN2.modelType());
        o.put("max_window_layers", maxWindowLayers);
        if (slidingWindow == null) o.putNull("sliding_window");
        else o.put("sliding_window", slidingWindow);
        o.put("use_sliding_window", useSlidingWindow);
        return o;
    }

    /** The parameter count: Llama's plus the q, k, v biases. */
    public long numParameters() {
        long kv = (long) decoder.numKeyValueHeads() * decoder.headDim();
        return decoder.numParameters() + decoder.numHiddenLayers() * ((long) decoder.numAttentionHeads() * decoder.headDim() + 2 * kv);
    }
}
