package jllm.models.attention;

import jllm.autograd.Grad;
import jllm.io.TensorIO;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;
import jllm.testing.TestDevice;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.URL;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** Seed 000's two attention modules against the PyTorch fixture causal_attention.safetensors. */
class CausalAttentionTest {
    static final Device GPU = TestDevice.DEVICE;
    static Map<String, Tensor> fx;

    @BeforeAll
    static void load() throws Exception {
        TestDevice.install();
        URL url = CausalAttentionTest.class.getResource("/fixtures/causal_attention.safetensors");
        assertNotNull(url, "fixture causal_attention.safetensors on the test classpath");
        fx = TensorIO.load(Path.of(url.toURI()));
    }

    static Map<String, Tensor> strip(String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        fx.forEach((k, v) -> { if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), v); });
        return out;
    }

    static void assertClose(Tensor expected, Tensor actual, double rtol, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray(), a = actual.detach().cpu().toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            if (Math.abs(a[i] - e[i]) > 1e-6 + rtol * Math.abs(e[i])) {
                fail(what + ": element " + i + " expected " + e[i] + " got " + a[i] + " (shape " + Arrays.toString(expected.shape()) + ")");
            }
        }
    }

    @Test
    void withBufferMatchesPyTorch() {
        var ca = new CausalAttentionWithBuffer(3, 2, 6, 0.0, false);
        assertEquals(List.of("mask", "W_query.weight", "W_key.weight", "W_value.weight"), List.copyOf(ca.stateDict().keySet()));
        assertClose(fx.get("buffer.mask"), ca.mask(), 0, "fresh mask = triu(ones, 1)");
        Map<String, Tensor> sd = strip("param.");
        sd.putAll(strip("buffer."));
        assertTrue(ca.loadStateDict(sd).isClean());
        Tensor out;
        try (var g = Grad.off()) {
            out = ca.forward(fx.get("x"));
        }
        assertClose(fx.get("out"), out, 1e-5, "out");
        assertEquals(0.4772, out.get(0, 0, 0), 1e-4, "the number the seed prints");
        assertEquals(0.3493, out.get(1, 5, 1), 1e-4);
    }

    @Test
    void withoutBuffersMatchesPyTorch() {
        var ca = new CausalAttentionWithoutBuffers(3, 2, 6, 0.0, false);
        assertEquals(List.of("W_query.weight", "W_key.weight", "W_value.weight"), List.copyOf(ca.stateDict().keySet()));
        assertTrue(ca.loadStateDict(strip("nobuf.param.")).isClean());
        Tensor out;
        try (var g = Grad.off()) {
            out = ca.forward(fx.get("nobuf.x"));
        }
        assertClose(fx.get("nobuf.out"), out, 1e-5, "nobuf.out");
        assertEquals(-0.4519, out.get(0, 0, 0), 1e-4);
        assertEquals(-0.1081, out.get(1, 5, 1), 1e-4);
    }

    @Test
    void gradientsFlowThroughTheMaskedScores() {
        var ca = new CausalAttentionWithBuffer(3, 2, 6, 0.0, true);
        ca.forward(fx.get("x")).sum().backward();
        for (Tensor p : ca.parameters()) assertNotNull(p.grad());
        // the first query sees only the first key, so its row ignores later tokens: changing token 5 leaves row 0 unchanged
        Tensor x2 = fx.get("x").clone();
        try (var g = Grad.off()) {
            x2.select(1, 5).fill_(3.0);
            Tensor a = ca.forward(fx.get("x")), b = ca.forward(x2);
            assertClose(a.select(1, 0), b.select(1, 0), 0, "causal: row 0 does not see token 5");
        }
    }

    @Test
    void plainFieldMaskStaysBehindBufferMoves() {
        var without = new CausalAttentionWithoutBuffers(3, 2, 6, 0.0);
        var with = new CausalAttentionWithBuffer(3, 2, 6, 0.0);
        without.to(GPU);
        with.to(GPU);
        assertEquals(GPU, without.wQuery().weight().device());
        assertEquals(Device.CPU, without.mask.device());
        assertEquals(GPU, with.mask().device());
        Tensor batch = fx.get("x").to(GPU);
        var e = assertThrows(IllegalArgumentException.class, () -> {
            try (var g = Grad.off()) {
                without.forward(batch);
            }
        });
        assertTrue(e.getMessage().contains("cpu") && e.getMessage().contains("test:0"), e.getMessage());
        without.mask = without.mask.to(GPU);
        try (var g = Grad.off()) {
            assertEquals(GPU, without.forward(batch).device());
            assertEquals(GPU, with.forward(batch).device());
        }
    }

    @Test
    void modifiedMaskSurvivesSaveLoadOnlyAsBuffer(@TempDir Path dir) throws Exception {
        var with = new CausalAttentionWithBuffer(3, 2, 6, 0.0);
        try (var g = Grad.off()) {
            with.mask().maskedFill_(with.mask().eq(1), 2);
        }
        Path f1 = dir.resolve("with.safetensors");
        with.save(f1);
        var with2 = new CausalAttentionWithBuffer(3, 2, 6, 0.0);
        with2.load(f1);
        assertEquals(30.0, with2.mask().sum().item());

        var without = new CausalAttentionWithoutBuffers(3, 2, 6, 0.0);
        try (var g = Grad.off()) {
            without.mask.maskedFill_(without.mask.eq(1), 2);
        }
        Path f2 = dir.resolve("without.safetensors");
        without.save(f2);
        assertEquals(java.util.Set.of("W_query.weight", "W_key.weight", "W_value.weight"), TensorIO.load(f2).keySet(), "no mask in the file");
        var without2 = new CausalAttentionWithoutBuffers(3, 2, 6, 0.0);
        without2.load(f2);
        assertEquals(15.0, without2.mask.sum().item(), "still ones: the 2s were never saved");
        assertSame(DType.F32, without2.mask.dtype());
    }

    @Test
    void badInputsSayWhatIsWrong() {
        var ca = new CausalAttentionWithBuffer(3, 2, 6, 0.0);
        var e = assertThrows(IllegalArgumentException.class, () -> ca.forward(Tensor.zeros(1, 7, 3)));
        assertTrue(e.getMessage().contains("7") && e.getMessage().contains("context_length=6"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ca.forward(Tensor.zeros(6, 3)));
        assertTrue(e.getMessage().contains("[6, 3]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new CausalAttentionWithBuffer(3, 0, 6, 0.0));
        assertThrows(IllegalArgumentException.class, () -> new CausalAttentionWithoutBuffers(3, 2, 6, 1.5));
        assertEquals("CausalAttentionWithBuffer(\n"
                + "  (W_query): Linear(in_features=3, out_features=2, bias=False)\n"
                + "  (W_key): Linear(in_features=3, out_features=2, bias=False)\n"
                + "  (W_value): Linear(in_features=3, out_features=2, bias=False)\n"
                + "  (dropout): Dropout(p=0.0, inplace=False)\n"
                + ")", ca.toString());
    }
}
