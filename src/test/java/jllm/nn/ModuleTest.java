package jllm.nn;

import jllm.nn.PyTorchParityTest.MyNetwork;
import jllm.tensor.DType;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ModuleTest {

    static final String MY_NETWORK = """
            MyNetwork(
              (conv1): Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))
              (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
              (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))
              (fc1): Linear(in_features=400, out_features=120, bias=True)
            )""";

    @Test
    void seed004PrintsStateDictKeysSavesAndLoads(@TempDir Path dir) throws Exception {
        MyNetwork net = new MyNetwork();
        assertEquals(MY_NETWORK, net.toString());
        assertEquals(List.of("conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias"),
                List.copyOf(net.stateDict().keySet()));
        assertEquals(6 * 3 * 25 + 6 + 16 * 6 * 25 + 16 + 120 * 400 + 120, net.numParameters());
        Tensor x = Tensor.randn(2, 3, 32, 32);
        Tensor out = net.forward(x);
        assertEquals(List.of(2, 120), List.of(out.size(0), out.size(1)));

        Path file = dir.resolve("model_weights.safetensors");
        net.save(file);
        MyNetwork other = new MyNetwork();
        assertFalse(other.forward(x).equal(out), "fresh init differs");
        Tensor w = other.fc1.weight();
        Module.LoadResult r = other.load(file);
        assertTrue(r.isClean());
        assertSame(w, other.fc1.weight(), "load copies into the existing tensors");
        for (var e : net.stateDict().entrySet()) assertTrue(other.stateDict().get(e.getKey()).equal(e.getValue()), e.getKey() + " bit for bit");
        // the same weights give the same output; not compared bit for bit, because Vector API lane
        // reductions may add in another order once the JIT compiles them (a known limit)
        assertTrue(other.forward(x).allclose(out, 1e-6, 1e-7));
    }

    static class Tiny extends Module {
        Tiny() {
            registerParameter("w", Tensor.ones(2, 2));
            registerBuffer("running", Tensor.zeros(2));
            registerBuffer("scratch", Tensor.zeros(3), false);
            registerModule("lin", new Linear(2, 2));
        }
    }

    @Test
    void registrationAndNames() {
        Tiny t = new Tiny();
        assertTrue(t.parameter("w").requiresGrad());
        assertThrows(IllegalArgumentException.class, () -> t.registerParameter("a.b", Tensor.ones(1)));
        assertThrows(IllegalArgumentException.class, () -> t.registerBuffer("", Tensor.ones(1)));
        var e = assertThrows(IllegalArgumentException.class, () -> t.registerBuffer("w", Tensor.ones(1)));
        assertTrue(e.getMessage().contains("'w' already exists") && e.getMessage().contains("parameter"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> t.registerModule("running", new ReLU()));
        assertThrows(IllegalArgumentException.class, () -> t.registerParameter("lin", Tensor.ones(1)));
        assertThrows(IllegalArgumentException.class, () -> t.parameter("nope"));
        assertThrows(IllegalArgumentException.class, () -> t.registerParameter("i", Tensor.of(new long[] {1})));
        // replacement within the same kind
        Tensor w2 = t.setParameter("w", Tensor.zeros(2, 2));
        assertSame(w2, t.parameter("w"));
        assertTrue(w2.requiresGrad());
        assertThrows(IllegalArgumentException.class, () -> t.setBuffer("w", Tensor.zeros(2)));
        assertSame(t.module("lin"), t.getSubmodule("lin"));
        assertThrows(IllegalArgumentException.class, () -> t.getSubmodule("lin.x"));
    }

    @Test
    void traversalStateDictAndBuffers() {
        Tiny t = new Tiny();
        assertEquals(List.of("w", "lin.weight", "lin.bias"), List.copyOf(t.namedParameters().keySet()));
        assertEquals(List.of("running", "scratch"), List.copyOf(t.namedBuffers().keySet()));
        assertEquals(List.of("w", "running", "lin.weight", "lin.bias"), List.copyOf(t.stateDict().keySet()), "non-persistent not saved");
        assertEquals(List.of("", "lin"), List.copyOf(t.namedModules().keySet()));
        assertEquals(List.of("lin"), List.copyOf(t.namedChildren().keySet()));
        Tensor sd = t.stateDict().get("w");
        assertFalse(sd.requiresGrad());
        assertNull(sd.gradFn());
        assertEquals(4 + 4 + 2, t.numParameters());
        t.module("lin").requiresGrad_(false);
        assertEquals(4, t.numParameters(true));
    }

    static class Tied extends Module {
        final Embedding emb = registerModule("emb", new Embedding(5, 3));
        final Linear head = registerModule("head", new Linear(3, 5, false));

        Tied() { head.setParameter("weight", emb.weight()); }
    }

    @Test
    void tiedWeights() {
        Tied m = new Tied();
        assertEquals(List.of("emb.weight"), List.copyOf(m.namedParameters().keySet()), "tied weight appears once");
        assertEquals(15, m.numParameters());
        assertEquals(List.of("emb.weight", "head.weight"), List.copyOf(m.stateDict().keySet()), "state dict has both names");
        m.to(DType.F64);
        assertSame(m.emb.weight(), m.head.weight(), "still tied after to(dtype)");
        assertEquals(DType.F64, m.head.weight().dtype());
        assertTrue(m.head.weight().requiresGrad());
    }

    @Test
    void loadStateDictErrors() {
        MyNetwork net = new MyNetwork();
        Map<String, Tensor> sd = new LinkedHashMap<>(net.stateDict());
        sd.remove("conv2.bias");
        sd.put("fc2.weight", Tensor.zeros(3));
        sd.put("fc1.weight", Tensor.zeros(120, 401));
        Tensor before = net.fc1.bias().clone();
        var e = assertThrows(IllegalArgumentException.class, () -> net.loadStateDict(sd, true));
        assertEquals("Error(s) in loading state_dict for MyNetwork:\n"
                + "\tMissing key(s) in state_dict: \"conv2.bias\". \n"
                + "\tUnexpected key(s) in state_dict: \"fc2.weight\". \n"
                + "\tsize mismatch for fc1.weight: copying a param with shape [120, 401] from checkpoint, the shape in current model is [120, 400].",
                e.getMessage());
        assertTrue(net.fc1.bias().equal(before), "nothing copied on error");
        // non-strict: missing/unexpected are reported, size mismatch still throws (as PyTorch)
        assertThrows(IllegalArgumentException.class, () -> net.loadStateDict(sd, false));
        sd.put("fc1.weight", Tensor.zeros(120, 400));
        Module.LoadResult r = net.loadStateDict(sd, false);
        assertEquals(List.of("conv2.bias"), r.missingKeys());
        assertEquals(List.of("fc2.weight"), r.unexpectedKeys());
        assertEquals(0.0, net.fc1.weight().abs().sum().item());
        // dtype is converted on load; the parameter keeps its dtype and identity
        Tensor w = net.fc1.weight();
        sd.put("fc1.weight", Tensor.ones(new int[] {120, 400}, DType.F64, jllm.tensor.Device.CPU));
        net.loadStateDict(sd, false);
        assertSame(w, net.fc1.weight());
        assertEquals(DType.F32, w.dtype());
        assertEquals(48000.0, w.sum().item());
        assertTrue(w.requiresGrad());
    }

    @Test
    void toDtypeConvertsOnlyFloating() {
        Tiny t = new Tiny();
        t.registerBuffer("steps", Tensor.of(new long[] {3}));
        t.to(DType.BF16);
        assertEquals(DType.BF16, t.parameter("w").dtype());
        assertTrue(t.parameter("w").requiresGrad());
        assertEquals(DType.BF16, t.buffer("running").dtype());
        assertEquals(DType.I64, t.buffer("steps").dtype());
        assertThrows(IllegalArgumentException.class, () -> t.to(DType.I32));
    }

    @Test
    void trainEvalApplyZeroGrad() {
        Sequential s = new Sequential(new Linear(3, 4), new Dropout(0.5), new Sequential(new ReLU(), new Linear(4, 2)));
        assertTrue(s.get(1).isTraining());
        s.eval();
        for (Module m : s.modules()) assertFalse(m.isTraining());
        Tensor x = Tensor.randn(5, 3);
        assertTrue(s.get(1) instanceof Dropout d && d.forward(x) == x, "dropout is the identity in eval mode");
        s.train();
        assertTrue(s.get(2).isTraining());

        List<String> order = new ArrayList<>();
        s.apply(m -> order.add(m.typeName()));
        assertEquals(List.of("Linear", "Dropout", "ReLU", "Linear", "Sequential", "Sequential"), order);

        s.forward(x).sum().backward();
        assertTrue(((Linear) s.get(0)).weight().grad() != null);
        s.zeroGrad();
        for (Tensor p : s.parameters()) assertNull(p.grad());
        assertThrows(IllegalArgumentException.class, () -> new Sequential(new ModuleList()));
        assertSame(s.get(2), s.get(-1));
    }

    static class Block extends Module implements UnaryModule {
        final LayerNorm ln = registerModule("ln", new LayerNorm(8));
        final Sequential mlp = registerModule("mlp", new Sequential(new Linear(8, 32), new GELU("tanh"), new Linear(32, 8), new Dropout(0.1)));

        @Override
        public Tensor forward(Tensor x) { return x.add(mlp.forward(ln.forward(x))); }
    }

    static class Net extends Module {
        final ModuleList blocks = registerModule("blocks", new ModuleList(new Block(), new Block(), new Block()));
        final ModuleDict heads = registerModule("heads", new ModuleDict());
        final Linear head = registerModule("head", new Linear(8, 10, false));

        Net() {
            heads.put("norm", new RMSNorm(8));
            heads.put("emb", new Embedding(11, 8, 2));
            heads.put("act", new SiLU());
            blocks.add(new Identity());
        }
    }

    @Test
    void nestedPrintingLikePyTorch() {
        assertEquals("""
                Net(
                  (blocks): ModuleList(
                    (0-2): 3 x Block(
                      (ln): LayerNorm((8,), eps=1e-05, elementwise_affine=True)
                      (mlp): Sequential(
                        (0): Linear(in_features=8, out_features=32, bias=True)
                        (1): GELU(approximate='tanh')
                        (2): Linear(in_features=32, out_features=8, bias=True)
                        (3): Dropout(p=0.1, inplace=False)
                      )
                    )
                    (3): Identity()
                  )
                  (heads): ModuleDict(
                    (norm): RMSNorm((8,), eps=None, elementwise_affine=True)
                    (emb): Embedding(11, 8, padding_idx=2)
                    (act): SiLU()
                  )
                  (head): Linear(in_features=8, out_features=10, bias=False)
                )""", new Net().toString());
        assertEquals("ModuleList()", new ModuleList().toString());
        assertEquals("Sequential()", new Sequential().toString());
        assertEquals("Flatten(start_dim=1, end_dim=-1)", new Flatten().toString());
        assertEquals("Softmax(dim=-1)", new Softmax(-1).toString());
        assertEquals("ReLU()", new ReLU().toString());
        assertEquals("Tanh()", new Tanh().toString());
        assertEquals("GELU(approximate='none')", new GELU().toString());
        assertEquals("Conv2d(4, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), dilation=(2, 2), groups=2, bias=False)",
                new Conv2d(4, 8, 3, 1, 1, 2, 2, false).toString());
        assertEquals("LayerNorm((2, 3), eps=1e-06, elementwise_affine=False)", new LayerNorm(new int[] {2, 3}, 1e-6, false).toString());
        assertEquals("RMSNorm((4,), eps=1e-05, elementwise_affine=True)", new RMSNorm(4, 1e-5).toString());
        assertEquals("MaxPool2d(kernel_size=(2, 3), stride=(2, 3), padding=(0, 0), dilation=(1, 1), ceil_mode=False)",
                new MaxPool2d(new int[] {2, 3}, null, new int[] {0, 0}, new int[] {1, 1}, false).toString());
    }

    @Test
    void pythonFloatRepr() {
        assertEquals("1e-05", Repr.pyFloat(1e-5));
        assertEquals("0.0001", Repr.pyFloat(1e-4));
        assertEquals("0.1", Repr.pyFloat(0.1));
        assertEquals("0.5", Repr.pyFloat(0.5));
        assertEquals("0.0", Repr.pyFloat(0.0));
        assertEquals("1.0", Repr.pyFloat(1.0));
        assertEquals("123.25", Repr.pyFloat(123.25));
        assertEquals("1e+16", Repr.pyFloat(1e16));
        assertEquals("1000000000000000.0", Repr.pyFloat(1e15));
        assertEquals("1.1920928955078125e-07", Repr.pyFloat(Math.ulp(1.0f)));
        assertEquals("-2.5e-08", Repr.pyFloat(-2.5e-8));
    }

    @Test
    void layerBasics() {
        Linear lin = new Linear(3, 2);
        assertEquals("Linear(in_features=3, out_features=2, bias=True)", lin.toString());
        assertNotSame(lin.weight(), new Linear(3, 2).weight());
        Sequential seq = new Sequential(new Flatten(), new Linear(12, 4), new Tanh(), new Identity(), new SiLU(), new Softmax(-1));
        Tensor y = seq.forward(Tensor.randn(2, 3, 4));
        assertEquals(2, y.dim());
        assertEquals(2.0, y.sum().item(), 1e-5);
        Embedding e = new Embedding(10, 4, -1);
        assertEquals(9, e.paddingIdx);
        assertEquals(0.0, e.weight().select(0, 9).abs().sum().item());
        RMSNorm rn = new RMSNorm(4);
        assertEquals(Math.ulp(1.0f), RMSNorm.machineEpsilon(DType.F32));
        assertEquals(2, rn.forward(Tensor.randn(3, 4)).dim());
        ModuleDict d = new ModuleDict();
        d.put("a", new ReLU());
        assertEquals(List.of("a"), List.copyOf(d.keySet()));
        d.remove("a");
        assertEquals(0, d.size());
    }
}
