package jllm.models.qwen3;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.SlidingWindows;

import java.util.List;

/** transformers' Qwen3Config: the Llama decoder's sizes with Qwen3's defaults and Qwen's sliding-window fields. */
public record Qwen3Config(LlamaConfig decoder, SlidingWindows sliding) {

    public static final LlamaConfig.Family QWEN3 = new LlamaConfig.Family("qwen3", "Qwen3ForCausalLM", 32768, null, List.of(), 32, 128);

    public static Qwen3Config fromJson(JsonNode n, Object source) {
        LlamaConfig d = LlamaConfig.fromJson(n, source, QWEN3);
        try {
            return new Qwen3Config(d, SlidingWindows.fromJson(n, d.numHiddenLayers()));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    public ObjectNode toJson() {
        ObjectNode o = decoder.toJson();
        o.remove(List.of("mlp_bias", "pretraining_tp"));
        o.putArray("architectures").add(QWEN3.architecture());
        o.put("model_type", QWEN3.modelType());
        sliding.writeTo(o);
        return o;
    }

    /** Llama's count plus the per-head q and k norms. */
    public long numParameters() {
        return decoder.numParameters() + decoder.numHiddenLayers() * 2L * decoder.headDim();
    }
}
