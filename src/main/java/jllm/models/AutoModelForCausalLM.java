package jllm.models;

import jllm.io.ModelSource;
import jllm.io.hf.HfHub;
import jllm.nn.Init;
import jllm.tensor.DType;

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

    /**
     * As {@link #fromPretrained(Path)} with the weight matrices kept in weights (F32, BF16, F16, Q8_0
     * or Q4_0; see {@link Init#weightsIn}): converted while they are copied in, so that the model
     * never exists in F32 first.
     */
    public static PretrainedModel fromPretrained(Path dir, DType weights) throws IOException {
        return fromPretrained(ModelSource.open(dir), weights);
    }

    /** As {@link #fromPretrained(Path, DType)} for a source already open. */
    public static PretrainedModel fromPretrained(ModelSource source, DType weights) throws IOException {
        return Init.weightsIn(weights, () -> ModelRegistry.load(source));
    }
}
