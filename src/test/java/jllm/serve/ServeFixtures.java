package jllm.serve;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.autograd.Grad;
import jllm.io.llama2c.Llama2cConverter;
import jllm.lora.LoraConfig;
import jllm.lora.PeftModel;
import jllm.models.AutoModelForCausalLM;
import jllm.nn.Init;
import jllm.tensor.Generator;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The serving tests' files, made once per JVM: the aidreams260K llama2.c model converted to a
 * Hugging Face directory (a real trained 260K Llama) with a chat template added, and two LoRA
 * adapters on it saved as PEFT directories (different ranks and targets, random B so that each
 * changes the output).
 */
public final class ServeFixtures {
    private ServeFixtures() {}

    static final Path ROOT;
    public static final Path MODEL, ADAPTER_A, ADAPTER_B;

    static {
        try {
            ROOT = Files.createTempDirectory("jllm-serve-test");
            MODEL = ROOT.resolve("aidreams");
            Path llama2c = Path.of("src/test/resources/llama2c");
            Llama2cConverter.convert(llama2c.resolve("aidreams260K.bin"), llama2c.resolve("tok512.bin"), MODEL);
            Path tc = MODEL.resolve("tokenizer_config.json");
            ObjectNode cfg = (ObjectNode) new ObjectMapper().readTree(tc.toFile());
            cfg.put("chat_template", "{% for m in messages %}{{ bos_token }}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"
                    + "{% if add_generation_prompt %}[assistant] {% endif %}");
            new ObjectMapper().writeValue(tc.toFile(), cfg);
            ADAPTER_A = adapter("a", LoraConfig.of(4, 8), 11);
            ADAPTER_B = adapter("b", LoraConfig.of(2, 4).withTargetModules(LoraConfig.TargetModules.names("q_proj", "v_proj", "down_proj")), 12);
            ROOT.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Path adapter(String name, LoraConfig cfg, long seed) throws IOException {
        var base = AutoModelForCausalLM.fromPretrained(MODEL).asModule();
        Generator g = new Generator(seed);
        PeftModel p = PeftModel.getPeftModel(base, cfg, g);
        try (var off = Grad.off()) {
            for (String n : p.loraLayerNames()) Init.normal_(p.loraLayer(n).loraB().weight(), 0.0, 0.3, g);
        }
        Path dir = ROOT.resolve("adapter-" + name);
        p.savePretrained(dir);
        return dir;
    }
}
