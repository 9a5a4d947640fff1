package jllm.models.transformer;

import jllm.autograd.Grad;
import jllm.models.LanguageModel;
import jllm.tensor.Device;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.testing.TestDevice;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Seed 001 pieces on their own, without the PyTorch fixture. */
class TransformerTest {
    static final ModelArgs TINY = ModelArgs.of(20, 8, 16, 2, 4, 32, 0.0);

    @Test
    void layerNormIsTheSeedsStdPlusEpsForm() {
        LayerNorm ln = new LayerNorm(4);
        Tensor out = ln.forward(Tensor.of(new float[] {1, 2, 3, 4}, 1, 4));
        double std = Math.sqrt(5.0 / 3.0); // unbiased: sum of squares 5 over N-1 = 3
        for (int i = 0; i < 4; i++) assertEquals((i + 1 - 2.5) / (std + 1e-6), out.get(0, i), 1e-6);
        assertEquals("LayerNorm()", ln.toString());
        assertEquals(java.util.List.of("a_2", "b_2"), java.util.List.copyOf(ln.stateDict().keySet()));
        assertThrows(IllegalArgumentException.class, () -> ln.forward(Tensor.zeros(2, 5)));
    }

    @Test
    void demoArgsGiveTheSeedsParameterCount() {
        ModelArgs a = ModelArgs.demo();
        assertEquals(new ModelArgs(10000, 128, 256, 0.1, 6, 8, 256, 512, 128), a);
        assertEquals(32, a.headDim());
        // embeddings and head 2 x 2,560,000; encoder layer 525,312; decoder layer 787,968; two final norms
        long expected = 2L * 10000 * 256 + 6L * (4 * 256 + 4 * 256 * 256 + 2 * 256 * 512) + 512
                + 6L * (6 * 256 + 8 * 256 * 256 + 2 * 256 * 512) + 512;
        assertEquals(13_000_704L, expected);
    }

