package jllm.lora;

import jllm.lora.LoraTestModels.TinyLlamaForCausalLM;
import jllm.models.CachedLanguageModel;
import jllm.models.gpt.GPT;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.UnaryModule;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static jllm.lora.LoraTestModels.maxDiff;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LoraInjectionTest {

    /** Whether s holds block (a text block) with every line shifted right by the same amount, as inside a printed tree. */
    static boolean containsIndented(String s, String block) {
        for (int n = 0; n <= 40; n++) {
            String pad = " ".repeat(n);
            if (s.contains(pad + block.replace("\n", "\n" + pad))) return true;
        }
        return false;
    }

    @Test
    void llamaNamesGetQAndVAndPrintLikeTheSeed() {
        TinyLlamaForCausalLM base = new TinyLlamaForCausalLM(2, 0);
        PeftModel m = PeftModel.getPeftModel(base, LoraConfig.of(8, 32).withDropout(0.1).withTargetModules("q_proj", "v_proj"));
        assertEquals(List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.v_proj",
                "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.v_proj"), m.loraLayerNames());
        assertEquals(List.of("q_proj", "v_proj"), m.peftConfig().targetModules().names());
        String s = m.toString();
        assertTrue(s.startsWith("""
                PeftModelForCausalLM(
                  (base_model): LoraModel(
                    (model): TinyLlamaForCausalLM(
                      (model): TinyModel(
                        (layers): ModuleList(
                          (0-1): 2 x Layer(
                            (self_attn): Attn(
                              (q_proj): lora.Linear(
                                (base_layer): Linear(in_features=16, out_features=16, bias=False)
                                (lora_dropout): ModuleDict(
                                  (default): Dropout(p=0.1, inplace=False)
                                )
                                (lora_A): ModuleDict(
                                  (default): Linear(in_features=16, out_features=8, bias=False)
                                )
                                (lora_B): ModuleDict(
                                  (default): Linear(in_features=8, out_features=16, bias=False)
                                )
                              )
                              (k_proj): Linear(in_features=16, out_features=16, bias=False)
                              (v_proj): lora.Linear("""), s);
        assertTrue(s.endsWith("""
                      (lm_head): Linear(in_features=16, out_features=32, bias=False)
                    )
                  )
                )"""), s);
        // the names PEFT gives these parameters
        assertTrue(m.namedParameters().containsKey("base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"));
        assertTrue(m.namedParameters().containsKey("base_model.model.model.layers.1.self_attn.v_proj.base_layer.weight"));
        assertTrue(m.namedParameters().containsKey("base_model.model.lm_head.weight"));
    }

    @Test
    void gptGetsCAttnByDefaultAndStaysACachedLanguageModel() {
        GPT base = LoraTestModels.gpt(0);
        Linear cAttn = (Linear) base.getSubmodule("transformer.h.0.attn.c_attn");
        PeftModel m = PeftModel.getPeftModel(base, LoraConfig.of(2, 4));
        assertEquals(List.of("transformer.h.0.attn.c_attn", "transformer.h.1.attn.c_attn"), m.loraLayerNames());
        assertInstanceOf(CachedLanguageModel.class, m);
        assertSame(base, m.getBaseModel());
        assertSame(cAttn, m.loraLayer("transformer.h.0.attn.c_attn").baseLayer());
        assertTrue(m.peftConfig().fanInFanOut(), "PEFT sets fan_in_fan_out for GPT-2's Conv1D");
        String s = m.toString();
        assertTrue(containsIndented(s, """
                      (attn): CausalSelfAttention(
                        (c_attn): lora.Linear(
                          (base_layer): Linear(in_features=8, out_features=24, bias=True)
                          (lora_dropout): ModuleDict(
                            (default): Identity()
                          )
                          (lora_A): ModuleDict(
                            (default): Linear(in_features=8, out_features=2, bias=False)
                          )
                          (lora_B): ModuleDict(
                            (default): Linear(in_features=2, out_features=24, bias=False)
                          )
                        )
                        (c_proj): Linear(in_features=8, out_features=8, bias=True)
                      )"""), s);
        assertTrue(m.namedParameters().containsKey("base_model.model.transformer.h.1.attn.c_attn.lora_B.default.weight"));
    }

    @Test
    void defaultTargetsComeFromTheModelRegistry() {
        var llama = new jllm.models.llama.LlamaForCausalLM(jllm.models.llama.LlamaConfig.of(32, 16, 32, 2, 2, 1, 16), new Generator(0));
        assertEquals(List.of("q_proj", "v_proj"), PeftModel.getPeftModel(llama, LoraConfig.of(2, 4)).peftConfig().targetModules().names());
        assertFalse(PeftModel.getPeftModel(new jllm.models.llama.LlamaForCausalLM(jllm.models.llama.LlamaConfig.of(32, 16, 32, 2, 2, 1, 16),
                new Generator(0)), LoraConfig.of(2, 4)).peftConfig().fanInFanOut());
        var e = assertThrows(IllegalArgumentException.class, () -> PeftModel.getPeftModel(new TinyLlamaForCausalLM(1, 0), LoraConfig.of(2, 4)));
        assertTrue(e.getMessage().contains("Please specify `target_modules`"), e.getMessage());
    }

    @Test
    void freezesAllButLoraAndCountsLikePeft() {
        TinyLlamaForCausalLM base = new TinyLlamaForCausalLM(2, 0);
        PeftModel m = PeftModel.getPeftModel(base, LoraConfig.of(4, 8).withTargetModules("q_proj", "v_proj"));
        for (Map.Entry<String, Tensor> e : m.namedParameters().entrySet()) {
            boolean lora = e.getKey().contains(".lora_A.") || e.getKey().contains(".lora_B.");
            assertEquals(lora, e.getValue().requiresGrad(), e.getKey());
        }
        // 8 base 16x16 + lm_head 16x32 = 2560; LoRA on 4 layers: (4*16 + 16*4) * 4 = 512
        assertEquals(512, m.getNbTrainableParameters()[0]);
        assertEquals(3072, m.getNbTrainableParameters()[1]);
        assertEquals("trainable params: 512 || all params: 3,072 || trainable%: 16.6667", m.trainableParametersLine());
    }

    @Test
    void gptCountsTheTiedEmbeddingOnce() {
        GPT base = LoraTestModels.gpt(0);
        long baseCount = LoraTestModels.GPT_TINY.numParameters(false);
        PeftModel m = PeftModel.getPeftModel(base, LoraConfig.of(2, 4));
        long lora = 2L * (2 * 8 + 24 * 2);
        assertEquals(lora, m.getNbTrainableParameters()[0]);
        assertEquals(baseCount + lora, m.getNbTrainableParameters()[1]);
        String pct = new java.math.BigDecimal(100.0 * lora / (baseCount + lora)).setScale(4, java.math.RoundingMode.HALF_EVEN).toPlainString();
        assertEquals(String.format("trainable params: %d || all params: %,d || trainable%%: %s", lora, baseCount + lora, pct),
                m.trainableParametersLine());
    }

    @Test
    void peftsExampleLineFormat() {
        // the numbers of PEFT's documented example (Llama-3-8B-like counts), through the same formatter
        assertEquals("0.0848", new java.math.BigDecimal(100.0 * 6_815_744 / 8_037_076_992L).setScale(4, java.math.RoundingMode.HALF_EVEN).toPlainString());
    }

    @Test
    void biasOptions() {
        PeftModel all = PeftModel.getPeftModel(LoraTestModels.gpt(0), LoraConfig.of(2, 4).withBias("all"));
        for (Map.Entry<String, Tensor> e : all.namedParameters().entrySet()) {
            boolean want = e.getKey().endsWith(".bias") || e.getKey().contains(".lora_");
            assertEquals(want, e.getValue().requiresGrad(), e.getKey());
        }
        PeftModel only = PeftModel.getPeftModel(LoraTestModels.gpt(0), LoraConfig.of(2, 4).withBias("lora_only"));
        for (Map.Entry<String, Tensor> e : only.namedParameters().entrySet()) {
            boolean want = e.getKey().endsWith("c_attn.base_layer.bias") || e.getKey().contains(".lora_");
            assertEquals(want, e.getValue().requiresGrad(), e.getKey());
        }
    }

    @Test
    void targetMatchingListSuffixRegexAndAllLinear() {
        PeftModel a = PeftModel.getPeftModel(new TinyLlamaForCausalLM(2, 0), LoraConfig.of(2, 2).withTargetModules("self_attn.o_proj"));
        assertEquals(List.of("model.layers.0.self_attn.o_proj", "model.layers.1.self_attn.o_proj"), a.loraLayerNames());
        // "proj" is not a suffix after a dot: no match
        assertThrows(IllegalArgumentException.class,
                () -> PeftModel.getPeftModel(new TinyLlamaForCausalLM(1, 0), LoraConfig.of(2, 2).withTargetModules("proj")));
        PeftModel r = PeftModel.getPeftModel(new TinyLlamaForCausalLM(2, 0),
                LoraConfig.of(2, 2).withTargetModules(LoraConfig.TargetModules.regex(".*\\.1\\.self_attn\\.(k|v)_proj")));
        assertEquals(List.of("model.layers.1.self_attn.k_proj", "model.layers.1.self_attn.v_proj"), r.loraLayerNames());
        PeftModel al = PeftModel.getPeftModel(new TinyLlamaForCausalLM(1, 0),
                LoraConfig.of(2, 2).withTargetModules(LoraConfig.TargetModules.parse("all-linear")));
        assertEquals(List.of("model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj", "model.layers.0.self_attn.v_proj",
                "model.layers.0.self_attn.o_proj"), al.loraLayerNames(), "all-linear leaves out lm_head");
        PeftModel g = PeftModel.getPeftModel(LoraTestModels.gpt(0), LoraConfig.of(2, 2).withTargetModules(LoraConfig.TargetModules.allLinear()));
        assertEquals(8, g.loraLayerNames().size());
        assertFalse(g.loraLayerNames().contains("lm_head"));
        assertEquals(LoraConfig.TargetModules.names("q_proj", "v_proj"), LoraConfig.TargetModules.parse("q_proj, v_proj"));
    }

    @Test
    void errorsLikePeft() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> PeftModel.getPeftModel(new TinyLlamaForCausalLM(1, 0), LoraConfig.of(2, 2).withTargetModules("foo", "bar")));
        assertEquals("Target modules {'foo', 'bar'} not found in the base model. Please check the target modules and try again.", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LoraConfig.of(0, 2));
        assertEquals("`r` should be a positive integer value but the value passed is 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> PeftModel.getPeftModel(new TinyLlamaForCausalLM(1, 0), LoraConfig.of(2, 2).withTargetModules("self_attn")));
        assertTrue(e.getMessage().contains("Target module model.layers.0.self_attn (Attn) is not supported"), e.getMessage());
        // an unknown model type needs explicit targets
        Module plain = new Linear(3, 3);
        e = assertThrows(IllegalArgumentException.class, () -> PeftModel.getPeftModel(plain, LoraConfig.of(2, 2)));
        assertTrue(e.getMessage().startsWith("Please specify `target_modules` in `peft_config`"), e.getMessage());
        // twice on one model
        GPT g = LoraTestModels.gpt(0);
        PeftModel.getPeftModel(g, LoraConfig.of(2, 2));
        assertThrows(IllegalArgumentException.class, () -> PeftModel.getPeftModel(g, LoraConfig.of(2, 2)));
        assertThrows(IllegalArgumentException.class, () -> LoraConfig.of(2, 2).withBias("some"));
        e = assertThrows(IllegalArgumentException.class,
                () -> PeftModel.getPeftModel(LoraTestModels.gpt(0), LoraConfig.of(2, 2).withModulesToSave(List.of("score"))));
        assertEquals("modules_to_save [score] not found in the base model", e.getMessage());
    }

    @Test
    void scalingAndRsLora() {
        assertEquals(4.0, LoraConfig.of(4, 16).scaling());
        assertEquals(8.0, LoraConfig.of(4, 16).withRslora(true).scaling());
        PeftModel m = PeftModel.getPeftModel(new TinyLlamaForCausalLM(1, 0), LoraConfig.of(4, 16).withRslora(true).withTargetModules("q_proj"));
        LoraLinear l = m.loraLayer("model.layers.0.self_attn.q_proj");
        assertEquals(8.0, l.scaling());
        // forward = base + B A x * scaling, checked by hand
        LoraTestModels.randomizeB(m, 3);
        Tensor x = Tensor.randn(new int[] {3, 16}, new Generator(5));
        Tensor want = x.matmul(l.baseLayer().weight().t()).add(x.matmul(l.loraA().weight().t()).matmul(l.loraB().weight().t()).mul(8.0));
        assertTrue(maxDiff(want, l.forward(x)) < 1e-5);
    }

    @Test
    void freshAdapterLeavesOutputsUnchanged() {
        GPT ref = LoraTestModels.gpt(7);
        PeftModel m = PeftModel.getPeftModel(LoraTestModels.gpt(7), LoraConfig.of(4, 8).withTargetModules(LoraConfig.TargetModules.allLinear()));
        Tensor idx = Tensor.randint(0, 16, new int[] {2, 8}, new Generator(1));
        assertEquals(0.0, maxDiff(ref.forward(idx), m.forward(idx, null).logits()));
        for (String n : m.loraLayerNames()) {
            assertEquals(0.0, m.loraLayer(n).loraB().weight().abs().max().item());
            double bound = 1 / Math.sqrt(m.loraLayer(n).baseLayer().inFeatures); // kaiming_uniform(a=sqrt(5)) bound
            Tensor a = m.loraLayer(n).loraA().weight();
            assertTrue(a.abs().max().item() <= bound && a.abs().max().item() > bound / 2, n);
        }
    }

    @Test
    void gradientsReachOnlyLoraParameters() {
        PeftModel m = PeftModel.getPeftModel(LoraTestModels.gpt(0), LoraConfig.of(2, 4));
        LoraTestModels.randomizeB(m, 1); // with B = 0, A's gradient is exactly zero
        Tensor idx = Tensor.randint(0, 16, new int[] {2, 8}, new Generator(1));
        m.forward(idx, idx).loss().backward();
        for (Map.Entry<String, Tensor> e : m.namedParameters().entrySet()) {
            if (e.getKey().contains(".lora_")) {
                assertNotNull(e.getValue().grad(), e.getKey());
                assertTrue(e.getValue().grad().abs().max().item() > 0, e.getKey());
            } else {
                assertNull(e.getValue().grad(), e.getKey());
            }
        }
    }

    @Test
    void modulesToSaveWrapsATrainableCopy() {
        GPT base = LoraTestModels.gpt(0);
        Linear head = base.lmHead;
        PeftModel m = PeftModel.getPeftModel(base, LoraConfig.of(2, 4).withModulesToSave(List.of("lm_head")));
        ModulesToSaveWrapper w = assertInstanceOf(ModulesToSaveWrapper.class, base.module("lm_head"));
        assertSame(head, w.originalModule());
        assertFalse(head.weight().requiresGrad());
        Map<String, Tensor> p = m.namedParameters();
        assertTrue(p.get("base_model.model.lm_head.modules_to_save.default.weight").requiresGrad());
        assertTrue(containsIndented(m.toString(), """
                  (lm_head): ModulesToSaveWrapper(
                    (original_module): Linear(in_features=8, out_features=16, bias=False)
                    (modules_to_save): ModuleDict(
                      (default): Linear(in_features=8, out_features=16, bias=False)
                    )
                  )"""), m.toString());
        // the copy (not the tied embedding) is what runs
        Tensor idx = Tensor.randint(0, 16, new int[] {1, 8}, new Generator(1));
        Tensor before = m.forward(idx, null).logits();
        try (var g = jllm.autograd.Grad.off()) {
            ((Linear) w.trainable()).weight().mul_(2.0);
        }
        assertTrue(maxDiff(before, m.forward(idx, null).logits()) > 1e-3);
        assertEquals(2L * (2 * 8 + 24 * 2) + 16 * 8, m.getNbTrainableParameters()[0]);
    }

    @Test
    void aModelThatBypassesForwardChildIsCaught() {
        class Direct extends Module implements jllm.models.LanguageModel {
            final Linear q = registerModule("q_proj", new Linear(4, 4));

            @Override public Output forward(Tensor idx, Tensor targets) { return new Output(q.forward(idx), null); }

            @Override public int blockSize() { return 1; }

            @Override public int vocabSize() { return 4; }
        }
        PeftModel m = PeftModel.getPeftModel(new Direct(), LoraConfig.of(2, 2).withTargetModules("q_proj"));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.forward(Tensor.randn(2, 4), null));
        assertTrue(e.getMessage().contains("[q_proj]") && e.getMessage().contains("forwardChild"), e.getMessage());
        assertTrue(UnaryModule.class.isInstance(m.getBaseModel().module("q_proj")));
    }
}
