package jllm.models.transformer;

import jllm.autograd.Grad;
import jllm.io.TensorIO;
import jllm.models.LanguageModel;
import jllm.nn.Module;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URL;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Seed 001's Transformer against PyTorch: fixture transformer_tiny.safetensors (tools/fixtures/README.md,
 * section "transformer_tiny"). Skipped when the fixture is not on the classpath.
 */
class TransformerParityTest {
    static final double RTOL = 1e-4;
    static final double ATOL = 1e-6;
    static Map<String, Tensor> fx;
    static Map<String, String> meta;

    @BeforeAll
    static void load() throws Exception {
        URL url = TransformerParityTest.class.getResource("/fixtures/transformer_tiny.safetensors");
        if (url == null) return;
        TensorIO.Loaded l = TensorIO.read(Path.of(url.toURI()), false);
        fx = l.tensors();
        meta = l.metadata();
    }

    @BeforeEach
    void needsFixture() {
        assumeTrue(fx != null, "fixture transformer_tiny.safetensors is not on the classpath (made by tools/fixtures/make_model_fixtures.py)");
    }

    static int meta(String k) { return Integer.parseInt(meta.get(k)); }

    static ModelArgs args() {
        return new ModelArgs(meta("vocab_size"), meta("block_size"), meta("n_embd"), Double.parseDouble(meta.get("dropout")), meta("n_layer"),
                meta("n_heads"), meta("dim"), meta("hidden_dim"), meta("max_seq_len"));
    }

    static Map<String, Tensor> strip(String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        fx.forEach((k, v) -> { if (k.startsWith(prefix)) out.put(k.substring(prefix.length()), v); });
        return out;
    }

    static Tensor get(String key) {
        Tensor t = fx.get(key);
        if (t == null) fail("fixture has no key " + key);
        return t;
    }

    static void assertClose(Tensor expected, Tensor actual, String what) {
        assertNotNull(actual, what + ": actual is null");
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray(), a = actual.detach().toDoubleArray();
        double worst = 0;
        for (int i = 0; i < e.length; i++) {
            if (e[i] == a[i]) continue;
            double err = Math.abs(a[i] - e[i]) / (ATOL + RTOL * Math.abs(e[i]));
            if (!(err <= 1)) fail(what + ": element " + i + " expected " + e[i] + " got " + a[i] + " (shape " + Arrays.toString(e.length == 0 ? new int[0] : expected.shape()) + ")");
            worst = Math.max(worst, err);
        }
    }

    static Transformer loaded() {
        Transformer m = new Transformer(args());
        Map<String, Tensor> sd = strip("param.");
        sd.putAll(strip("buffer."));
        Module.LoadResult r = m.loadStateDict(sd);
        assertTrue(r.isClean(), r.toString());
        return m;
    }

    @Test
    void namesAndOrderMatchPyTorch() {
        Transformer m = new Transformer(args());
        assertEquals(List.of(meta.get("state_dict_keys").split(",")), List.copyOf(m.stateDict().keySet()));
        assertEquals(List.of(meta.get("parameter_names").split(",")), List.copyOf(m.namedParameters().keySet()));
        assertEquals(Long.parseLong(meta.get("n_params")), m.numParameters());
        assertEquals(meta.get("seed_init_stdout"), m.parameterCountLine());
    }

    @Test
    void moduleTreePrintsAsPyTorch() {
        // PyTorch 1.13 (the fixture) prints every ModuleList entry; jllm collapses equal ones as PyTorch 2.x does
        // ("(0-1): 2 x EncoderLayer("), so compare each layer's text and the collapsed head line.
        Transformer m = new Transformer(args());
        String tree = meta.get("module_tree");
        String printed = m.toString();
        for (String part : List.of("encoder", "decoder")) {
            String layer = m.getSubmodule("transformer." + part + ".layers.0").toString();
            String indented = String.join("\n        ", layer.split("\n"));
            assertTrue(tree.contains("(0): " + indented), part + " layer:\n" + layer);
            assertTrue(printed.contains("(0-1): 2 x " + indented), printed);
        }
        String expectedHead = tree.substring(0, tree.indexOf("    (encoder)"));
        assertTrue(printed.startsWith(expectedHead), printed);
        assertTrue(printed.endsWith("  (lm_head): Linear(in_features=32, out_features=50, bias=False)\n)"), printed);
    }

    @Test
    void buffersEqualTheSeedsConstruction() {
        Transformer m = new Transformer(args());
        Map<String, Tensor> sd = m.stateDict();
        assertClose(get("buffer.transformer.wpe.pe"), sd.get("transformer.wpe.pe"), "pe");
        for (String k : strip("buffer.").keySet()) {
            if (!k.endsWith(".mask")) continue;
            double[] want = get("buffer." + k).toDoubleArray(), got = sd.get(k).toDoubleArray();
            assertArrayEquals(want, got, 0.0, k + " (0 and -inf)");
        }
    }

    @Test
    void trainingForwardLossAndGradientsMatchPyTorch() {
        Transformer m = loaded();
        m.train();
        LanguageModel.Output out = m.forward(get("idx"), get("targets"));
        assertClose(get("logits"), out.logits(), "logits");
        assertClose(get("loss"), out.loss(), "loss");
        out.loss().backward();
        Map<String, Tensor> grads = strip("grad.param.");
        assertEquals(List.copyOf(m.namedParameters().keySet()), List.copyOf(grads.keySet()), "a gradient for every parameter");
        for (Map.Entry<String, Tensor> p : m.namedParameters().entrySet()) {
            assertClose(grads.get(p.getKey()), p.getValue().grad(), "grad " + p.getKey());
        }
    }

    @Test
    void inferenceReturnsTheLastPositionOnly() {
        Transformer m = loaded();
        m.eval();
        assertTrue(m.lastPositionOnlyInInference());
        try (var g = Grad.off()) {
            LanguageModel.Output out = m.forward(get("idx"), null);
            assertNull(out.loss());
            assertArrayEquals(new int[] {2, 1, meta("vocab_size")}, out.logits().shape());
            assertClose(get("logits_last"), out.logits(), "logits_last");
        }
    }
}
