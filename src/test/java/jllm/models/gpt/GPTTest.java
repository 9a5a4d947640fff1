package jllm.models.gpt;

import jllm.models.LanguageModel;
import jllm.nn.Module;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GPTTest {
    static final GPTConfig TINY = new GPTConfig(16, 64, 2, 4, 32);

    @Test
    void configDefaultsAndPresets() {
        GPTConfig d = GPTConfig.DEFAULT;
        assertEquals(List.of(1024, 50257, 12, 12, 768), List.of(d.blockSize(), d.vocabSize(), d.nLayer(), d.nHead(), d.nEmbd()));
        assertEquals(0.0, d.dropout());
        assertTrue(d.bias());
        assertSame(d, GPTConfig.of("gpt2"));
        GPTConfig m = GPTConfig.of("gpt2-medium"), l = GPTConfig.of("gpt2-large"), xl = GPTConfig.of("gpt2-xl");
        assertEquals(List.of(24, 16, 1024), List.of(m.nLayer(), m.nHead(), m.nEmbd()));
        assertEquals(List.of(36, 20, 1280), List.of(l.nLayer(), l.nHead(), l.nEmbd()));
        assertEquals(List.of(48, 25, 1600), List.of(xl.nLayer(), xl.nHead(), xl.nEmbd()));
        for (GPTConfig c : List.of(m, l, xl)) assertEquals(List.of(1024, 50257), List.of(c.blockSize(), c.vocabSize()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GPTConfig.of("gpt3"));
        assertTrue(e.getMessage().contains("gpt3") && e.getMessage().contains("gpt2, gpt2-medium, gpt2-large, gpt2-xl"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new GPTConfig(16, 64, 2, 5, 32));
        assertThrows(IllegalArgumentException.class, () -> new GPTConfig(16, 64, 2, 4, 32, 1.0, true));
    }

    @Test
    void configJsonRoundTrip() {
        GPTConfig c = new GPTConfig(256, 65, 3, 4, 64, 0.1, false);
        String json = c.toJson();
        assertTrue(json.contains("\"block_size\" : 256") && json.contains("\"n_embd\" : 64") && json.contains("\"bias\" : false"), json);
        assertEquals(c, GPTConfig.fromJson(json));
        // nanoGPT-style config without dropout/bias: defaults; unknown keys ignored
        assertEquals(new GPTConfig(8, 10, 1, 2, 4), GPTConfig.fromJson("{\"block_size\":8,\"vocab_size\":10,\"n_layer\":1,\"n_head\":2,\"n_embd\":4,\"x\":1}"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GPTConfig.fromJson("{\"block_size\":8,\"vocab_size\":10,\"n_layer\":1,\"n_head\":3,\"n_embd\":4}"));
        assertTrue(e.getMessage().contains("n_head"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GPTConfig.fromJson("{not json"));
    }

    @Test
    void parameterCounts() {
        assertEquals(124_439_808L, GPTConfig.of("gpt2").numParameters(false));
        assertEquals(123_653_376L, GPTConfig.of("gpt2").numParameters(true));
        // the formula agrees with real models, biased or not
        for (GPTConfig c : List.of(TINY, new GPTConfig(8, 50, 3, 2, 12, 0.0, false), new GPTConfig(32, 7, 0, 1, 8))) {
            GPT g = new GPT(c, new Generator(1));
            assertEquals(c.numParameters(false), g.numParameters());
            assertEquals(c.numParameters(false), g.getNumParams(false));
            assertEquals(c.numParameters(true), g.getNumParams(true));
            assertEquals(g.numParameters() - c.blockSize() * (long) c.nEmbd(), g.getNumParams(true));
        }
    }

    /** Builds the real 124M model (~500 MB, several seconds on 2 cores): run with -Djllm.slow=true. */
    @Test
    @org.junit.jupiter.api.condition.EnabledIfSystemProperty(named = "jllm.slow", matches = "true")
    void gpt2SizedModelHas124MParameters() {
        long t0 = System.nanoTime();
        GPT g = new GPT(GPTConfig.gpt2(), new Generator(0));
        double s = (System.nanoTime() - t0) / 1e9;
        assertEquals(124_439_808L, g.numParameters());
        assertEquals(124_439_808L, g.getNumParams(false));
        assertEquals(123_653_376L, g.getNumParams(true));
        assertEquals(2 + 12 * 12 + 2, g.parameters().size());
        System.out.println("gpt2 built in " + s + " s");
    }

    @Test
    void namesTyingAndStateDict() {
        GPT g = new GPT(TINY, new Generator(0));
        assertSame(g.wte.weight(), g.lmHead.weight());
        Map<String, Tensor> sd = g.stateDict();
        assertTrue(sd.containsKey("transformer.wte.weight") && sd.containsKey("lm_head.weight"));
        assertTrue(sd.containsKey("transformer.h.1.attn.c_attn.weight") && sd.containsKey("transformer.h.0.mlp.c_proj.bias"));
        assertTrue(sd.containsKey("transformer.h.0.attn.bias"));
        assertEquals(List.of(1, 1, 16, 16), java.util.Arrays.stream(sd.get("transformer.h.0.attn.bias").shape()).boxed().toList());
        assertFalse(g.namedParameters().containsKey("lm_head.weight"), "tied weight listed once, under its first name");
        assertEquals(List.of(96, 32), java.util.Arrays.stream(sd.get("transformer.h.0.attn.c_attn.weight").shape()).boxed().toList());
        // a state dict round trip into a fresh model reproduces the logits
        GPT g2 = new GPT(TINY, new Generator(5));
        assertTrue(g2.loadStateDict(g.stateDict()).isClean());
        Tensor idx = Tensor.randint(0, 64, new int[] {2, 7}, new Generator(3));
        assertTrue(g.forward(idx).equal(g2.forward(idx)));
        assertSame(g2.wte.weight(), g2.lmHead.weight(), "loading keeps the tie");
    }

    @Test
    void loadsHuggingFaceLayout() {
        GPT src = new GPT(TINY, new Generator(0));
        // GPT2Model's safetensors layout: no "transformer." prefix, Conv1D weights [in, out], mask buffers
        java.util.LinkedHashMap<String, Tensor> hf = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : src.stateDict().entrySet()) {
            String k = e.getKey();
            if (k.endsWith(".attn.bias")) continue;
            Tensor t = e.getValue();
            boolean conv = k.endsWith("c_attn.weight") || k.endsWith("c_proj.weight") || k.endsWith("c_fc.weight");
            hf.put(k.startsWith("transformer.") ? k.substring("transformer.".length()) : k, conv ? t.t().contiguous() : t);
        }
        hf.put("h.0.attn.bias", Tensor.ones(1, 1, 16, 16));
        hf.put("h.0.attn.masked_bias", Tensor.scalar(-1e4));
        GPT dst = new GPT(TINY, new Generator(9));
        dst.loadHuggingFace(hf);
        Tensor idx = Tensor.randint(0, 64, new int[] {2, 9}, new Generator(3));
        assertTrue(dst.forward(idx).equal(src.forward(idx)));
        assertSame(dst.wte.weight(), dst.lmHead.weight());
        hf.remove("h.1.mlp.c_fc.bias");
        jllm.io.hf.HfException e = assertThrows(jllm.io.hf.HfException.class, () -> dst.loadHuggingFace(hf));
        assertTrue(e.getMessage().contains("transformer.h.1.mlp.c_fc.bias"), e.getMessage());
    }

    @Test
    void printsLikePyTorch() {
        GPT g = new GPT(new GPTConfig(16, 64, 1, 4, 32), new Generator(0));
        String expected = """
                GPT(
                  (transformer): ModuleDict(
                    (wte): Embedding(64, 32)
                    (wpe): Embedding(16, 32)
                    (h): ModuleList(
                      (0): Block(
                        (ln_1): LayerNorm((32,), eps=1e-05, elementwise_affine=True)
                        (attn): CausalSelfAttention(
                          (c_attn): Linear(in_features=32, out_features=96, bias=True)
                          (c_proj): Linear(in_features=32, out_features=32, bias=True)
                        )
                        (ln_2): LayerNorm((32,), eps=1e-05, elementwise_affine=True)
                        (mlp): MLP(
                          (c_fc): Linear(in_features=32, out_features=128, bias=True)
                          (gelu): GELU(approximate='tanh')
                          (c_proj): Linear(in_features=128, out_features=32, bias=True)
                        )
                      )
                    )
                    (ln_f): LayerNorm((32,), eps=1e-05, elementwise_affine=True)
                  )
                  (lm_head): Linear(in_features=32, out_features=64, bias=False)
                )""";
        assertEquals(expected, g.toString());
        String twelve = new GPT(new GPTConfig(16, 64, 12, 4, 32), new Generator(0)).toString();
        assertTrue(twelve.contains("(0-11): 12 x Block("), twelve);
        String withDropout = new GPT(TINY.withDropout(0.1), new Generator(0)).toString();
        assertTrue(withDropout.contains("(drop): Dropout(p=0.1, inplace=False)") && withDropout.contains("(resid_dropout)"), withDropout);
    }

    @Test
    void initFollowsTheSeed() {
        GPTConfig c = new GPTConfig(64, 512, 4, 4, 128);
        GPT g = new GPT(c, new Generator(0));
        assertEquals(0.02, std(g.wte.weight()), 0.001);
        assertEquals(0.02, std(g.wpe.weight()), 0.001);
        assertEquals(0.02, std(lin(g, "transformer.h.0.attn.c_attn").weight()), 0.001);
        assertEquals(0.02, std(lin(g, "transformer.h.3.mlp.c_fc").weight()), 0.001);
        double scaled = 0.02 / Math.sqrt(2 * 4);
        assertEquals(scaled, std(lin(g, "transformer.h.0.attn.c_proj").weight()), 0.0005);
        assertEquals(scaled, std(lin(g, "transformer.h.2.mlp.c_proj").weight()), 0.0005);
        assertEquals(0.0, lin(g, "transformer.h.1.attn.c_attn").bias().abs().max().item());
        assertEquals(0.0, lin(g, "transformer.h.1.mlp.c_proj").bias().abs().max().item());
        assertEquals(1.0, g.block(1).ln1.weight().min().item());
        // reproducible from a seed, through an explicit generator or the default one
        assertTrue(new GPT(TINY, new Generator(7)).wte.weight().equal(new GPT(TINY, new Generator(7)).wte.weight()));
        Generator.manualSeed(42);
        Tensor a = lin(new GPT(TINY), "transformer.h.1.mlp.c_proj").weight();
        Generator.manualSeed(42);
        Tensor b = lin(new GPT(TINY), "transformer.h.1.mlp.c_proj").weight();
        assertTrue(a.equal(b));
        assertFalse(a.equal(lin(new GPT(TINY, new Generator(8)), "transformer.h.1.mlp.c_proj").weight()));
    }

    static double std(Tensor t) { return t.std().item(); }

    @Test
    void forwardShapesLossAndSanity() {
        // seed 002's sanity check: a fresh model predicts ~uniformly, loss ~ ln(vocab)
        GPTConfig c = new GPTConfig(32, 1000, 2, 4, 64);
        GPT g = new GPT(c, new Generator(0));
        Generator gen = new Generator(1);
        Tensor idx = Tensor.randint(0, 1000, new int[] {4, 32}, gen), tgt = Tensor.randint(0, 1000, new int[] {4, 32}, gen);
        LanguageModel.Output out = g.forward(idx, tgt);
        assertEquals(List.of(4, 32, 1000), java.util.Arrays.stream(out.logits().shape()).boxed().toList());
        assertEquals(Math.log(1000), out.loss().item(), 0.1);
        assertNull(g.forward(idx, null).loss());
        assertEquals(1000, g.vocabSize());
        assertEquals(32, g.blockSize());
    }

    @Test
    void tooLongSequenceIsAnError() {
        GPT g = new GPT(TINY, new Generator(0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> g.forward(Tensor.zeros(new int[] {1, 17}, DType.I64, jllm.tensor.Device.CPU), null));
        assertEquals("Cannot forward sequence of length 17, block size is only 16", e.getMessage());
        g.forward(Tensor.zeros(new int[] {1, 16}, DType.I64, jllm.tensor.Device.CPU), null);
        assertThrows(IllegalArgumentException.class, () -> g.forward(Tensor.zeros(2, 3), null));
        assertThrows(IllegalArgumentException.class, () -> g.forward(Tensor.zeros(new int[] {3}, DType.I64, jllm.tensor.Device.CPU), null));
    }

    @Test
    void dropoutOnlyWhileTraining() {
        GPT g = new GPT(TINY.withDropout(0.5), new Generator(0));
        Tensor idx = Tensor.randint(0, 64, new int[] {2, 8}, new Generator(3));
        g.eval();
        Tensor e1 = g.forward(idx), e2 = g.forward(idx);
        assertTrue(e1.equal(e2));
        g.train();
        Tensor t1 = g.forward(idx);
        assertNotEquals(0.0, t1.sub(e1).abs().max().item());
        // dropout adds no parameters
        assertEquals(TINY.numParameters(false), g.numParameters());
    }

    @Test
    void backwardReachesEveryParameter() {
        GPT g = new GPT(TINY, new Generator(0));
        Tensor idx = Tensor.randint(0, 64, new int[] {2, 8}, new Generator(3));
        g.forward(idx, idx).loss().backward();
        for (Map.Entry<String, Tensor> e : g.namedParameters().entrySet()) {
            assertTrue(e.getValue().grad() != null, e.getKey());
        }
        assertSame(g.wte.weight().grad(), g.lmHead.weight().grad());
    }

    @Test
    void moduleIsAModule() {
        Module m = new GPT(TINY, new Generator(0));
        assertEquals("GPT", m.typeName());
    }

    private static jllm.nn.Linear lin(GPT g, String name) {
        return (jllm.nn.Linear) g.getSubmodule(name);
    }
}
