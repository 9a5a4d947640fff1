package jllm.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import jllm.io.SafeTensors;
import jllm.io.SafeTensorsFile;
import jllm.io.TensorEntry;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * PyTorch parity of the optimizer math: the fixtures hold a small MLP's initial parameters, the
 * gradient of each of five steps, the parameters after each step and the final state (see
 * tools/fixtures/README.md, section 10). Feeding the stored gradients must reproduce the rest.
 */
class OptimParityTest {
    static final String[] NAMES = {"0.weight", "0.bias", "2.weight", "2.bias"};
    static final int STEPS = 5;

    static Path fixture(String name) {
        return Path.of("src/test/resources/fixtures", name);
    }

    static Tensor tensor(SafeTensorsFile f, String key) {
        TensorEntry e = f.get(key);
        assertNotNull(e, "fixture key " + key);
        long[] ls = e.shape();
        int[] shape = new int[ls.length];
        for (int i = 0; i < ls.length; i++) shape[i] = (int) ls[i];
        return Tensor.of(e.toFloatArray(), shape);
    }

    /** |actual - expected| <= 1e-7 + 1e-5 |expected| elementwise. */
    static void assertClose(Tensor expected, Tensor actual, String what) {
        assertTrue(Arrays.equals(expected.shape(), actual.shape()),
                what + ": shape " + Arrays.toString(actual.shape()) + " != " + Arrays.toString(expected.shape()));
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        for (int i = 0; i < e.length; i++) {
            double err = Math.abs((double) a[i] - e[i]);
            assertTrue(err <= 1e-7 + 1e-5 * Math.abs(e[i]),
                    what + "[" + i + "]: expected " + e[i] + " got " + a[i] + " (abs err " + err + ")");
        }
    }

    static double meta(Map<String, String> m, String key) { return Double.parseDouble(m.get(key)); }

    interface Factory { Optimizer make(List<Tensor> params, Map<String, String> meta); }

    /** Runs the fixture's five steps and checks params after each; returns the optimizer and params. */
    static Object[] replay(String file, Factory factory) throws IOException {
        try (SafeTensorsFile f = SafeTensors.open(fixture(file))) {
            List<Tensor> params = new ArrayList<>();
            for (String n : NAMES) params.add(tensor(f, "param." + n).requiresGrad(true));
            Optimizer opt = factory.make(params, f.metadata());
            for (int k = 0; k < STEPS; k++) {
                opt.zeroGrad();
                for (int i = 0; i < NAMES.length; i++) params.get(i).setGrad(tensor(f, "step" + k + ".grad.param." + NAMES[i]));
                opt.step();
                for (int i = 0; i < NAMES.length; i++) {
                    assertClose(tensor(f, "step" + (k + 1) + ".param." + NAMES[i]), params.get(i), file + " step " + (k + 1) + " " + NAMES[i]);
                }
            }
            return new Object[] {opt, params};
        }
    }

    @Test
    void adamwMatchesPyTorch() throws IOException {
        Object[] r = replay("adamw_mlp.safetensors", (params, m) -> {
            assertEquals("AdamW", m.get("optimizer"));
            assertEquals("false", m.get("amsgrad"));
            return new AdamW(params, meta(m, "lr"), meta(m, "beta1"), meta(m, "beta2"), meta(m, "eps"), meta(m, "weight_decay"));
        });
        Optimizer opt = (Optimizer) r[0];
        @SuppressWarnings("unchecked") List<Tensor> params = (List<Tensor>) r[1];
        try (SafeTensorsFile f = SafeTensors.open(fixture("adamw_mlp.safetensors"))) {
            for (int i = 0; i < NAMES.length; i++) {
                ParamState s = opt.state(params.get(i));
                assertEquals(STEPS, s.step());
                assertClose(tensor(f, "state.exp_avg." + NAMES[i]), s.get("exp_avg"), "exp_avg " + NAMES[i]);
                assertClose(tensor(f, "state.exp_avg_sq." + NAMES[i]), s.get("exp_avg_sq"), "exp_avg_sq " + NAMES[i]);
            }
        }
    }

    @Test
    void sgdNesterovMatchesPyTorch() throws IOException {
        Object[] r = replay("sgd_mlp.safetensors", (params, m) -> {
            assertEquals("SGD", m.get("optimizer"));
            return new SGD(params, meta(m, "lr"), meta(m, "momentum"), meta(m, "dampening"), meta(m, "weight_decay"),
                    Boolean.parseBoolean(m.get("nesterov")));
        });
        Optimizer opt = (Optimizer) r[0];
        @SuppressWarnings("unchecked") List<Tensor> params = (List<Tensor>) r[1];
        try (SafeTensorsFile f = SafeTensors.open(fixture("sgd_mlp.safetensors"))) {
            for (int i = 0; i < NAMES.length; i++) {
                assertClose(tensor(f, "state.momentum_buffer." + NAMES[i]), opt.state(params.get(i)).get("momentum_buffer"),
                        "momentum_buffer " + NAMES[i]);
            }
        }
    }

    /** Stopping after step 2, saving, loading into a fresh optimizer and finishing still matches PyTorch. */
    @Test
    void adamwResumedFromFileMatchesPyTorch(@org.junit.jupiter.api.io.TempDir Path dir) throws IOException {
        try (SafeTensorsFile f = SafeTensors.open(fixture("adamw_mlp.safetensors"))) {
            Map<String, String> m = f.metadata();
            List<Tensor> params = new ArrayList<>();
            for (String n : NAMES) params.add(tensor(f, "param." + n).requiresGrad(true));
            Optimizer opt = new AdamW(params, meta(m, "lr"), meta(m, "beta1"), meta(m, "beta2"), meta(m, "eps"), meta(m, "weight_decay"));
            for (int k = 0; k < STEPS; k++) {
                if (k == 2) {
                    Path file = dir.resolve("opt.safetensors");
                    opt.save(file);
                    List<Tensor> copies = new ArrayList<>();
                    for (Tensor p : params) copies.add(p.detach().clone().requiresGrad(true));
                    params = copies;
                    opt = new AdamW(params); // other hyper-parameters: the file's must win
                    opt.load(file);
                }
                opt.zeroGrad();
                for (int i = 0; i < NAMES.length; i++) params.get(i).setGrad(tensor(f, "step" + k + ".grad.param." + NAMES[i]));
                opt.step();
                for (int i = 0; i < NAMES.length; i++) {
                    assertClose(tensor(f, "step" + (k + 1) + ".param." + NAMES[i]), params.get(i), "resumed step " + (k + 1) + " " + NAMES[i]);
                }
            }
        }
    }
}
