package jllm.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.io.hf.HfException;
import jllm.io.hf.HfHub;
import jllm.io.hf.HfModelDir;
import jllm.models.gpt.GPT;
import jllm.models.llama.LlamaForCausalLM;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * transformers' {@code AutoModelForCausalLM.from_pretrained}: picks the model class from
 * config.json's model_type and architectures. Supported: llama (LlamaForCausalLM) and gpt2
 * (GPT2LMHeadModel).
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

    public static PretrainedModel fromPretrained(Path dir) throws IOException {
        ObjectNode c = HfModelDir.readConfig(dir);
        String type = c.hasNonNull("model_type") ? c.get("model_type").asText() : null;
        List<String> arch = new ArrayList<>();
        JsonNode a = c.get("architectures");
        if (a != null && a.isArray()) a.forEach(x -> arch.add(x.asText()));
        if ("llama".equals(type) || (type == null && arch.contains("LlamaForCausalLM"))) return LlamaForCausalLM.fromPretrained(dir);
        if ("gpt2".equals(type) || (type == null && arch.contains("GPT2LMHeadModel"))) return GPT.fromPretrained(dir);
        throw new HfException(dir.resolve(HfModelDir.CONFIG) + ": unsupported architecture " + (arch.isEmpty() ? "(none given)" : arch)
                + " with model_type " + (type == null ? "(none)" : "'" + type + "'")
                + "; jllm loads LlamaForCausalLM (model_type llama) and GPT2LMHeadModel (model_type gpt2)");
    }
}
