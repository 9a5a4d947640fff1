package jllm.models.phi3;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.Generator;

/** Phi3ForCausalLM: the Llama decoder with fused qkv_proj and gate_up_proj (modeling_phi3.py). */
public class Phi3ForCausalLM extends LlamaForCausalLM {
    private final Phi3Config phi3;

    public Phi3ForCausalLM(Phi3Config c, Generator gen) {
        super(c.decoder(), new Variant(false, false, false,
                Variant.windows(c.decoder().numHiddenLayers(), c.slidingWindow() == null ? 0 : c.slidingWindow()), false, false, null, 0, 0, true), gen);
        this.phi3 = c;
    }

    @Override
    public String modelType() { return Phi3Config.PHI3.modelType(); }

    @Override
    public ObjectNode configJson() { return phi3.toJson(); }

    public static Phi3ForCausalLM fromPretrained(jllm.io.ModelSource d) {
        return load(d, Phi3Config::fromJson, c -> c.decoder().numParameters(), c -> new Phi3ForCausalLM(c, null));
    }
}
