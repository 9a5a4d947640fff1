package jllm.models.qwen3;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.Generator;

/** Qwen3ForCausalLM: the Llama decoder with per-head q_norm/k_norm (modeling_qwen3.py). */
public class Qwen3ForCausalLM extends LlamaForCausalLM {
    private final Qwen3Config qwen;

    public Qwen3ForCausalLM(Qwen3Config c, Generator gen) {
        super(c.decoder(), Variant.of(c.decoder().attentionBias(), c.decoder().attentionBias(), true, c.sliding().perLayer()), gen);
        this.qwen = c;
    }

    @Override
    public String modelType() { return Qwen3Config.QWEN3.modelType(); }

    @Override
    public ObjectNode configJson() { return qwen.toJson(); }

    public static Qwen3ForCausalLM fromPretrained(jllm.io.ModelSource d) {
        return load(d, Qwen3Config::fromJson, Qwen3Config::numParameters, c -> new Qwen3ForCausalLM(c, null));
    }
}
