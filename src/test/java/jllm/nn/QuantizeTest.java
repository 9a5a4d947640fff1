package jllm.nn;

import static org.junit.jupiter.api.Assertions.*;

import jllm.lora.LoraConfig;
import jllm.lora.PeftModel;
import jllm.models.KVCache;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Weight-only conversion of a whole model: outputs close to F32's, weights frozen and shared as before. */
class QuantizeTest {

    private static LlamaForCausalLM llama(boolean tied) {
        LlamaConfig c = LlamaConfig.of(96, 64, 128, 2, 4, 2, 32).withTieWordEmbeddings(tied);
        return new LlamaForCausalLM(c, new Generator(1));
    }

    private static final Tensor IDX = Tensor.of(new long[] {5, 17, 3, 90, 41, 41, 7, 0, 66, 12}, 1, 10);

    private static double relErr(Tensor ref, Tensor got) {
        return ref.sub(got).abs().max().item() / ref.abs().max().item();
    }

    @Test
    void logitsStayCloseToFloat32() {
        Tensor ref;
        try (var g = jllm.autograd.Grad.off()) {
            ref = llama(false).forward(IDX);
        }
        // bound ~ the type's relative rounding step: bf16 8 bits, f16 11, q8_0 ~7 per block, q4_0 ~3
        double[] bound = {1e-6, 2e-2, 3e-3, 3e-2, 0.3};
        DType[] types = {DType.F32, DType.BF16, DType.F16, DType.Q8_0, DType.Q4_0};
        for (int i = 0; i < types.length; i++) {
            LlamaForCausalLM m = llama(false);
            Quantize.Result r = Quantize.weights(m, types[i]);
            assertTrue(r.kept().isEmpty(), r.kept().toString());
            assertEquals(2 * 7 + 2, r.converted().size(), r.converted().toString()); // 7 linears per layer, embeddings, head
            assertEquals(types[i], m.namedParameters().get("model.layers.1.mlp.down_proj.weight").dtype());
            assertEquals(DType.F32, m.namedParameters().get("model.norm.weight").dtype());
            double err;
            try (var g = jllm.autograd.Grad.off()) {
                err = relErr(ref, m.forward(IDX));
            }
            assertTrue(err < bound[i], types[i] + ": relative error " + err);
        }
    }

    @Test
    void cachedDecodingEqualsTheFullForward() {
        LlamaForCausalLM m = llama(true);
        Quantize.weights(m, DType.Q4_0);
        try (var g = jllm.autograd.Grad.off()) {
            Tensor full = m.forward(IDX);
            KVCache cache = m.newCache(1, 32);
            m.forward(IDX.narrow(1, 0, 9), cache, false);
            Tensor last = m.forward(IDX.narrow(1, 9, 1), cache, true);
            double err = relErr(full.narrow(1, 9, 1).reshape(-1), last.reshape(-1));
            assertTrue(err < 1e-5, "decode vs full forward: " + err);
        }
    }

    @Test
    void tiedWeightsStayOneTensorAndFrozen() {
        LlamaForCausalLM m = llama(true);
        Quantize.weights(m, DType.Q8_0);
        var p = m.namedParameters();
        Tensor emb = m.getSubmodule("model.embed_tokens").parameter("weight");
        assertSame(emb, m.getSubmodule("lm_head").parameter("weight"));
        assertEquals(DType.Q8_0, emb.dtype());
        assertFalse(emb.requiresGrad());
        assertTrue(p.get("model.norm.weight").requiresGrad());
        Quantize.weights(m = llama(false), DType.BF16);
        assertFalse(m.getSubmodule("lm_head").parameter("weight").requiresGrad());
    }

    @Test
    void loraAdaptersTrainOnAFrozenQuantizedBase() {
        LlamaForCausalLM base = llama(false);
        Quantize.weights(base, DType.Q4_0);
        PeftModel m = PeftModel.getPeftModel(base, LoraConfig.of(4, 8), new Generator(2));
        Tensor targets = IDX.narrow(1, 1, 9);
        Tensor loss = m.forward(IDX.narrow(1, 0, 9), targets).loss();
        loss.backward();
        int withGrad = 0;
        for (var e : m.namedParameters().entrySet()) {
            Tensor t = e.getValue();
            if (e.getKey().contains("lora_")) {
                assertNotNull(t.grad(), e.getKey());
                assertEquals(DType.F32, t.dtype(), e.getKey());
                assertTrue(Double.isFinite(t.grad().abs().sum().item()), e.getKey());
                withGrad++;
            } else if (t.dtype() == DType.Q4_0) {
                assertNull(t.grad(), e.getKey());
            }
        }
        assertTrue(withGrad > 0);
        assertThrows(IllegalArgumentException.class, () -> Quantize.weights(base, DType.I64));
    }

    /** Loading straight into a weight type gives the very model that converting after an F32 load gives. */
    @Test
    void loadingIntoAWeightTypeEqualsConvertingAfterwards(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) throws Exception {
        llama(false).savePretrained(tmp);
        for (DType t : new DType[] {DType.BF16, DType.Q8_0, DType.Q4_0}) {
            LlamaForCausalLM direct = (LlamaForCausalLM) jllm.models.AutoModelForCausalLM.fromPretrained(tmp, t);
            LlamaForCausalLM after = (LlamaForCausalLM) jllm.models.AutoModelForCausalLM.fromPretrained(tmp);
            Quantize.weights(after, t);
            for (var e : after.namedParameters().entrySet()) {
                Tensor d = direct.namedParameters().get(e.getKey());
                assertEquals(e.getValue().dtype(), d.dtype(), e.getKey());
                if (t.isQuantized() && d.dtype() == t) {
                    assertArrayEquals((byte[]) e.getValue().toHostArray(), (byte[]) d.toHostArray(), e.getKey());
                }
            }
            try (var g = jllm.autograd.Grad.off()) {
                assertEquals(0.0, relErr(after.forward(IDX), direct.forward(IDX)), t.toString());
            }
        }
    }

    @Test
    void rowsThatAreNotWholeBlocksStayFloat32() {
        Linear odd = new Linear(40, 8);
        Quantize.Result r = Quantize.weights(odd, DType.Q8_0);
        assertEquals(java.util.List.of("weight"), r.kept());
        assertEquals(DType.F32, odd.weight().dtype());
        assertEquals(DType.BF16, Quantize.weights(new Linear(40, 8), DType.BF16).dtype());
    }
}