    @Test
    void argsAreChecked() {
        var e = assertThrows(IllegalArgumentException.class, () -> ModelArgs.of(10, 8, 18, 1, 4, 8, 0.0));
        assertTrue(e.getMessage().contains("multiple of n_heads"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new ModelArgs(10, 8, 16, 0.0, 1, 4, 32, 8, 8));
        assertTrue(e.getMessage().contains("must equal n_embd"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ModelArgs.of(10, 8, 15, 1, 5, 8, 0.0));
        assertThrows(IllegalArgumentException.class, () -> ModelArgs.of(0, 8, 16, 1, 4, 8, 0.0));
        assertThrows(IllegalArgumentException.class, () -> ModelArgs.of(10, 8, 16, 1, 4, 8, 1.0));
    }

    @Test
    void initIsNormalPointZeroTwo() {
        Transformer m = new Transformer(ModelArgs.of(500, 8, 64, 1, 4, 64, 0.0), new Generator(1));
        double[] w = m.wte().weight().toDoubleArray();
        double s = 0, s2 = 0;
        for (double v : w) { s += v; s2 += v * v; }
        double mean = s / w.length, std = Math.sqrt(s2 / w.length - mean * mean);
        assertEquals(0.0, mean, 0.002);
        assertEquals(0.02, std, 0.001);
    }

    @Test
    void positionalTableAndCausalMask() {
        Tensor pe = PositionalEncoding.table(4, 6);
        assertEquals(0.0, pe.get(0, 0, 0));
        assertEquals(1.0, pe.get(0, 0, 1));
        assertEquals(Math.sin(3), pe.get(0, 3, 0), 1e-6);
        assertEquals(Math.cos(3 * Math.exp(-2 * Math.log(10000) / 6)), pe.get(0, 3, 3), 1e-6);
        MultiHeadAttention causal = new MultiHeadAttention(TINY, true);
        Tensor mask = causal.buffer("mask");
        assertArrayEquals(new int[] {1, 1, 8, 8}, mask.shape());
        assertEquals(0.0, mask.get(0, 0, 3, 3));
        assertEquals(0.0, mask.get(0, 0, 3, 0));
        assertEquals(Double.NEGATIVE_INFINITY, mask.get(0, 0, 3, 4));
        assertTrue(new MultiHeadAttention(TINY, false).namedBuffers().isEmpty(), "only the causal one has a mask");
    }

    @Test
    void decoderIsCausalButEncoderIsNot() {
        Generator.manualSeed(3);
        Transformer m = new Transformer(TINY);
        Tensor a = Tensor.of(new long[] {1, 2, 3, 4, 5, 6}, 1, 6);
        Tensor b = Tensor.of(new long[] {1, 2, 3, 4, 5, 7}, 1, 6);
        try (var g = Grad.off()) {
            // the last token reaches every position through the (bidirectional) encoder's cross-attention
            Tensor la = m.forward(a, a).logits(), lb = m.forward(b, b).logits();
            assertTrue(Math.abs(la.get(0, 0, 0) - lb.get(0, 0, 0)) > 0, "position 0 sees token 5 via the encoder");
            MultiHeadAttention self = m.decoder().layers().get(0, DecoderLayer.class).maskAttention();
            Tensor x = Tensor.randn(1, 6, 16), y = x.clone();
            y.select(1, 5).fill_(7);
            assertTrue(self.forward(x, x, x).slice(1, 0, 5).allclose(self.forward(y, y, y).slice(1, 0, 5), 1e-6, 1e-6),
                    "masked self-attention: earlier positions ignore the last token");
        }
    }

    @Test
    void languageModelContract() {
        Transformer m = new Transformer(TINY);
        assertEquals(8, m.blockSize());
        assertEquals(20, m.vocabSize());
        Tensor idx = Tensor.randint(0, 20, new int[] {3, 5});
        Tensor targets = idx.clone();
        targets.select(1, 0).fill_(-1);
        LanguageModel.Output train = m.forward(idx, targets);
        assertArrayEquals(new int[] {3, 5, 20}, train.logits().shape());
        assertEquals(Math.log(20), train.loss().item(), 0.1, "near ln(V) at init");
        LanguageModel.Output inf = m.forward(idx, null);
        assertArrayEquals(new int[] {3, 1, 20}, inf.logits().shape());
        var e = assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(new int[] {1, 9}, jllm.tensor.DType.I64, Device.CPU), null));
        assertTrue(e.getMessage().contains("length 9") && e.getMessage().contains("block size is only 8"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> m.forward(Tensor.zeros(1, 4), null));
        assertThrows(IllegalArgumentException.class, () -> m.forward(idx, idx.slice(1, 0, 4)));
    }

    @Test
    void buffersMoveWithTheModel() {
        TestDevice.install();
        Transformer m = new Transformer(TINY);
        Tensor idx = Tensor.randint(0, 20, new int[] {2, 6});
        Tensor cpu;
        try (var g = Grad.off()) {
            cpu = m.forward(idx, null).logits();
        }
        m.to(TestDevice.DEVICE);
        assertEquals(TestDevice.DEVICE, m.wpe().pe().device());
        assertEquals(TestDevice.DEVICE, m.decoder().layers().get(1, DecoderLayer.class).maskAttention().buffer("mask").device());
        try (var g = Grad.off()) {
            Tensor dev = m.forward(idx.to(TestDevice.DEVICE), null).logits();
            assertTrue(cpu.allclose(dev.cpu(), 0, 0));
        }
    }

    @Test
    void traceMirrorsTheSeedsPrints() {
        var buf = new java.io.ByteArrayOutputStream();
        Transformer m = new Transformer(TINY).trace(new java.io.PrintStream(buf, true));
        m.forward(Tensor.randint(0, 20, new int[] {2, 8}), null);
        assertEquals(String.join("\n", "idx torch.Size([2, 8])", "tok_emb torch.Size([2, 8, 16])", "x after wpe: torch.Size([2, 8, 16])",
                "enc_out: torch.Size([2, 8, 16])", "x after decoder: torch.Size([2, 8, 16])", ""), buf.toString().replace("\r", ""));
    }
}
