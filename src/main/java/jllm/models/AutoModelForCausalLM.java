package jllm.models;

import jllm.io.hf.HfHub;
import jllm.nn.Init;
import jllm.tensor.DType;

import java.io.IOException;
import java.io.UncheckedIOException;
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

    /**
     * As {@link #fromPretrained(Path)} with the weight matrices kept in weights (F32, BF16, F16, Q8_0
     * or Q4_0; see {@link Init#weightsIn}): converted while they are copied in, so that the model
     * never exists in F32 first.
     */
    public static PretrainedModel fromPretrained(Path dir, DType weights) throws IOException {
        try {
            return Init.weightsIn(weights, () -> {
                try {
                    return ModelRegistry.load(dir);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
