package jllm.models;

import jllm.io.ModelSource;
import jllm.io.hf.HfHub;

import java.io.IOException;
import java.nio.file.Path;

/**
 * transformers' {@code AutoModelForCausalLM.from_pretrained}: picks the model class from
 * config.json's model_type (else its architectures) in the {@link ModelRegistry}. A GGUF file
 * loads the same way ({@link ModelSource#open}: its header becomes the config).
 */
public final class AutoModelForCausalLM {
    private AutoModelForCausalLM() {}

    /** A GGUF file, a local directory, or org/name from the local Hugging Face cache ({@link HfHub#resolve(String)}; never the network). */
    public static PretrainedModel fromPretrained(String pathOrName) throws IOException {
        return fromPretrained(ModelSource.open(pathOrName));
    }

    /** As {@link #fromPretrained(String)} with an explicit hub cache root. */
    public static PretrainedModel fromPretrained(String pathOrName, Path hubCacheRoot) throws IOException {
        return fromPretrained(HfHub.resolve(pathOrName, hubCacheRoot));
    }

    /** The model class config.json names ({@link ModelRegistry#forConfig}), loaded from a directory or GGUF file. */
    public static PretrainedModel fromPretrained(Path dirOrGguf) throws IOException {
        return ModelRegistry.load(dirOrGguf);
    }

    /** The model class the source's config names, loaded from it. */
    public static PretrainedModel fromPretrained(ModelSource source) throws IOException {
        return ModelRegistry.load(source);
    }
}
