package jllm.lora;

import jllm.nn.Embedding;
import jllm.nn.LayerNorm;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.ModuleDict;
import jllm.nn.RMSNorm;
import jllm.nn.UnaryModule;
import jllm.tensor.Tensor;

/**
 * PEFT's ModulesToSaveWrapper: {@code original_module} (frozen, kept for unloading) and a trainable
 * copy in {@code modules_to_save} ModuleDict{"default": copy}, which is what forward runs. Its
 * parameters therefore read {@code ...lm_head.modules_to_save.default.weight}, and a saved adapter
 * holds them as {@code ...lm_head.weight} (current PEFT; PEFT before 0.15 wrote
 * {@code ...lm_head.modules_to_save.weight}, which loading also accepts).
 *
 * <p>Java has no deepcopy of arbitrary modules, so the wrappable layers are the ones jllm can copy:
 * Linear, Embedding, LayerNorm and RMSNorm.
 */
public final class ModulesToSaveWrapper extends Module implements UnaryModule {
    private long calls;

    public ModulesToSaveWrapper(Module original) {
        registerModule("original_module", original);
        original.requiresGrad_(false);
        Module copy = copyOf(original);
        copy.requiresGrad_(true);
        registerModule("modules_to_save", new ModuleDict()).put(LoraLinear.ADAPTER, copy);
    }

    public Module originalModule() { return module("original_module"); }

    /** The trainable copy that forward runs. */
    public Module trainable() { return ((ModuleDict) module("modules_to_save")).get(LoraLinear.ADAPTER); }

    @Override
    public Tensor forward(Tensor x) {
        calls++;
        return ((UnaryModule) trainable()).forward(x);
    }

    long calls() { return calls; }

    /** A fresh module of the same kind and settings holding a copy of m's parameters. */
    static Module copyOf(Module m) {
        Module c;
        if (m instanceof Linear l) c = new Linear(l.inFeatures, l.outFeatures, l.bias() != null);
        else if (m instanceof Embedding e) c = new Embedding(e.numEmbeddings, e.embeddingDim, e.paddingIdx);
        else if (m instanceof LayerNorm n) c = new LayerNorm(n.normalizedShape(), n.eps, n.elementwiseAffine, n.bias() != null);
        else if (m instanceof RMSNorm n) c = new RMSNorm(n.normalizedShape(), n.eps, n.elementwiseAffine);
        else {
            throw new IllegalArgumentException("modules_to_save: cannot copy a " + m.typeName()
                    + " (jllm can wrap Linear, Embedding, LayerNorm and RMSNorm)");
        }
        Tensor any = m.parameters().isEmpty() ? null : m.parameters().get(0);
        if (any != null) c.to(any.device()).to(any.dtype());
        c.loadStateDict(m.stateDict());
        c.train(m.isTraining());
        return c;
    }
}
