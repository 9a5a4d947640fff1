package jllm.models.mistral;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.Generator;

/** MistralForCausalLM: the Llama decoder with a sliding window on every layer (modeling_mistral.py). */
public class MistralForCausalLM extends LlamaForCausalLM {
    private final MistralConfig mistral;

    public MistralForCausalLM(MistralConfig c, Generator gen) {
        super(c.decoder(), Variant.of(false, false, false,
                Variant.windows(c.decoder().numHiddenLayers(), c.slidingWindow() == null ? 0 : c.slidingWindow())), gen);
        this.mistral = c;
    }

    @Override
    public String modelType() { return MistralConfig.MISTRAL.modelType(); }

    @Override
    public ObjectNode configJson() { return mistral.toJson(); }

    public static MistralForCausalLM fromPretrained(jllm.io.ModelSource d) {
        return load(d, MistralConfig::fromJson, c -> c.decoder().numParameters(), c -> new MistralForCausalLM(c, null));
    }
}
