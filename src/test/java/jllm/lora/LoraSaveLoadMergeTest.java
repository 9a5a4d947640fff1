package jllm.lora;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.io.TensorIO;
import jllm.lora.LoraTestModels.TinyLlamaForCausalLM;
import jllm.models.gpt.GPT;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.optim.AdamW;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static jllm.lora.LoraTestModels.maxDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraSaveLoadMergeTest {
    /**
     * Outputs of the same weights are compared with this tolerance, not bit for bit: Vector API lane
     * reductions may add in another order once the JIT compiles them (as in ModuleTest).
     */
    private static final double OUTPUT_TOL = 1e-6;

    @TempDir
    Path tmp;

    static final Tensor IDX = Tensor.randint(0, 16, new int[] {2, 8}, new Generator(11));

    private static PeftModel trainedGpt(LoraConfig cfg) {
        PeftModel m = PeftModel.getPeftModel(LoraTestModels.gpt(0), cfg, new Generator(2));
        LoraTestModels.randomizeB(m, 3);
        return m;
    }

    @Test
    void savedFileHasPeftsKeysShapesAndConfig() throws Exception {
        PeftModel m = trainedGpt(LoraConfig.of(2, 4).withBaseModelNameOrPath("gpt2"));
        Path dir = tmp.resolve("adapter");
        m.savePretrained(dir);
        Map<String, Tensor> sd = TensorIO.load(dir.resolve("adapter_model.safetensors"));
        assertEquals(List.of("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight",
                "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight", "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight"),
                List.copyOf(sd.keySet()));
        assertEquals("[2, 8]", Arrays.toString(sd.get("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight").shape()));
        assertEquals("[24, 2]", Arrays.toString(sd.get("base_model.model.transformer.h.0.attn.c_attn.lora_B.weight").shape()));
        assertEquals(Map.of("format", "pt"), TensorIO.metadata(dir.resolve("adapter_model.safetensors")));
        JsonNode c = new ObjectMapper().readTree(Files.readString(dir.resolve("adapter_config.json")));
        assertEquals("LORA", c.get("peft_type").asText());
        assertEquals("CAUSAL_LM", c.get("task_type").asText());
        assertEquals(2, c.get("r").asInt());
        assertTrue(c.get("lora_alpha").isIntegralNumber());
        assertEquals(4, c.get("lora_alpha").asInt());
        assertEquals("[\"c_attn\"]", c.get("target_modules").toString());
        assertTrue(c.get("fan_in_fan_out").asBoolean());
        assertTrue(c.get("inference_mode").asBoolean());
        assertEquals("none", c.get("bias").asText());
        assertEquals("gpt2", c.get("base_model_name_or_path").asText());
        assertTrue(c.get("modules_to_save").isNull());
        List<String> keys = new java.util.ArrayList<>();
        c.fieldNames().forEachRemaining(keys::add);
        assertEquals(keys.stream().sorted().toList(), keys, "sorted like json.dumps(sort_keys=True)");
        assertFalse(Files.exists(dir.resolve("adapter_config.json.tmp")));
    }

    @Test
    void biasAndModulesToSaveKeys() throws Exception {
        PeftModel m = trainedGpt(LoraConfig.of(2, 4).withBias("lora_only").withModulesToSave(List.of("lm_head")));
        List<String> keys = List.copyOf(m.adapterStateDict().keySet());
        assertEquals(List.of("base_model.model.transformer.h.0.attn.c_attn.base_layer.bias", "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
                "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight", "base_model.model.transformer.h.1.attn.c_attn.base_layer.bias",
                "base_model.model.transformer.h.1.attn.c_attn.lora_A.weight", "base_model.model.transformer.h.1.attn.c_attn.lora_B.weight",
                "base_model.model.lm_head.weight"), keys);
        PeftModel all = trainedGpt(LoraConfig.of(2, 4).withBias("all"));
        Map<String, Tensor> sd = all.adapterStateDict();
        assertTrue(sd.containsKey("base_model.model.transformer.h.0.ln_1.bias"));
        assertTrue(sd.containsKey("base_model.model.transformer.h.1.mlp.c_fc.bias"));
        assertTrue(sd.containsKey("base_model.model.transformer.h.0.attn.c_attn.base_layer.bias"));
        assertFalse(sd.containsKey("base_model.model.transformer.h.0.attn.bias"), "the causal-mask buffer is not a bias parameter");
    }

    @Test
    void saveThenLoadGivesIdenticalOutputs() {
        LoraConfig cfg = LoraConfig.of(4, 8).withTargetModules(LoraConfig.TargetModules.allLinear()).withBias("lora_only")
                .withModulesToSave(List.of("lm_head"));
        PeftModel m = trainedGpt(cfg);
        try (var g = jllm.autograd.Grad.off()) {
            ((ModulesToSaveWrapper) m.getBaseModel().module("lm_head")).trainable().parameters().get(0).mul_(1.5);
            m.loraLayer("transformer.h.0.mlp.c_fc").baseLayer().bias().add_(0.25);
        }
        m.eval();
        Tensor want = m.forward(IDX, null).logits();
        Path dir = tmp.resolve("a");
        m.savePretrained(dir);

        PeftModel back = PeftModel.fromPretrained(LoraTestModels.gpt(0), dir);
        assertEquals(0.0, maxDiff(want, back.forward(IDX, null).logits()), OUTPUT_TOL);
        assertEquals(0, back.getNbTrainableParameters()[0], "from_pretrained without is_trainable freezes everything");
        assertFalse(back.isTraining());
        assertEquals(m.loraLayerNames(), back.loraLayerNames());

        PeftModel trainable = PeftModel.fromPretrained(LoraTestModels.gpt(0), dir, true);
        assertEquals(m.getNbTrainableParameters()[0], trainable.getNbTrainableParameters()[0]);

        // loadAdapter into an injected model of the same config
        PeftModel again = PeftModel.getPeftModel(LoraTestModels.gpt(0), cfg);
        again.loadAdapter(dir);
        again.eval();
        assertEquals(0.0, maxDiff(want, again.forward(IDX, null).logits()), OUTPUT_TOL);
    }

    @Test
    void biasAllAdaptersCarryEveryBiasAndLoadStrictly() throws Exception {
        PeftModel m = trainedGpt(LoraConfig.of(2, 4).withBias("all"));
        try (var g = jllm.autograd.Grad.off()) {
            m.getBaseModel().getSubmodule("transformer.h.1.mlp.c_proj").parameters(false).stream()
                    .filter(p -> p.shape().length == 1).forEach(p -> p.add_(0.5));
        }
        m.eval();
        Tensor want = m.forward(IDX, null).logits();
        Path dir = tmp.resolve("all");
        m.savePretrained(dir);
        PeftModel back = PeftModel.fromPretrained(LoraTestModels.gpt(0), dir);
        assertEquals(0.0, maxDiff(want, back.forward(IDX, null).logits()), OUTPUT_TOL, "bias=all: the adapter's biases replace the base model's");

        // the same file under bias=none: the biases are unexpected keys, not silently dropped
        Path none = tmp.resolve("none");
        m.savePretrained(none);
        Files.writeString(none.resolve("adapter_config.json"), Files.readString(none.resolve("adapter_config.json")).replace("\"all\"", "\"none\""));
        var e = assertThrows(IllegalArgumentException.class, () -> PeftModel.fromPretrained(LoraTestModels.gpt(0), none));
        assertTrue(e.getMessage().contains("transformer.h.1.mlp.c_proj.bias"), e.getMessage());
    }

    @Test
    void fanInFanOutThatDisagreesWithTheLayerIsCorrectedWithAWarning() throws Exception {
        PeftModel m = trainedGpt(LoraConfig.of(2, 4));
        m.eval();
        Tensor want = m.forward(IDX, null).logits();
        Path dir = tmp.resolve("fifo");
        m.savePretrained(dir);
        Path cfg = dir.resolve("adapter_config.json");
        Files.writeString(cfg, Files.readString(cfg).replace("\"fan_in_fan_out\" : true", "\"fan_in_fan_out\" : false"));
        PeftModel[] back = new PeftModel[1];
        String err = jllm.testing.StdErr.capture(() -> back[0] = PeftModel.fromPretrained(LoraTestModels.gpt(0), dir));
        assertTrue(err.contains("warning: " + cfg + ": fan_in_fan_out=false but the target layers of this gpt2 model store weights [in, out] (Conv1D); using fan_in_fan_out=true"), err);
        assertTrue(back[0].peftConfig().fanInFanOut());
        assertEquals(0.0, maxDiff(want, back[0].forward(IDX, null).logits()), OUTPUT_TOL);
    }

    @Test
    void mergeAndUnloadEqualsTheAdaptedModel() {
        PeftModel m = trainedGpt(LoraConfig.of(4, 8).withTargetModules("c_attn", "c_proj", "c_fc").withDropout(0.1)
                .withModulesToSave(List.of("lm_head")));
        try (var g = jllm.autograd.Grad.off()) {
            ((ModulesToSaveWrapper) m.getBaseModel().getSubmodule("lm_head")).trainable().parameters().get(0).mul_(1.5);
        }
        m.eval();
        Tensor want = m.forward(IDX, null).logits();
        Tensor delta = m.loraLayer("transformer.h.1.mlp.c_fc").deltaWeight();
        Tensor w0 = m.loraLayer("transformer.h.1.mlp.c_fc").baseLayer().weight().clone();
        Module merged = m.mergeAndUnload();
        GPT g = assertInstanceOf(GPT.class, merged);
        assertTrue(maxDiff(want, g.forward(IDX)) < 1e-5, "merged " + maxDiff(want, g.forward(IDX)));
        for (Module x : g.modules()) assertFalse(x instanceof LoraLinear || x instanceof ModulesToSaveWrapper, x.typeName());
        assertInstanceOf(Linear.class, g.getSubmodule("transformer.h.0.attn.c_attn"));
        assertTrue(maxDiff(w0.add(delta), ((Linear) g.getSubmodule("transformer.h.1.mlp.c_fc")).weight()) < 1e-6);
        assertTrue(g.namedParameters().keySet().stream().noneMatch(k -> k.contains("lora") || k.contains("base_layer")));
        assertThrows(IllegalStateException.class, () -> m.forward(IDX, null));
        // for a weight held in HF's Conv1D [in, out] layout (fan_in_fan_out) the delta is the transpose
        LoraLinear l = new LoraLinear(new Linear(8, 32), LoraConfig.of(4, 8));
        try (var gr = jllm.autograd.Grad.off()) {
            l.loraB().weight().copy_(Tensor.randn(new int[] {32, 4}, new Generator(1)));
        }
        assertEquals("[8, 32]", Arrays.toString(l.deltaWeight(true).shape()));
        assertEquals(0.0, maxDiff(l.deltaWeight().t(), l.deltaWeight(true)));
        assertTrue(maxDiff(l.loraB().weight().matmul(l.loraA().weight()).mul(2.0), l.deltaWeight()) < 1e-6);
    }

    @Test
    void aModuleToSaveTheModelCallsDirectlyIsCaught() {
        // jllm's GPT runs only its Linear layers through forwardChild; ln_f is called through its field
        PeftModel m = PeftModel.getPeftModel(LoraTestModels.gpt(0), LoraConfig.of(2, 2).withModulesToSave(List.of("ln_f")));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.forward(IDX, null));
        assertTrue(e.getMessage().contains("[transformer.ln_f]"), e.getMessage());
    }

    @Test
    void mergingATiedLmHeadIsRefused() {
        PeftModel m = PeftModel.getPeftModel(LoraTestModels.gpt(0), LoraConfig.of(2, 2).withTargetModules("lm_head"));
        IllegalStateException e = assertThrows(IllegalStateException.class, m::mergeAndUnload);
        assertTrue(e.getMessage().contains("tied"), e.getMessage());
    }

    @Test
    void mergeOnTheLlamaShapedTree() {
        TinyLlamaForCausalLM base = new TinyLlamaForCausalLM(2, 0);
        PeftModel m = PeftModel.getPeftModel(base, LoraConfig.of(4, 16).withRslora(true).withTargetModules("q_proj", "v_proj"));
        LoraTestModels.randomizeB(m, 9);
        Tensor x = Tensor.randn(new int[] {3, 16}, new Generator(4));
        Tensor want = base.forward(x);
        assertTrue(maxDiff(want, ((TinyLlamaForCausalLM) m.mergeAndUnload()).forward(x)) < 1e-5);
    }

    @Test
    void afewAdamWStepsOnLoraReduceTheLoss() {
        // the tied lm_head of a freshly initialised tiny GPT gives near-uniform logits whatever the blocks do, so it gets LoRA too
        PeftModel m = PeftModel.getPeftModel(LoraTestModels.gpt(0), LoraConfig.of(4, 8).withTargetModules("c_attn", "c_proj", "c_fc", "lm_head"),
                new Generator(3));
        List<String> report = new java.util.ArrayList<>();
        AdamW opt = Trainer.configureOptimizers(m, 0.1, 5e-2, 0.9, 0.95, report::add);
        Map<String, Tensor> frozen = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : m.namedParameters().entrySet()) if (!e.getValue().requiresGrad()) frozen.put(e.getKey(), e.getValue().clone());
        Tensor y = Tensor.randint(0, 16, new int[] {2, 8}, new Generator(12));
        double first = 0, last = 0;
        for (int i = 0; i < 30; i++) {
            opt.zeroGrad();
            Tensor loss = m.forward(IDX, y).loss();
            if (i == 0) first = loss.item();
            last = loss.item();
            loss.backward();
            opt.step();
        }
        assertTrue(last < 0.8 * first, first + " -> " + last);
        for (Map.Entry<String, Tensor> e : frozen.entrySet()) assertEquals(0.0, maxDiff(e.getValue(), m.namedParameters().get(e.getKey())), e.getKey());
        assertEquals("num decayed parameter tensors: 18, with " + String.format("%,d", m.getNbTrainableParameters()[0]) + " parameters", report.get(0));
    }

    // ------------------------------------------------------------------ bad adapters

    private Path saved(LoraConfig cfg) {
        Path dir = tmp.resolve("bad" + System.nanoTime());
        trainedGpt(cfg).savePretrained(dir);
        return dir;
    }

    private static void rewrite(Path dir, java.util.function.Consumer<LinkedHashMap<String, Tensor>> edit) throws Exception {
        Path f = dir.resolve("adapter_model.safetensors");
        LinkedHashMap<String, Tensor> sd = TensorIO.load(f);
        edit.accept(sd);
        TensorIO.save(f, sd);
    }

    @Test
    void missingUnexpectedAndMisshapenKeysAreNamed() throws Exception {
        Path dir = saved(LoraConfig.of(2, 4));
        rewrite(dir, sd -> {
            sd.remove("base_model.model.transformer.h.1.attn.c_attn.lora_B.weight");
            sd.put("base_model.model.transformer.h.1.attn.c_attn.lora_C.weight", Tensor.zeros(2, 2));
            sd.put("base_model.model.transformer.h.0.attn.c_attn.lora_A.weight", Tensor.zeros(3, 8));
        });
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeftModel.fromPretrained(LoraTestModels.gpt(0), dir));
        String msg = e.getMessage();
        assertTrue(msg.contains(dir.resolve("adapter_model.safetensors").toString()), msg);
        assertTrue(msg.contains("missing key(s) [base_model.model.transformer.h.1.attn.c_attn.lora_B.weight]"), msg);
        assertTrue(msg.contains("unexpected key(s) [base_model.model.transformer.h.1.attn.c_attn.lora_C.weight]"), msg);
        assertTrue(msg.contains("size mismatch for base_model.model.transformer.h.0.attn.c_attn.lora_A.weight: the adapter has shape [3, 8], this model needs [2, 8]"), msg);
        assertTrue(msg.contains("r=2"), msg);
    }

    @Test
    void weightsOfAnotherRankAreRejected() throws Exception {
        Path dir = saved(LoraConfig.of(4, 4));
        String cfg = Files.readString(dir.resolve("adapter_config.json")).replace("\"r\" : 4", "\"r\" : 2");
        Files.writeString(dir.resolve("adapter_config.json"), cfg);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeftModel.fromPretrained(LoraTestModels.gpt(0), dir));
        assertTrue(e.getMessage().contains("this model needs [2, 8]"), e.getMessage());
    }

    @Test
    void configMismatchOnLoadAdapter() {
        Path dir = saved(LoraConfig.of(2, 4));
        PeftModel other = PeftModel.getPeftModel(LoraTestModels.gpt(0), LoraConfig.of(4, 4).withTargetModules("c_fc"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> other.loadAdapter(dir));
        assertTrue(e.getMessage().contains("adapter_config.json does not match") && e.getMessage().contains("r 2 vs 4")
                && e.getMessage().contains("target_modules"), e.getMessage());
    }

    @Test
    void brokenFilesAndDirectories() throws Exception {
        assertThrows(IllegalArgumentException.class, () -> PeftModel.fromPretrained(LoraTestModels.gpt(0), tmp.resolve("nope")));
        Path dir = saved(LoraConfig.of(2, 4));
        Files.writeString(dir.resolve("adapter_model.safetensors"), "garbage");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeftModel.fromPretrained(LoraTestModels.gpt(0), dir));
        assertTrue(e.getMessage().contains("adapter_model.safetensors"), e.getMessage());
        Files.delete(dir.resolve("adapter_model.safetensors"));
        e = assertThrows(IllegalArgumentException.class, () -> PeftModel.fromPretrained(LoraTestModels.gpt(0), dir));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\": \"IA3\", \"r\": 2}");
        e = assertThrows(IllegalArgumentException.class, () -> PeftModel.fromPretrained(LoraTestModels.gpt(0), dir));
        assertTrue(e.getMessage().contains("only LORA"), e.getMessage());
        Files.writeString(dir.resolve("adapter_config.json"), "{not json");
        e = assertThrows(IllegalArgumentException.class, () -> PeftModel.fromPretrained(LoraTestModels.gpt(0), dir));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
    }

    @Test
    void gpt2ModelKeysWithoutTransformerPrefixLoad() throws Exception {
        PeftModel m = trainedGpt(LoraConfig.of(2, 4));
        m.eval();
        Tensor want = m.forward(IDX, null).logits();
        Path dir = tmp.resolve("noprefix");
        m.savePretrained(dir);
        rewrite(dir, sd -> {
            LinkedHashMap<String, Tensor> copy = new LinkedHashMap<>(sd);
            sd.clear();
            copy.forEach((k, v) -> sd.put(k.replace("base_model.model.transformer.", "base_model.model."), v));
        });
        assertEquals(0.0, maxDiff(want, PeftModel.fromPretrained(LoraTestModels.gpt(0), dir).forward(IDX, null).logits()), OUTPUT_TOL);
    }
}
