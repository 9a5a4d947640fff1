package jllm.nn;

import jllm.testing.Fixture;
import jllm.autograd.Grad;
import jllm.nn.PyTorchParityTest.CausalAttentionWithBuffer;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;
import jllm.testing.TestDevice;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Seed 000 ("understanding buffers"), step by step, with a fake second device standing in for the GPU. */
class BufferStoryTest {
    static final Device GPU = TestDevice.DEVICE;

    @BeforeAll
    static void installDevice() { TestDevice.install(); }

    /** The mask kept as a plain field: not a buffer. */
    static class CausalAttentionWithoutBuffers extends Module implements UnaryModule {
        final Linear wQuery, wKey, wValue;
        final Dropout dropout;
        Tensor mask;

        CausalAttentionWithoutBuffers(int dIn, int dOut, int contextLength, double dropout, boolean qkvBias) {
            wQuery = registerModule("W_query", new Linear(dIn, dOut, qkvBias));
            wKey = registerModule("W_key", new Linear(dIn, dOut, qkvBias));
            wValue = registerModule("W_value", new Linear(dIn, dOut, qkvBias));
            this.dropout = registerModule("dropout", new Dropout(dropout));
            mask = Tensor.ones(contextLength, contextLength).triu(1);
        }

        @Override
        public Tensor forward(Tensor x) {
            int n = x.size(1);
            Tensor keys = wKey.forward(x), queries = wQuery.forward(x), values = wValue.forward(x);
            Tensor scores = queries.matmul(keys.transpose(1, 2));
            scores = scores.maskedFill(mask.to(DType.BOOL).slice(0, 0, n).slice(1, 0, n), Double.NEGATIVE_INFINITY);
            return dropout.forward(scores.div(Math.sqrt(keys.size(-1))).softmax(-1)).matmul(values);
        }
    }

    static Tensor batch() {
        Tensor inputs = Tensor.of(new float[][] {
            {0.43f, 0.15f, 0.89f}, {0.55f, 0.87f, 0.66f}, {0.57f, 0.85f, 0.64f},
            {0.22f, 0.58f, 0.33f}, {0.77f, 0.25f, 0.10f}, {0.05f, 0.80f, 0.55f}});
        return Tensor.stack(0, inputs, inputs);
    }

    @Test
    void plainFieldMaskDoesNotMoveAndIsNotSaved(@TempDir Path dir) throws Exception {
        Fixture f = Fixture.load("causal_attention");
        CausalAttentionWithoutBuffers ca = new CausalAttentionWithoutBuffers(3, 2, 6, 0.0, false);
        ca.loadStateDict(f.strip("nobuf.param."));
        Tensor cpuOut;
        try (var g = Grad.off()) {
            cpuOut = ca.forward(batch());
        }
        f.check("nobuf.out", cpuOut, 1e-5);

        Tensor batch = batch().to(GPU);
        ca.to(GPU);
        assertEquals(GPU, ca.wQuery.weight().device());
        assertEquals(Device.CPU, ca.mask.device(), "a plain field is not moved");
        var e = assertThrows(IllegalArgumentException.class, () -> {
            try (var g = Grad.off()) {
                ca.forward(batch);
            }
        });
        assertTrue(e.getMessage().contains("cpu") && e.getMessage().contains("test:0"), e.getMessage());
        ca.mask = ca.mask.to(GPU); // the manual fix
        try (var g = Grad.off()) {
            Tensor out = ca.forward(batch);
            assertEquals(GPU, out.device());
            Fixture.assertClose(cpuOut, out.cpu(), 0, 0, "same numbers on the other device");
        }

        assertEquals(List.of("W_query.weight", "W_key.weight", "W_value.weight"), List.copyOf(ca.stateDict().keySet()));
        try (var g = Grad.off()) {
            ca.mask.maskedFill_(ca.mask.eq(1), 2);
        }
        Path file = dir.resolve("model.safetensors");
        ca.save(file);
        CausalAttentionWithoutBuffers fresh = new CausalAttentionWithoutBuffers(3, 2, 6, 0.0, false);
        fresh.load(file);
        assertEquals(15.0, fresh.mask.sum().item(), "the modified mask was not saved: still ones");
    }

    @Test
    void registeredBufferMovesAndSurvivesSaveLoad(@TempDir Path dir) throws Exception {
        Fixture f = Fixture.load("causal_attention");
        CausalAttentionWithBuffer ca = new CausalAttentionWithBuffer(3, 2, 6, 0.0, false);
        Map<String, Tensor> sd = f.strip("param.");
        sd.putAll(f.strip("buffer."));
        ca.loadStateDict(sd);
        ca.to(GPU);
        assertEquals(GPU, ca.wQuery.weight().device());
        assertEquals(GPU, ca.buffer("mask").device(), "a buffer moves with the module");
        assertTrue(ca.wQuery.weight().requiresGrad());
        Tensor out;
        try (var g = Grad.off()) {
            out = ca.forward(batch().to(GPU));
        }
        assertEquals(GPU, out.device());
        f.check("out", out.cpu(), 1e-5);

        assertEquals(List.of("mask", "W_query.weight", "W_key.weight", "W_value.weight"), List.copyOf(ca.stateDict().keySet()));
        assertEquals(GPU, ca.stateDict().get("mask").device());

        Tensor mask = ca.buffer("mask");
        try (var g = Grad.off()) {
            mask.maskedFill_(mask.eq(1), 2);
        }
        Path file = dir.resolve("model.safetensors");
        ca.save(file);
        CausalAttentionWithBuffer fresh = new CausalAttentionWithBuffer(3, 2, 6, 0.0, false);
        fresh.load(file);
        Tensor loaded = fresh.buffer("mask");
        assertEquals(Device.CPU, loaded.device());
        assertEquals(30.0, loaded.sum().item(), "the modified mask (2s) was restored");
        assertEquals(2.0, loaded.get(0, 1));
        assertEquals(0.0, loaded.get(1, 0));

        // loading into a module living on the other device copies across devices, keeping the tensors
        CausalAttentionWithBuffer onGpu = new CausalAttentionWithBuffer(3, 2, 6, 0.0, false);
        onGpu.to(GPU);
        Tensor w = onGpu.wKey.weight();
        onGpu.load(file);
        assertEquals(GPU, onGpu.buffer("mask").device());
        assertEquals(30.0, onGpu.buffer("mask").sum().item());
        assertTrue(w == onGpu.wKey.weight());
        Fixture.assertClose(fresh.wKey.weight(), w.cpu(), 0, 0, "weights loaded onto the device");
    }

    @Test
    void nonPersistentBufferMovesButIsNotSaved() {
        Module m = new Module() {};
        m.registerBuffer("cache", Tensor.zeros(4), false);
        m.registerBuffer("kept", Tensor.zeros(4));
        m.to(GPU);
        assertEquals(GPU, m.buffer("cache").device());
        assertEquals(List.of("kept"), List.copyOf(m.stateDict().keySet()));
        m.to(Device.CPU);
        assertEquals(Device.CPU, m.buffer("cache").device());
        assertEquals("Module()", m.toString());
    }
}
