package jllm.models.qwen2;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.SlidingWindows;

import java.util.List;

/**
 * transformers' Qwen2Config: the Llama decoder's sizes ({@code decoder}) with Qwen2's defaults
 * (no bos/eos, 32768 positions, num_key_value_heads 32 when absent) and its sliding-window fields.
 */
public record Qwen2Config(LlamaConfig decoder, SlidingWindows sliding) {

    public static final LlamaConfig.Family QWEN2 = new LlamaConfig.Family("qwen2", "Qwen2ForCausalLM", 32768, null, List.of(), 32, null);

    public Qwen2Config {
        if (sliding.layerTypes().size() != decoder.numHiddenLayers()) {
            throw new IllegalArgumentException("layer_types lists " + sliding.layerTypes().size() + " layers, the model has " + decoder.numHiddenLayers());
        }
    }

    /** Reads config.json; source (the file) is named in every error. */
    public static Qwen2Config fromJson(JsonNode n, Object source) {
        LlamaConfig d = LlamaConfig.fromJson(n, source, QWEN2);
        try {
            return new Qwen2Config(d, SlidingWindows.fromJson(n, d.numHiddenLayers()));
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
        sliding.writeTo(o);
        return o;
    }

    /** The parameter count: Llama's plus the q, k, v biases. */
    public long numParameters() {
        long kv = (long) decoder.numKeyValueHeads() * decoder.headDim();
        return decoder.numParameters() + decoder.numHiddenLayers() * ((long) decoder.numAttentionHeads() * decoder.headDim() + 2 * kv);
    }
}
