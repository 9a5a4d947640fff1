package jllm.nn;

import jllm.testing.Fixture;
import jllm.autograd.Grad;
import jllm.nn.functional.F;
import jllm.tensor.DType;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** Layers against PyTorch 1.13 outputs and gradients (src/test/resources/fixtures, see tools/fixtures/README.md). */
class PyTorchParityTest {
    static final double R = 1e-5;      // relative tolerance, short reductions
    static final double R_LONG = 1e-4; // long reductions (conv, 400-wide linear, attention)

    /** (out * dout).sum().backward(), PyTorch's vector-Jacobian product with dout. */
    static void backward(Tensor out, Tensor dout) { out.mul(dout).sum().backward(); }

    @ParameterizedTest
    @ValueSource(strings = {"", "nobias."})
    void linear(String p) {
        Fixture f = Fixture.load("linear");
        boolean bias = Boolean.parseBoolean(f.meta(p + "bias"));
        Linear lin = new Linear(Integer.parseInt(f.meta(p + "in_features")), Integer.parseInt(f.meta(p + "out_features")), bias);
        assertEquals(bias ? List.of("weight", "bias") : List.of("weight"), List.copyOf(lin.stateDict().keySet()));
        lin.loadStateDict(f.strip(p + "param."));
        Tensor x = f.input(p + "x");
        Tensor out = lin.forward(x);
        f.check(p + "out", out, R);
        backward(out, f.get(p + "dout"));
        f.check(p + "grad.x", x.grad(), R);
        f.check(p + "grad.param.weight", lin.weight().grad(), R);
        if (bias) f.check(p + "grad.param.bias", lin.bias().grad(), R);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "pad."})
    void embedding(String p) {
        Fixture f = Fixture.load("embedding");
        String pad = f.meta(p + "padding_idx");
        Embedding emb = new Embedding(Integer.parseInt(f.meta(p + "num_embeddings")), Integer.parseInt(f.meta(p + "embedding_dim")),
                pad == null ? null : Integer.parseInt(pad));
        if (pad != null) assertEquals(0.0, emb.weight().select(0, Integer.parseInt(pad)).abs().sum().item(), "padding row zero at init");
        emb.loadStateDict(f.strip(p + "param."));
        Tensor out = emb.forward(f.get(p + "x"));
        f.check(p + "out", out, R);
        backward(out, f.get(p + "dout"));
        f.check(p + "grad.param.weight", emb.weight().grad(), R);
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "noaffine."})
    void layerNorm(String p) {
        Fixture f = Fixture.load("layer_norm");
        boolean affine = Boolean.parseBoolean(f.meta(p + "elementwise_affine"));
        LayerNorm ln = new LayerNorm(new int[] {Integer.parseInt(f.meta(p + "normalized_shape"))}, Double.parseDouble(f.meta(p + "eps")), affine);
        ln.loadStateDict(f.strip(p + "param."));
        Tensor x = f.input(p + "x");
        Tensor out = ln.forward(x);
        f.check(p + "out", out, R);
        backward(out, f.get(p + "dout"));
        f.check(p + "grad.x", x.grad(), R);
        if (affine) {
            f.check(p + "grad.param.weight", ln.weight().grad(), R);
            f.check(p + "grad.param.bias", ln.bias().grad(), R);
        } else {
            assertNull(ln.weight());
            assertEquals(0, ln.numParameters());
        }
    }

    @Test
    void rmsNorm() {
        Fixture f = Fixture.load("rms_norm");
        RMSNorm n = new RMSNorm(Integer.parseInt(f.meta("normalized_shape")), Double.parseDouble(f.meta("eps")));
        n.loadStateDict(f.strip("param."));
        Tensor x = f.input("x");
        Tensor out = n.forward(x);
        f.check("out", out, R);
        backward(out, f.get("dout"));
        f.check("grad.x", x.grad(), R);
        f.check("grad.param.weight", n.weight().grad(), R);
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "tanh"})
    void gelu(String approx) {
        Fixture f = Fixture.load("gelu");
        String p = approx + ".";
        GELU g = new GELU(f.meta(p + "approximate"));
        Tensor x = f.input(p + "x");
        Tensor out = g.forward(x);
        f.check(p + "out", out, R);
        backward(out, f.get(p + "dout"));
        f.check(p + "grad.x", x.grad(), R);
    }

    @ParameterizedTest
    @ValueSource(strings = {"softmax", "log_softmax", "softmax_dim1"})
    void softmax(String p0) {
        Fixture f = Fixture.load("softmax");
        String p = p0 + ".";
        int dim = Integer.parseInt(f.meta(p + "dim"));
        Tensor x = f.input(p + "x");
        Tensor out = f.meta(p + "op").equals("softmax") ? new Softmax(dim).forward(x) : F.logSoftmax(x, dim);
        f.check(p + "out", out, R);
        backward(out, f.get(p + "dout"));
        f.check(p + "grad.x", x.grad(), R);
    }

    @ParameterizedTest
    @ValueSource(strings = {"mean", "sum", "none", "ignore3", "smooth", "nd"})
    void crossEntropy(String p0) {
        Fixture f = Fixture.load("cross_entropy");
        String p = p0 + ".";
        Tensor x = f.input(p + "x");
        Tensor loss = F.crossEntropy(x, f.get(p + "target"), Long.parseLong(f.meta(p + "ignore_index")),
                F.Reduction.parse(f.meta(p + "reduction")), Double.parseDouble(f.meta(p + "label_smoothing")));
        f.check(p + "loss", loss, R);
        if (p0.equals("none")) backward(loss, f.get(p + "dout"));
        else loss.backward();
        f.check(p + "grad.x", x.grad(), R);
    }

    @ParameterizedTest
    @ValueSource(strings = {"causal", "boolmask", "addmask", "cross"})
    void sdpa(String p0) {
        Fixture f = Fixture.load("sdpa");
        String p = p0 + ".";
        Tensor q = f.input(p + "q"), k = f.input(p + "k"), v = f.input(p + "v");
        Tensor mask = f.tensors.get(p + "mask");
        Tensor out = F.scaledDotProductAttention(q, k, v, mask, 0.0, Boolean.parseBoolean(f.meta(p + "is_causal")),
                Double.parseDouble(f.meta(p + "scale")), false);
        f.check(p + "out", out, R);
        backward(out, f.get(p + "dout"));
        f.check(p + "grad.q", q.grad(), R_LONG);
        f.check(p + "grad.k", k.grad(), R_LONG);
        f.check(p + "grad.v", v.grad(), R_LONG);
    }

    /** Seed 004's network, verbatim. */
    static class MyNetwork extends Module implements UnaryModule {
        final Conv2d conv1 = registerModule("conv1", new Conv2d(3, 6, 5));
        final MaxPool2d pool = registerModule("pool", new MaxPool2d(2, 2));
        final Conv2d conv2 = registerModule("conv2", new Conv2d(6, 16, 5));
        final Linear fc1 = registerModule("fc1", new Linear(16 * 5 * 5, 120));

        @Override
        public Tensor forward(Tensor x) {
            x = pool.forward(conv1.forward(x).relu());
            x = pool.forward(conv2.forward(x).relu());
            x = x.view(-1, 16 * 5 * 5);
            return fc1.forward(x).relu();
        }
    }

    @Test
    void convPoolMyNetwork() {
        Fixture f = Fixture.load("conv_pool");
        MyNetwork net = new MyNetwork();
        Map<String, Tensor> sd = f.strip("param.");
        // the fixture also holds conv./pool. cases; keep only the main network's keys
        sd.keySet().removeIf(k -> !k.startsWith("conv1.") && !k.startsWith("conv2.") && !k.startsWith("fc1."));
        Module.LoadResult r = net.loadStateDict(sd, true);
        assertEquals(List.of(), r.missingKeys());
        Tensor x = f.input("x");
        Tensor out = net.forward(x);
        f.check("out", out, R_LONG);
        backward(out, f.get("dout"));
        f.check("grad.x", x.grad(), R_LONG);
        for (Map.Entry<String, Tensor> e : net.namedParameters().entrySet()) {
            f.check("grad.param." + e.getKey(), e.getValue().grad(), R_LONG);
        }
    }

    @Test
    void convCase() {
        Fixture f = Fixture.load("conv_pool");
        int k = Integer.parseInt(f.meta("conv.kernel_size"));
        Conv2d conv = new Conv2d(Integer.parseInt(f.meta("conv.in_channels")), Integer.parseInt(f.meta("conv.out_channels")), k,
                Integer.parseInt(f.meta("conv.stride")), Integer.parseInt(f.meta("conv.padding")), Integer.parseInt(f.meta("conv.dilation")),
                Integer.parseInt(f.meta("conv.groups")), Boolean.parseBoolean(f.meta("conv.bias")));
        assertEquals("Conv2d(2, 3, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))", conv.toString());
        conv.loadStateDict(f.strip("conv.param."));
        Tensor x = f.input("conv.x");
        Tensor out = conv.forward(x);
        f.check("conv.out", out, R);
        backward(out, f.get("conv.dout"));
        f.check("conv.grad.x", x.grad(), R);
        f.check("conv.grad.param.weight", conv.weight().grad(), R);
        f.check("conv.grad.param.bias", conv.bias().grad(), R);
    }

    @Test
    void poolCase() {
        Fixture f = Fixture.load("conv_pool");
        MaxPool2d pool = new MaxPool2d(Integer.parseInt(f.meta("pool.kernel_size")), Integer.parseInt(f.meta("pool.stride")),
                Integer.parseInt(f.meta("pool.padding")), Integer.parseInt(f.meta("pool.dilation")), Boolean.parseBoolean(f.meta("pool.ceil_mode")));
        assertEquals("MaxPool2d(kernel_size=3, stride=2, padding=1, dilation=1, ceil_mode=True)", pool.toString());
        Tensor x = f.input("pool.x");
        Tensor out = pool.forward(x);
        f.check("pool.out", out, 0);
        backward(out, f.get("pool.dout"));
        f.check("pool.grad.x", x.grad(), R);
    }

    /** Seed 000's CausalAttentionWithBuffer. */
    static class CausalAttentionWithBuffer extends Module implements UnaryModule {
        final Linear wQuery, wKey, wValue;
        final Dropout dropout;

        CausalAttentionWithBuffer(int dIn, int dOut, int contextLength, double dropout, boolean qkvBias) {
            wQuery = registerModule("W_query", new Linear(dIn, dOut, qkvBias));
            wKey = registerModule("W_key", new Linear(dIn, dOut, qkvBias));
            wValue = registerModule("W_value", new Linear(dIn, dOut, qkvBias));
            this.dropout = registerModule("dropout", new Dropout(dropout));
            registerBuffer("mask", Tensor.ones(contextLength, contextLength).triu(1));
        }

        @Override
        public Tensor forward(Tensor x) {
            int numTokens = x.size(1);
            Tensor keys = wKey.forward(x), queries = wQuery.forward(x), values = wValue.forward(x);
            Tensor scores = queries.matmul(keys.transpose(1, 2));
            Tensor mask = buffer("mask").to(DType.BOOL).slice(0, 0, numTokens).slice(1, 0, numTokens);
            scores = scores.maskedFill(mask, Double.NEGATIVE_INFINITY);
            Tensor w = scores.div(Math.sqrt(keys.size(-1))).softmax(-1);
            return dropout.forward(w).matmul(values);
        }
    }

    @Test
    void causalAttentionWithBuffer() {
        Fixture f = Fixture.load("causal_attention");
        CausalAttentionWithBuffer ca = new CausalAttentionWithBuffer(3, 2, 6, 0.0, false);
        assertEquals(List.of("mask", "W_query.weight", "W_key.weight", "W_value.weight"), List.copyOf(ca.stateDict().keySet()));
        Map<String, Tensor> sd = f.strip("param.");
        sd.putAll(f.strip("buffer."));
        ca.loadStateDict(sd);
        Tensor out;
        try (var g = Grad.off()) {
            out = ca.forward(f.get("x"));
        }
        f.check("out", out, R);
        // the numbers the seed prints
        assertEquals(0.4772, out.get(0, 0, 0), 1e-4);
        assertEquals(0.3493, out.get(1, 5, 1), 1e-4);
    }

    /**
     * The 5-step AdamW run on Sequential(Linear(4,8), GELU(), Linear(8,3)). jllm.optim.AdamW is being
     * written elsewhere, so the update is PyTorch 1.13's single-tensor formula inline (README section 10).
     */
    @Test
    void adamwMlp() {
        Fixture f = Fixture.load("adamw_mlp");
        Sequential model = new Sequential(new Linear(4, 8), new GELU(), new Linear(8, 3));
        assertEquals(List.of("0.weight", "0.bias", "2.weight", "2.bias"), List.copyOf(model.stateDict().keySet()));
        model.loadStateDict(f.strip("param."));
        double lr = Double.parseDouble(f.meta("lr")), b1 = Double.parseDouble(f.meta("beta1")), b2 = Double.parseDouble(f.meta("beta2"));
        double eps = Double.parseDouble(f.meta("eps")), wd = Double.parseDouble(f.meta("weight_decay"));
        Map<String, Tensor> params = model.namedParameters();
        Map<String, Tensor> m = new java.util.HashMap<>(), v = new java.util.HashMap<>();
        for (var e : params.entrySet()) {
            m.put(e.getKey(), Tensor.zerosLike(e.getValue()));
            v.put(e.getKey(), Tensor.zerosLike(e.getValue()));
        }
        Tensor x = f.get("x"), target = f.get("target");
        for (int k = 0; k < 5; k++) {
            model.zeroGrad();
            Tensor loss = F.crossEntropy(model.forward(x), target);
            f.check("loss." + k, loss, R);
            loss.backward();
            for (var e : params.entrySet()) f.check("step" + k + ".grad.param." + e.getKey(), e.getValue().grad(), R_LONG);
            int t = k + 1;
            try (var g = Grad.off()) {
                for (var e : params.entrySet()) {
                    Tensor p = e.getValue(), gr = p.grad(), mm = m.get(e.getKey()), vv = v.get(e.getKey());
                    p.mul_(1 - lr * wd);
                    mm.mul_(b1).add_(gr.mul(1 - b1));
                    vv.mul_(b2).add_(gr.mul(gr).mul(1 - b2));
                    double bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
                    Tensor denom = vv.sqrt().div(Math.sqrt(bc2)).add(eps);
                    p.sub_(mm.div(denom).mul(lr / bc1));
                }
            }
            for (var e : params.entrySet()) f.check("step" + t + ".param." + e.getKey(), e.getValue(), R_LONG);
        }
        for (var e : params.entrySet()) {
            f.check("state.exp_avg." + e.getKey(), m.get(e.getKey()), R_LONG);
            f.check("state.exp_avg_sq." + e.getKey(), v.get(e.getKey()), R_LONG);
        }
    }
}
