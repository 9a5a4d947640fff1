package jllm.models.gemma;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaConfig;

import java.util.List;

/** transformers' GemmaConfig: the Llama decoder's sizes with Gemma's defaults (tied, head_dim 256, bos 2, eos 1). */
public record GemmaConfig(LlamaConfig decoder) {

    public static final LlamaConfig.Family GEMMA = new LlamaConfig.Family("gemma", "GemmaForCausalLM", 8192, 2, List.of(1), 16, 256,
            true, "hidden_activation", "gelu_pytorch_tanh");

    public static GemmaConfig fromJson(JsonNode n, Object source) {
        return new GemmaConfig(LlamaConfig.fromJson(n, source, GEMMA));
    }

    /** config.json as GemmaConfig writes it. */
    public ObjectNode toJson() { return write(decoder, GEMMA); }

    /** The Llama decoder's fields under a Gemma family's names (its activation fields, no Llama-only keys). */
    static ObjectNode write(LlamaConfig d, LlamaConfig.Family fam) {
        ObjectNode o = d.toJson();
        o.remove(List.of("mlp_bias", "pretraining_tp"));
        o.putArray("architectures").add(fam.architecture());
        o.put("model_type", fam.modelType());
        o.put("hidden_act", fam.act());
        o.put("hidden_activation", fam.act());
        return o;
    }
}
