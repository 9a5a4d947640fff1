package jllm.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;
import jllm.autograd.Grad;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OptimizerTest {
    @TempDir Path dir;

    static float[] randn(Random r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
        return a;
    }

    static Tensor param(Random r, int... shape) {
        int n = 1;
        for (int d : shape) n *= d;
        return Tensor.of(randn(r, n), shape).requiresGrad(true);
    }

    static List<Tensor> params(long seed) {
        Random r = new Random(seed);
        return List.of(param(r, 3, 4), param(r, 4), param(r, 2, 3));
    }

    /** The grad for parameter i at step k: deterministic, independent of the optimizer. */
    static Tensor gradFor(Tensor p, int i, int k) {
        return Tensor.of(randn(new Random(1000L * k + i), p.numel()), p.shape());
    }

    static void setGrads(List<Tensor> ps, int k) {
        for (int i = 0; i < ps.size(); i++) ps.get(i).setGrad(gradFor(ps.get(i), i, k));
    }

    static List<Tensor> copies(List<Tensor> ps) {
        List<Tensor> out = new ArrayList<>();
        for (Tensor p : ps) out.add(p.detach().clone().requiresGrad(true));
        return out;
    }

    static void assertSameValues(List<Tensor> a, List<Tensor> b) {
        for (int i = 0; i < a.size(); i++) assertArrayEquals(a.get(i).toFloatArray(), b.get(i).toFloatArray(), 0f, "param " + i);
    }

    // ---------------------------------------------------------------- zero_grad, skipping

    @Test
    void zeroGradSetsToNoneOrZeroesInPlace() {
        List<Tensor> ps = params(1);
        SGD opt = new SGD(ps, 0.1);
        setGrads(ps, 0);
        opt.zeroGrad();
        for (Tensor p : ps) assertNull(p.grad());

        setGrads(ps, 0);
        Tensor g0 = ps.get(0).grad();
        opt.zeroGrad(false);
        assertTrue(ps.get(0).grad() == g0, "zeroGrad(false) keeps the grad tensor");
        for (Tensor p : ps) for (float v : p.grad().toFloatArray()) assertEquals(0f, v);
    }

    @Test
    void paramsWithNullGradAreSkippedAndGetNoState() {
        List<Tensor> ps = params(2);
        float[] before = ps.get(1).toFloatArray();
        AdamW opt = new AdamW(ps, 0.1);
        for (int k = 0; k < 3; k++) {
            opt.zeroGrad();
            ps.get(0).setGrad(gradFor(ps.get(0), 0, k));
            if (k == 2) ps.get(2).setGrad(gradFor(ps.get(2), 2, k));
            opt.step();
        }
        assertArrayEquals(before, ps.get(1).toFloatArray(), 0f);
        assertNull(opt.state(ps.get(1)));
        assertEquals(3, opt.state(ps.get(0)).step());
        assertEquals(1, opt.state(ps.get(2)).step(), "step counters are per parameter");
        // the state dict only names parameters with state
        assertFalse(opt.stateDict().tensors().containsKey("state.1.exp_avg"));
        assertTrue(opt.stateDict().tensors().containsKey("state.2.exp_avg"));
    }

    @Test
    void stepRunsWithGradModeOffAndRestoresIt() {
        List<Tensor> ps = params(3);
        for (Optimizer opt : List.of(new AdamW(ps, 0.1), new SGD(ps, 0.1, 0.9),
                new AdamW(List.of(new ParamGroup(ps).set(ParamGroup.AMSGRAD, true))))) {
            setGrads(ps, 0);
            int v = ps.get(0).version();
            assertTrue(Grad.isEnabled());
            opt.step();
            assertTrue(Grad.isEnabled());
            for (Tensor p : ps) {
                assertTrue(p.isLeaf(), "parameter stays a leaf");
                assertTrue(p.requiresGrad());
            }
            assertTrue(ps.get(0).version() > v, "in-place update bumps the version");
        }
    }

    // ---------------------------------------------------------------- math vs hand formulas (double)

    /** AdamW / Adam reference in double, torch.optim's formula. */
    static double[][] adamReference(List<float[]> p0, Function<Integer, List<float[]>> grads, int steps, double lr, double b1,
                                    double b2, double eps, double wd, boolean decoupled, boolean amsgrad) {
        int n = p0.size();
        double[][] p = new double[n][], m = new double[n][], v = new double[n][], vmax = new double[n][];
        for (int i = 0; i < n; i++) {
            p[i] = new double[p0.get(i).length];
            for (int j = 0; j < p[i].length; j++) p[i][j] = p0.get(i)[j];
            m[i] = new double[p[i].length];
            v[i] = new double[p[i].length];
            vmax[i] = new double[p[i].length];
        }
        for (int t = 1; t <= steps; t++) {
            List<float[]> gs = grads.apply(t - 1);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < p[i].length; j++) {
                    double g = gs.get(i)[j];
                    if (decoupled) p[i][j] *= 1 - lr * wd;
                    else g += wd * p[i][j];
                    m[i][j] = b1 * m[i][j] + (1 - b1) * g;
                    v[i][j] = b2 * v[i][j] + (1 - b2) * g * g;
                    vmax[i][j] = Math.max(vmax[i][j], v[i][j]);
                    double vv = amsgrad ? vmax[i][j] : v[i][j];
                    double denom = Math.sqrt(vv) / Math.sqrt(1 - Math.pow(b2, t)) + eps;
                    p[i][j] -= lr / (1 - Math.pow(b1, t)) * m[i][j] / denom;
                }
            }
        }
        return p;
    }

    static void assertClose(double[][] expected, List<Tensor> actual, double tol) {
        for (int i = 0; i < expected.length; i++) {
            float[] a = actual.get(i).toFloatArray();
            for (int j = 0; j < a.length; j++) {
                assertEquals(expected[i][j], a[j], tol * (1 + Math.abs(expected[i][j])), "param " + i + "[" + j + "]");
            }
        }
    }

    static List<float[]> values(List<Tensor> ps) {
        List<float[]> out = new ArrayList<>();
        for (Tensor p : ps) out.add(p.toFloatArray());
        return out;
    }

    static Function<Integer, List<float[]>> gradValues(List<Tensor> ps) {
        return k -> {
            List<float[]> out = new ArrayList<>();
            for (int i = 0; i < ps.size(); i++) out.add(gradFor(ps.get(i), i, k).toFloatArray());
            return out;
        };
    }

    @Test
    void adamwAmsgradAndAdamMatchDoubleReference() {
        for (String variant : List.of("adamw", "adamw-amsgrad", "adam", "adam-amsgrad")) {
            List<Tensor> ps = params(4);
            List<float[]> p0 = values(ps);
            boolean ams = variant.endsWith("amsgrad");
            boolean decoupled = variant.startsWith("adamw");
            List<ParamGroup> g = List.of(new ParamGroup(ps));
            Optimizer opt = decoupled ? new AdamW(g, 0.01, 0.9, 0.95, 1e-8, 0.1, ams) : new Adam(g, 0.01, 0.9, 0.95, 1e-8, 0.1, ams);
            for (int k = 0; k < 6; k++) {
                setGrads(ps, k);
                opt.step();
            }
            assertClose(adamReference(p0, gradValues(ps), 6, 0.01, 0.9, 0.95, 1e-8, 0.1, decoupled, ams), ps, 1e-6);
        }
    }

    @Test
    void adamwDefaultsArePyTorchs() {
        AdamW opt = new AdamW(params(5));
        ParamGroup g = opt.paramGroups().get(0);
        assertEquals(1e-3, g.lr());
        assertArrayEquals(new double[] {0.9, 0.999}, g.getDoubles(ParamGroup.BETAS));
        assertEquals(1e-8, g.getDouble(ParamGroup.EPS));
        assertEquals(1e-2, g.weightDecay());
        assertFalse(g.getBoolean(ParamGroup.AMSGRAD));
        assertEquals(0.0, new Adam(params(5)).paramGroups().get(0).weightDecay());
    }

    @Test
    void paramGroupsUseTheirOwnLrAndWeightDecay() {
        List<Tensor> a = params(6), b = params(7);
        List<float[]> a0 = values(a), b0 = values(b);
        AdamW opt = new AdamW(List.of(new ParamGroup(a), new ParamGroup(b).lr(0.05).weightDecay(0.0)), 0.01, 0.9, 0.999, 1e-8, 0.2, false);
        assertEquals(0.01, opt.paramGroups().get(0).lr());
        assertEquals(0.2, opt.paramGroups().get(0).weightDecay());
        assertEquals(0.05, opt.paramGroups().get(1).lr());
        for (int k = 0; k < 4; k++) {
            setGrads(a, k);
            setGrads(b, k + 10);
            opt.step();
        }
        assertClose(adamReference(a0, gradValues(a), 4, 0.01, 0.9, 0.999, 1e-8, 0.2, true, false), a, 1e-6);
        assertClose(adamReference(b0, k -> gradValues(b).apply(k + 10), 4, 0.05, 0.9, 0.999, 1e-8, 0.0, true, false), b, 1e-6);

        // changing a group's lr between steps takes effect (what schedulers do)
        opt.paramGroups().get(1).lr(0.0);
        List<float[]> frozen = values(b);
        setGrads(b, 99);
        opt.step();
        assertArrayEquals(frozen.get(0), b.get(0).toFloatArray(), 0f);
    }

    @Test
    void addParamGroupFillsDefaults() {
        List<Tensor> a = params(8), b = params(9);
        SGD opt = new SGD(a, 0.1, 0.9);
        opt.addParamGroup(new ParamGroup(b).lr(0.01));
        ParamGroup g = opt.paramGroups().get(1);
        assertEquals(0.01, g.lr());
        assertEquals(0.9, g.getDouble(ParamGroup.MOMENTUM));
        assertFalse(g.getBoolean(ParamGroup.NESTEROV));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> opt.addParamGroup(new ParamGroup(List.of(a.get(0)))));
        assertTrue(e.getMessage().contains("more than one parameter group"), e.getMessage());
    }

    @Test
    void sgdMatchesHandFormulas() {
        double lr = 0.1, mom = 0.9, damp = 0.25, wd = 0.01;
        List<Tensor> ps = params(10);
        List<float[]> p0 = values(ps);
        SGD opt = new SGD(ps, lr, mom, damp, wd, false);
        int n = ps.size();
        double[][] p = new double[n][], buf = new double[n][];
        for (int i = 0; i < n; i++) {
            p[i] = new double[p0.get(i).length];
            for (int j = 0; j < p[i].length; j++) p[i][j] = p0.get(i)[j];
        }
        for (int k = 0; k < 5; k++) {
            setGrads(ps, k);
            opt.step();
            for (int i = 0; i < n; i++) {
                float[] g = gradFor(ps.get(i), i, k).toFloatArray();
                if (buf[i] == null) buf[i] = new double[g.length];
                for (int j = 0; j < g.length; j++) {
                    double d = g[j] + wd * p[i][j];
                    buf[i][j] = k == 0 ? d : mom * buf[i][j] + (1 - damp) * d;
                    p[i][j] -= lr * buf[i][j];
                }
            }
        }
        assertClose(p, ps, 1e-6);

        // plain SGD keeps no state
        List<Tensor> qs = params(11);
        List<float[]> q0 = values(qs);
        SGD plain = new SGD(qs, 0.5);
        setGrads(qs, 0);
        plain.step();
        assertNull(plain.state(qs.get(0)));
        float[] g = gradFor(qs.get(0), 0, 0).toFloatArray(), q = qs.get(0).toFloatArray();
        for (int j = 0; j < g.length; j++) assertEquals(q0.get(0)[j] - 0.5f * g[j], q[j], 1e-6);
    }

    @Test
    void maximizeAscends() {
        List<Tensor> ps = List.of(Tensor.of(new float[] {1f}, 1).requiresGrad(true));
        SGD opt = new SGD(List.of(new ParamGroup(ps).set(ParamGroup.MAXIMIZE, true)), 0.5, 0, 0, 0, false);
        ps.get(0).setGrad(Tensor.of(new float[] {2f}, 1));
        opt.step();
        assertEquals(2f, ps.get(0).toFloatArray()[0]);
    }

    // ---------------------------------------------------------------- argument checks

    @Test
    void badArgumentsGiveClearErrors() {
        List<Tensor> ps = params(12);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new SGD(ps, 0.1, 0, 0, 0, true));
        assertTrue(e.getMessage().contains("Nesterov momentum requires a momentum and zero dampening"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(ps, 0.1, 0.9, 0.1, 0, true));
        assertTrue(e.getMessage().contains("Nesterov"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new AdamW(ps, -1));
        assertTrue(e.getMessage().contains("Invalid learning rate: -1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new AdamW(ps, 1e-3, 1.0, 0.999, 1e-8, 0));
        assertTrue(e.getMessage().contains("beta parameter at index 0"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new AdamW(List.<Tensor>of()));
        assertTrue(e.getMessage().contains("empty parameter list"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(ps.get(0), ps.get(0)), 0.1));
        assertTrue(e.getMessage().contains("appears twice"), e.getMessage());
        Tensor nonLeaf = ps.get(0).mul(2);
        e = assertThrows(IllegalArgumentException.class, () -> new SGD(List.of(nonLeaf), 0.1));
        assertTrue(e.getMessage().contains("non-leaf"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> new AdamW(List.of(new ParamGroup(ps).weightDecay(-0.1))));
        assertTrue(e.getMessage().contains("Invalid weight_decay value: -0.1"), e.getMessage());
    }

    // ---------------------------------------------------------------- state dict

    interface Make { Optimizer make(List<Tensor> ps); }

    /** steps 0..total-1 uninterrupted vs stopping at `at`, saving, loading into a fresh optimizer and finishing. */
    void assertResumeIsExact(Make make, int at, int total) throws IOException {
        List<Tensor> a = params(20);
        Optimizer oa = make.make(a);
        for (int k = 0; k < total; k++) {
            setGrads(a, k);
            oa.step();
        }
        List<Tensor> b = params(20);
        Optimizer ob = make.make(b);
        for (int k = 0; k < at; k++) {
            setGrads(b, k);
            ob.step();
        }
        Path file = dir.resolve("state-" + oa.name() + ".safetensors");
        ob.save(file);
        List<Tensor> c = copies(b);
        Optimizer oc = make.make(c);
        oc.load(file);
        for (int k = at; k < total; k++) {
            setGrads(c, k);
            oc.step();
        }
        assertSameValues(a, c);
        for (int i = 0; i < a.size(); i++) {
            ParamState sa = oa.state(a.get(i)), sc = oc.state(c.get(i));
            if (sa == null) {
                assertNull(sc);
                continue;
            }
            assertEquals(sa.step(), sc.step());
            for (String key : sa.buffers().keySet()) {
                assertArrayEquals(sa.get(key).toFloatArray(), sc.get(key).toFloatArray(), 0f, key);
                assertNotSame(oa.state(a.get(i)).get(key), sc.get(key));
            }
        }
    }

    @Test
    void saveLoadResumeGivesIdenticalParams() throws IOException {
        assertResumeIsExact(ps -> new AdamW(ps, 0.01, 0.9, 0.95, 1e-8, 0.1), 3, 7);
        assertResumeIsExact(ps -> new AdamW(List.of(new ParamGroup(ps).set(ParamGroup.AMSGRAD, true)), 0.01, 0.9, 0.95, 1e-8, 0.1, false), 2, 5);
        assertResumeIsExact(ps -> new Adam(ps, 0.01, 0.9, 0.95, 1e-8, 0.1), 3, 6);
        assertResumeIsExact(ps -> new SGD(ps, 0.1, 0.9, 0, 0.01, true), 2, 6);
        assertResumeIsExact(ps -> new SGD(ps, 0.1), 2, 4);
    }

    @Test
    void stateDictLayoutAndHyperParametersRoundTrip() throws IOException {
        List<Tensor> ps = params(21);
        AdamW opt = new AdamW(List.of(new ParamGroup(ps.subList(0, 2)), new ParamGroup(ps.subList(2, 3)).lr(0.5).weightDecay(0)));
        setGrads(ps, 0);
        opt.step();
        OptimizerStateDict sd = opt.stateDict();
        assertEquals("AdamW", sd.metadata().get("optimizer"));
        assertTrue(sd.metadata().get("param_groups").contains("\"params\":[2]"), sd.metadata().get("param_groups"));
        for (int i = 0; i < 3; i++) {
            assertEquals(DType.I64, sd.tensors().get("state." + i + ".step").dtype());
            assertEquals(0, sd.tensors().get("state." + i + ".step").dim());
            assertArrayEquals(ps.get(i).shape(), sd.tensors().get("state." + i + ".exp_avg").shape());
            assertArrayEquals(ps.get(i).shape(), sd.tensors().get("state." + i + ".exp_avg_sq").shape());
        }
        assertEquals(9, sd.tensors().size());

        Path file = dir.resolve("groups.safetensors");
        opt.save(file);
        List<Tensor> qs = copies(ps);
        AdamW fresh = new AdamW(List.of(new ParamGroup(qs.subList(0, 2)), new ParamGroup(qs.subList(2, 3))), 0.1, 0.8, 0.9, 1e-6, 0.3, false);
        fresh.load(file);
        for (int gi = 0; gi < 2; gi++) {
            ParamGroup want = opt.paramGroups().get(gi), got = fresh.paramGroups().get(gi);
            assertEquals(want.lr(), got.lr());
            assertEquals(want.weightDecay(), got.weightDecay());
            assertArrayEquals(want.getDoubles(ParamGroup.BETAS), got.getDoubles(ParamGroup.BETAS));
            assertEquals(want.getDouble(ParamGroup.EPS), got.getDouble(ParamGroup.EPS));
        }
        assertEquals(1, fresh.state(qs.get(0)).step());
    }

    @Test
    void floatStepsAreAccepted() {
        List<Tensor> ps = params(22);
        AdamW opt = new AdamW(ps);
        setGrads(ps, 0);
        opt.step();
        opt.step();
        OptimizerStateDict sd = opt.stateDict();
        Map<String, Tensor> t = new LinkedHashMap<>(sd.tensors());
        for (int i = 0; i < 3; i++) t.put("state." + i + ".step", Tensor.scalar(2, DType.F32, Device.CPU)); // PyTorch 2.x keeps step as float32
        AdamW fresh = new AdamW(copies(ps));
        fresh.loadStateDict(new OptimizerStateDict(t, sd.metadata()));
        assertEquals(2, fresh.state(fresh.paramGroups().get(0).params().get(0)).step());
    }

    /** A saved state with one parameter of another shape, and other broken files. */
    @Test
    void loadErrorsNameTheProblem() throws IOException {
        Random r = new Random(30);
        List<Tensor> ps = List.of(param(r, 3, 4), param(r, 5));
        AdamW opt = new AdamW(ps);
        setGrads(ps, 0);
        opt.step();
        Path file = dir.resolve("a.safetensors");
        opt.save(file);

        // shape mismatch
        AdamW other = new AdamW(List.of(param(r, 4, 3), param(r, 5)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> other.load(file));
        assertTrue(e.getMessage().contains("state.0.exp_avg") && e.getMessage().contains("[3, 4]") && e.getMessage().contains("[4, 3]")
                && e.getMessage().contains(file.toString()), e.getMessage());
        assertNull(other.state(other.paramGroups().get(0).params().get(1)), "a failed load changes nothing");

        // missing key
        OptimizerStateDict sd = opt.stateDict();
        Map<String, Tensor> t = new LinkedHashMap<>(sd.tensors());
        t.remove("state.1.exp_avg_sq");
        Path broken = dir.resolve("missing.safetensors");
        new OptimizerStateDict(t, sd.metadata()).write(broken);
        AdamW fresh = new AdamW(copies(ps));
        e = assertThrows(IllegalArgumentException.class, () -> fresh.load(broken));
        assertTrue(e.getMessage().contains("missing key 'state.1.exp_avg_sq'"), e.getMessage());

        // unexpected key, parameter index out of range
        t = new LinkedHashMap<>(sd.tensors());
        t.put("state.0.momentum_buffer", Tensor.zeros(3, 4));
        OptimizerStateDict unexpected = new OptimizerStateDict(t, sd.metadata());
        e = assertThrows(IllegalArgumentException.class, () -> fresh.loadStateDict(unexpected));
        assertTrue(e.getMessage().contains("unexpected key 'state.0.momentum_buffer'"), e.getMessage());
        t = new LinkedHashMap<>(sd.tensors());
        t.put("state.7.exp_avg", Tensor.zeros(3, 4));
        OptimizerStateDict outOfRange = new OptimizerStateDict(t, sd.metadata());
        e = assertThrows(IllegalArgumentException.class, () -> fresh.loadStateDict(outOfRange));
        assertTrue(e.getMessage().contains("state.7.exp_avg") && e.getMessage().contains("2 parameters"), e.getMessage());

        // wrong optimizer, wrong group structure
        SGD sgd = new SGD(copies(ps), 0.1, 0.9);
        e = assertThrows(IllegalArgumentException.class, () -> sgd.load(file));
        assertTrue(e.getMessage().contains("saved by AdamW, cannot load it into SGD"), e.getMessage());
        List<Tensor> cs = copies(ps);
        AdamW twoGroups = new AdamW(List.of(new ParamGroup(cs.subList(0, 1)), new ParamGroup(cs.subList(1, 2))));
        e = assertThrows(IllegalArgumentException.class, () -> twoGroups.load(file));
        assertTrue(e.getMessage().contains("1 parameter groups but the optimizer has 2"), e.getMessage());
        AdamW fewer = new AdamW(List.of(cs.get(0)));
        e = assertThrows(IllegalArgumentException.class, () -> fewer.load(file));
        assertTrue(e.getMessage().contains("doesn't match the size of optimizer's group"), e.getMessage());
    }

    @Test
    void stateLivesOnTheParameterAfterLoad() {
        List<Tensor> ps = params(31);
        SGD opt = new SGD(ps, 0.1, 0.9);
        setGrads(ps, 0);
        opt.step();
        SGD fresh = new SGD(copies(ps), 0.1, 0.9);
        fresh.loadStateDict(opt.stateDict());
        Tensor buf = fresh.state(fresh.paramGroups().get(0).params().get(0)).get("momentum_buffer");
        assertNotNull(buf);
        assertEquals(DType.F32, buf.dtype());
        assertTrue(buf.isContiguous());
        assertNotSame(opt.state(ps.get(0)).get("momentum_buffer"), buf);
    }
}
