package jllm.models;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.io.hf.HfException;
import jllm.io.ModelSource;
import jllm.models.gemma.Gemma2ForCausalLM;
import jllm.models.gemma.GemmaForCausalLM;
import jllm.models.gpt.CharGPT;
import jllm.models.gpt.GPT;
import jllm.models.llama.LlamaForCausalLM;
import jllm.models.mistral.MistralForCausalLM;
import jllm.models.phi3.Phi3ForCausalLM;
import jllm.models.qwen2.Qwen2ForCausalLM;
import jllm.models.qwen3.Qwen3ForCausalLM;
import jllm.nn.Module;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Every decision jllm makes by model family, in one table: which config.json model_type and
 * architectures a family reads, how its directory loads, and PEFT's defaults for it (LoRA target
 * modules, fan_in_fan_out). {@link AutoModelForCausalLM}, {@link ModelFactory}, the LoRA package
 * and the CLI ask this class and nothing else; adding a family is one line here.
 */
public final class ModelRegistry {
    private ModelRegistry() {}

    /** Loads a model of the family from a Hugging Face directory or a GGUF file. */
    @FunctionalInterface
    public interface Loader {
        PretrainedModel load(ModelSource source) throws IOException;
    }

    /** Builds a fresh model from a training config's model section, with the tokenizer's vocabulary and the block size. */
    @FunctionalInterface
    public interface SectionBuilder {
        Module build(Map<String, Object> section, int vocabSize, int blockSize);
    }

    /** The memory a model built from a training config's model section needs, found without building it. */
    @FunctionalInterface
    public interface SectionFootprint {
        MemoryFootprint of(Map<String, Object> section, int vocabSize, int blockSize);
    }

    /**
     * One family.
     *
     * @param modelType     config.json's model_type (for jllm's own char_gpt, its name)
     * @param architectures config.json architectures it loads; empty for a family without a Hugging Face format
     * @param loader        null for a family without a Hugging Face format
     * @param loraTargets   PEFT's default target_modules (TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING); empty: none
     * @param fanInFanOut   PEFT's fan_in_fan_out for the family's projections (GPT-2's Conv1D stores [in, out])
     * @param sectionType   the "type" of a training config's model section that builds the family; null: not trainable from scratch
     * @param section       builds it from that section
     * @param footprint     its memory from that section (for the launcher's heap size); null with section
     */
    public record Family(String modelType, List<String> architectures, Loader loader, List<String> loraTargets, boolean fanInFanOut,
                         String sectionType, SectionBuilder section, SectionFootprint footprint) {
        public Family {
            architectures = List.copyOf(architectures);
            loraTargets = List.copyOf(loraTargets);
        }

        public boolean hasHuggingFaceFormat() { return loader != null; }
    }

    private static final List<Family> FAMILIES = List.of(
            new Family("gpt2", List.of("GPT2LMHeadModel", "GPT2Model"), GPT::fromPretrained, List.of("c_attn"), true,
                    ModelFactory.GPT_TYPE, ModelFactory::gpt, ModelFactory::gptFootprint),
            new Family("llama", List.of("LlamaForCausalLM"), LlamaForCausalLM::fromPretrained, List.of("q_proj", "v_proj"), false, null, null, null),
            new Family("qwen2", List.of("Qwen2ForCausalLM"), Qwen2ForCausalLM::fromPretrained, List.of("q_proj", "v_proj"), false, null, null, null),
            new Family("qwen3", List.of("Qwen3ForCausalLM"), Qwen3ForCausalLM::fromPretrained, List.of("q_proj", "v_proj"), false, null, null, null),
            new Family("mistral", List.of("MistralForCausalLM"), MistralForCausalLM::fromPretrained, List.of("q_proj", "v_proj"), false, null, null, null),
            new Family("gemma", List.of("GemmaForCausalLM"), GemmaForCausalLM::fromPretrained, List.of("q_proj", "v_proj"), false, null, null, null),
            new Family("gemma2", List.of("Gemma2ForCausalLM"), Gemma2ForCausalLM::fromPretrained, List.of("q_proj", "v_proj"), false, null, null, null),
            // PEFT has no default for phi3 (its projections are fused): target_modules must be given, e.g. qkv_proj
            new Family("phi3", List.of("Phi3ForCausalLM"), Phi3ForCausalLM::fromPretrained, List.of(), false, null, null, null),
            new Family(CharGPT.MODEL_TYPE, List.of(), null, List.of(), false, ModelFactory.CHAR_GPT_TYPE, ModelFactory::charGpt,
                    ModelFactory::charGptFootprint));

    /** All families, in table order. */
    public static List<Family> families() { return FAMILIES; }

    /** The model_types a Hugging Face directory may have. */
    public static List<String> huggingFaceTypes() {
        List<String> out = new ArrayList<>();
        for (Family f : FAMILIES) if (f.hasHuggingFaceFormat()) out.add(f.modelType());
        return out;
    }

    /** The family of a model_type, if jllm has it. */
    public static Optional<Family> byModelType(String modelType) {
        for (Family f : FAMILIES) if (f.modelType().equals(modelType)) return Optional.of(f);
        return Optional.empty();
    }

    /** The family a training config's model section names by its "type". */
    public static Optional<Family> bySectionType(String type) {
        for (Family f : FAMILIES) if (f.section() != null && f.sectionType().equals(type)) return Optional.of(f);
        return Optional.empty();
    }

    /** The section types, for messages. */
    public static List<String> sectionTypes() {
        List<String> out = new ArrayList<>();
        for (Family f : FAMILIES) if (f.section() != null) out.add(f.sectionType());
        return out;
    }

    /** The family of a model instance (a {@link CausalLM} says its model_type); empty for other modules. */
    public static Optional<Family> of(Module model) {
        return model instanceof CausalLM c ? byModelType(c.modelType()) : Optional.empty();
    }

    /**
     * The family config.json asks for: by model_type, else (no model_type) by architectures, as
     * transformers' Auto classes read it. An unknown type is an error naming the file and listing
     * the supported types.
     */
    public static Family forConfig(ObjectNode config, Path configFile) {
        String type = config.hasNonNull("model_type") ? config.get("model_type").asText() : null;
        List<String> arch = new ArrayList<>();
        JsonNode a = config.get("architectures");
        if (a != null && a.isArray()) a.forEach(x -> arch.add(x.asText()));
        for (Family f : FAMILIES) {
            if (!f.hasHuggingFaceFormat()) continue;
            if (type != null ? f.modelType().equals(type) : arch.stream().anyMatch(f.architectures()::contains)) return f;
        }
        throw new HfException(configFile + ": unsupported architecture " + (arch.isEmpty() ? "(none given)" : arch) + " with model_type "
                + (type == null ? "(none)" : "'" + type + "'") + "; jllm loads model_type " + String.join(", ", huggingFaceTypes()));
    }

    /** Loads a Hugging Face model directory or a GGUF file with its family's loader ({@link #load(ModelSource)}). */
    public static PretrainedModel load(Path dirOrGguf) throws IOException {
        return load(ModelSource.open(dirOrGguf));
    }

    /**
     * Loads a model source with the loader of the family its config names; the weight matrices keep
     * the type they are stored in ({@link ModelSource#weightType}) unless an enclosing
     * {@link jllm.nn.Init#weightsIn} asks for another.
     */
    public static PretrainedModel load(ModelSource source) throws IOException {
        Loader l = forConfig(source.config(), source.configFile()).loader();
        if (source.weightType() == null || jllm.nn.Init.weightsDtype() != null) return l.load(source);
        return jllm.nn.Init.weightsIn(source.weightType(), () -> l.load(source));
    }
}
