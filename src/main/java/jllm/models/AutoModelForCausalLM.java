package jllm.models;

import jllm.io.hf.HfHub;

import java.io.IOException;
import java.nio.file.Path;

/**
 * transformers' {@code AutoModelForCausalLM.from_pretrained}: picks the model class from
 * config.json's model_type (else its architectures) in the {@link ModelRegistry}.
 */
public final class AutoModelForCausalLM {
    private AutoModelForCausalLM() {}

    /** A local directory, or org/name from the local Hugging Face cache ({@link HfHub#resolve(String)}; never the network). */
    public static PretrainedModel fromPretrained(String pathOrName) throws IOException {
        return fromPretrained(HfHub.resolve(pathOrName));
    }

    /** As {@link #fromPretrained(String)} with an explicit hub cache root. */
    public static PretrainedModel fromPretrained(String pathOrName, Path hubCacheRoot) throws IOException {
        return fromPretrained(HfHub.resolve(pathOrName, hubCacheRoot));
    }

    /** The model class config.json names ({@link ModelRegistry#forConfig}), loaded from dir. */
    public static PretrainedModel fromPretrained(Path dir) throws IOException {
        return ModelRegistry.load(dir);
    }
}
