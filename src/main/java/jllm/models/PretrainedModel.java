package jllm.models;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.LinkedHashMap;

/**
 * A causal language model that loads from and saves to a Hugging Face model directory
 * ({@link AutoModelForCausalLM#fromPretrained}), with what a command line needs around it: the
 * config.json it would write and the special token ids.
 */
public interface PretrainedModel extends CachedLanguageModel {
    /** Writes config.json and model.safetensors with Hugging Face key names and orientation, atomically. */
    default void savePretrained(Path dir) throws IOException { savePretrained(dir, 0); }

    /**
     * As {@link #savePretrained(Path)}, split into {@code model-0000i-of-0000n.safetensors} shards of
     * at most maxShardBytes plus {@code model.safetensors.index.json} when maxShardBytes > 0.
     */
    default void savePretrained(Path dir, long maxShardBytes) throws IOException {
        jllm.io.hf.HfModelDir.write(dir, configJson(), hfStateDict(), maxShardBytes);
    }

    /** The tensors save_pretrained writes: Hugging Face key names and orientation. */
    LinkedHashMap<String, jllm.tensor.Tensor> hfStateDict();

    /** This model as the {@link jllm.nn.Module} it is (parameters, train/eval, LoRA injection). */
    default jllm.nn.Module asModule() { return (jllm.nn.Module) this; }

    /** The config.json this model saves (a fresh object). */
    ObjectNode configJson();

    /** config.json's model_type: "llama", "gpt2". */
    String modelType();

    /** bos_token_id, or null when the config has none. */
    Integer bosTokenId();

    /** eos_token_id as a list (config.json may hold one int or a list); empty when none. */
    List<Integer> eosTokenIds();

    /**
     * An empty cache for batchSize rows holding up to capacity positions (at most
     * {@link #blockSize()}): a long-context model's full block size would preallocate gigabytes.
     */
    KVCache newCache(int batchSize, int capacity);
}
