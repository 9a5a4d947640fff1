package jllm.models.gemma;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.Generator;

/** GemmaForCausalLM: the Llama decoder with Gemma's norms, embedding scale and GeGLU (modeling_gemma.py). */
public class GemmaForCausalLM extends LlamaForCausalLM {
    private final GemmaConfig gemma;

    public GemmaForCausalLM(GemmaConfig c, Generator gen) {
        super(c.decoder(), new Variant(c.decoder().attentionBias(), c.decoder().attentionBias(), false,
                new int[c.decoder().numHiddenLayers()], true, false, null, 0, 0, false), gen);
        this.gemma = c;
    }

    @Override
    public String modelType() { return GemmaConfig.GEMMA.modelType(); }

    @Override
    public ObjectNode configJson() { return gemma.toJson(); }

    public static GemmaForCausalLM fromPretrained(jllm.io.ModelSource d) {
        return load(d, GemmaConfig::fromJson, c -> c.decoder().numParameters(), c -> new GemmaForCausalLM(c, null));
    }
}
