package jllm.lora;

import jllm.autograd.Grad;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.ModuleList;
import jllm.nn.UnaryModule;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

/** Small models for the LoRA tests: a GPT and a module tree with Hugging Face Llama's layer names. */
final class LoraTestModels {
    private LoraTestModels() {}

    static final GPTConfig GPT_TINY = new GPTConfig(8, 16, 2, 2, 8);

    static GPT gpt(long seed) { return new GPT(GPT_TINY, new Generator(seed)); }

    /** Llama's names (model.layers.N.self_attn.{q,k,v,o}_proj, lm_head); hidden 16, vocab 32; x [B, 16] -> [B, 32]. */
    static final class TinyLlamaForCausalLM extends Module implements UnaryModule {
        TinyLlamaForCausalLM(int layers, long seed) {
            Generator gen = new Generator(seed);
            Layer[] ls = new Layer[layers];
            for (int i = 0; i < layers; i++) ls[i] = new Layer(gen);
            TinyModel m = registerModule("model", new TinyModel());
            m.registerModule("layers", new ModuleList(ls));
            Linear head = registerModule("lm_head", new Linear(16, 32, false));
            head.resetParameters(gen);
        }

        @Override
        public Tensor forward(Tensor x) {
            for (Module l : (ModuleList) getSubmodule("model.layers")) x = ((Layer) l).forward(x);
            return forwardChild("lm_head", x);
        }
    }

    static final class TinyModel extends Module {}

    static final class Layer extends Module {
        Layer(Generator gen) { registerModule("self_attn", new Attn(gen)); }

        Tensor forward(Tensor x) { return x.add(((Attn) module("self_attn")).forward(x)); }
    }

    static final class Attn extends Module {
        Attn(Generator gen) {
            for (String n : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"}) registerModule(n, new Linear(16, 16, false)).resetParameters(gen);
        }

        Tensor forward(Tensor x) {
            Tensor h = forwardChild("q_proj", x).mul(forwardChild("k_proj", x).sigmoid()).add(forwardChild("v_proj", x));
            return forwardChild("o_proj", h.tanh());
        }
    }

    /** Fills every lora_B with random values, as training would, so the adapter changes outputs. */
    static void randomizeB(PeftModel m, long seed) {
        Generator gen = new Generator(seed);
        try (var g = Grad.off()) {
            for (String n : m.loraLayerNames()) {
                Tensor b = m.loraLayer(n).loraB().weight();
                b.copy_(Tensor.randn(b.shape(), gen).mul(0.1));
            }
        }
    }

    static double maxDiff(Tensor a, Tensor b) {
        return a.detach().sub(b.detach()).abs().max().item();
    }
}
