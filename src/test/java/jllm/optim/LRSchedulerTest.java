package jllm.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import jllm.optim.lr.ConstantLR;
import jllm.optim.lr.LambdaLR;
import jllm.optim.lr.LRScheduler;
import jllm.optim.lr.LinearWarmup;
import jllm.optim.lr.WarmupCosine;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;

class LRSchedulerTest {
    static Tensor p() { return Tensor.zeros(2).requiresGrad(true); }

    /** nanoGPT train.py get_lr, transcribed independently. */
    static double nanoGpt(long it, double learningRate, double minLr, long warmupIters, long lrDecayIters) {
        if (it < warmupIters) return learningRate * (it + 1) / (warmupIters + 1);
        if (it > lrDecayIters) return minLr;
        double decayRatio = (double) (it - warmupIters) / (lrDecayIters - warmupIters);
        double coeff = 0.5 * (1.0 + Math.cos(Math.PI * decayRatio));
        return minLr + coeff * (learningRate - minLr);
    }

    @Test
    void warmupCosineIsNanoGptsGetLr() {
        double lr = 6e-4, min = 6e-5;
        long warmup = 2000, decay = 600000;
        AdamW opt = new AdamW(List.of(p()), lr);
        WarmupCosine s = new WarmupCosine(opt, warmup, decay, min);
        for (long it : new long[] {0, 1, 999, 1999, 2000, 2001, 301000, 599999, 600000, 600001, 10_000_000}) {
            assertEquals(nanoGpt(it, lr, min, warmup, decay), s.lr(it), 0.0, "it=" + it);
        }
        assertEquals(lr / 2001, s.lr(0), 0.0);
        assertEquals(lr * 2000 / 2001, s.lr(1999), 0.0);
        assertEquals(lr, s.lr(2000), 0.0);
        assertEquals((lr + min) / 2, s.lr(301000), 1e-18);
        assertEquals(min, s.lr(600000), 1e-18);
        assertEquals(min, s.lr(600001), 0.0);
    }

    @Test
    void schedulerDrivesTheGroupsStepByStep() {
        AdamW opt = new AdamW(List.of(new ParamGroup(List.of(p())), new ParamGroup(List.of(p())).lr(1e-2)), 1e-3, 0.9, 0.95, 1e-8, 0.1, false);
        WarmupCosine s = new WarmupCosine(opt, 3, 10, 1e-4);
        // created: step 0 applied
        assertEquals(0, s.lastStep());
        assertEquals(nanoGpt(0, 1e-3, 1e-4, 3, 10), opt.paramGroups().get(0).lr(), 0.0);
        assertEquals(1e-3, opt.paramGroups().get(0).getDouble(ParamGroup.INITIAL_LR));
        for (int it = 1; it <= 12; it++) {
            opt.step();
            s.step();
            assertEquals(it, s.lastStep());
            assertEquals(nanoGpt(it, 1e-3, 1e-4, 3, 10), opt.paramGroups().get(0).lr(), 0.0, "it=" + it);
            // the second group keeps its 10x ratio
            assertEquals(nanoGpt(it, 1e-2, 1e-3, 3, 10), opt.paramGroups().get(1).lr(), 1e-15, "it=" + it);
        }
        assertArrayEquals(new double[] {opt.paramGroups().get(0).lr(), opt.paramGroups().get(1).lr()}, s.lastLr());
    }

    @Test
    void stateDictRestoresTheStep() {
        AdamW a = new AdamW(List.of(p()), 1e-3);
        WarmupCosine sa = new WarmupCosine(a, 5, 50, 1e-5);
        for (int i = 0; i < 17; i++) sa.step();
        Map<String, Object> state = sa.stateDict();
        assertEquals(17L, state.get("last_epoch"));

        AdamW b = new AdamW(List.of(p()), 1e-3);
        WarmupCosine sb = new WarmupCosine(b, 5, 50, 1e-5);
        sb.loadStateDict(state);
        assertEquals(17, sb.lastStep());
        assertEquals(a.paramGroups().get(0).lr(), b.paramGroups().get(0).lr(), 0.0);
        sa.step();
        sb.step();
        assertEquals(a.paramGroups().get(0).lr(), b.paramGroups().get(0).lr(), 0.0);
    }

    @Test
    void linearWarmupConstantAndLambda() {
        SGD opt = new SGD(List.of(p()), 0.5);
        LinearWarmup w = new LinearWarmup(opt, 4);
        assertEquals(0.5 * 1 / 5, opt.paramGroups().get(0).lr(), 0.0);
        assertEquals(0.5 * 4 / 5, w.lr(3), 0.0);
        assertEquals(0.5, w.lr(4), 0.0);
        assertEquals(0.5, w.lr(1000), 0.0);

        SGD opt2 = new SGD(List.of(p()), 0.3);
        ConstantLR c = new ConstantLR(opt2);   // PyTorch defaults: factor 1/3 for 5 steps
        assertEquals(0.3 / 3, opt2.paramGroups().get(0).lr(), 1e-17);
        for (int i = 1; i < 5; i++) c.step();
        assertEquals(0.3 / 3, opt2.paramGroups().get(0).lr(), 1e-17);
        c.step();
        assertEquals(0.3, opt2.paramGroups().get(0).lr(), 0.0);
        assertEquals(0.3, ConstantLR.constant(new SGD(List.of(p()), 0.3)).lr(0), 0.0);

        SGD opt3 = new SGD(List.of(new ParamGroup(List.of(p())), new ParamGroup(List.of(p())).lr(1.0)), 0.1, 0, 0, 0, false);
        LRScheduler l = new LambdaLR(opt3, List.of(k -> 0.5 * k, k -> 1.0 / (k + 1)));
        assertEquals(0.0, opt3.paramGroups().get(0).lr());
        assertEquals(1.0, opt3.paramGroups().get(1).lr());
        l.step();
        l.step();
        assertEquals(0.1 * 0.5 * 2, opt3.paramGroups().get(0).lr(), 1e-17);
        assertEquals(1.0 / 3, opt3.paramGroups().get(1).lr(), 0.0);
        assertThrows(IllegalArgumentException.class, () -> new LambdaLR(opt3, List.of(k -> 1.0)));
    }

    @Test
    void badSettingsAreRejected() {
        AdamW opt = new AdamW(List.of(p()));
        assertThrows(IllegalArgumentException.class, () -> new WarmupCosine(opt, 10, 5, 0));
        assertThrows(IllegalArgumentException.class, () -> new ConstantLR(opt, 1.5, 3));
        assertThrows(IllegalArgumentException.class, () -> new LinearWarmup(opt, -1));
    }
}
