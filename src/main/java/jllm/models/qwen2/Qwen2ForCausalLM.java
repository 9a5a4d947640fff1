package jllm.models.qwen2;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.Generator;

import java.io.IOException;
import java.nio.file.Path;

/** Qwen2ForCausalLM: the Llama decoder with q/k/v biases and no o_proj bias (modeling_qwen2.py). */
public class Qwen2ForCausalLM extends LlamaForCausalLM {
    private final Qwen2Config qwen;

    /** Builds and initialises as transformers' _init_weights; gen null skips it (the weights are about to be loaded). */
    public Qwen2ForCausalLM(Qwen2Config config, Generator gen) {
        super(config.decoder(), Variant.of(true, false, false, config.sliding().perLayer()), gen);
        this.qwen = config;
    }

    public Qwen2Config qwenConfig() { return qwen; }

    @Override
    public String modelType() { return Qwen2Config.QWEN2.modelType(); }

    @Override
    public ObjectNode configJson() { return qwen.toJson(); }

    public static Qwen2ForCausalLM fromPretrained(Path dir) throws IOException { return fromPretrained(jllm.io.ModelSource.open(dir)); }

    public static Qwen2ForCausalLM fromPretrained(jllm.io.ModelSource d) {
        return load(d, Qwen2Config::fromJson, Qwen2Config::numParameters, c -> new Qwen2ForCausalLM(c, null));
    }
}
