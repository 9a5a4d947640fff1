package jllm.lora;

import jllm.nn.Module;

/**
 * PEFT's LoraModel: holds the base model, into which LoRA layers were injected in place, as its
 * only child {@code model}, so names under a {@link PeftModel} read {@code base_model.model.<base name>}.
 */
public final class LoraModel extends Module {
    private final LoraConfig config;

    LoraModel(Module model, LoraConfig config) {
        this.config = config;
        registerModule("model", model);
    }

    public Module model() { return module("model"); }

    public LoraConfig config() { return config; }
}
