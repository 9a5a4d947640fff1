package jllm.models.gemma;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.Generator;

/** Gemma2ForCausalLM: Gemma with sandwich norms, soft-capping, query_pre_attn_scalar and alternating sliding windows (modeling_gemma2.py). */
public class Gemma2ForCausalLM extends LlamaForCausalLM {
    private final Gemma2Config gemma2;

    public Gemma2ForCausalLM(Gemma2Config c, Generator gen) {
        super(c.decoder(), new Variant(c.decoder().attentionBias(), c.decoder().attentionBias(), false, c.windows(), true, true,
                Math.pow(c.queryPreAttnScalar(), -0.5), c.attnLogitSoftcapping() == null ? 0 : c.attnLogitSoftcapping(),
                c.finalLogitSoftcapping() == null ? 0 : c.finalLogitSoftcapping(), false), gen);
        this.gemma2 = c;
    }

    @Override
    public String modelType() { return Gemma2Config.GEMMA2.modelType(); }

    @Override
    public ObjectNode configJson() { return gemma2.toJson(); }

    public static Gemma2ForCausalLM fromPretrained(jllm.io.ModelSource d) {
        return load(d, Gemma2Config::fromJson, Gemma2Config::numParameters, c -> new Gemma2ForCausalLM(c, null));
    }
}
