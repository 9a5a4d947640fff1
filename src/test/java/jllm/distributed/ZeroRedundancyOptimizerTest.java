package jllm.distributed;

import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.optim.AdamW;
import jllm.optim.OptimizerStateDict;
import jllm.optim.ParamGroup;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.train.Trainer;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What needs no MPI: the partition, and a world of one, where ZeRO is the wrapped optimizer. */
class ZeroRedundancyOptimizerTest {
    @Test
    void partitionIsPyTorchsGreedyLargestFirstWithTotalsCarriedAcrossGroups() {
        // group 0: 30 -> r0, 20 -> r1, 20 -> r1, 10 -> r0 (totals 40, 40); group 1: 25 -> r0 (tie: lowest rank), 5 -> r1
        assertArrayEquals(new int[] {0, 0, 1, 1, 1, 0}, ZeroRedundancyOptimizer.partition(new long[][] {{10, 30, 20, 20}, {5, 25}}, 2));
        assertArrayEquals(new int[] {0, 1, 2, 0}, ZeroRedundancyOptimizer.partition(new long[][] {{7, 7, 7, 1}}, 3));
        assertArrayEquals(new int[] {0, 0}, ZeroRedundancyOptimizer.partition(new long[][] {{3}, {}, {4}}, 1));
        assertThrows(IllegalArgumentException.class, () -> ZeroRedundancyOptimizer.partition(new long[][] {{1}}, 0));
    }

    static final class Net extends Module {
        final Linear a = registerModule("a", new Linear(4, 8)), b = registerModule("b", new Linear(8, 2));

        Tensor forward(Tensor x) { return b.forward(a.forward(x).relu()); }
    }

    @Test
    void inAWorldOfOneItStepsAndSavesExactlyAsTheWrappedOptimizer() {
        Generator.manualSeed(3);
        Net plain = new Net(), wrapped = new Net();
        wrapped.loadStateDict(plain.stateDict(), true);
        AdamW reference = Trainer.configureOptimizers(plain, 0.1, 1e-2, 0.9, 0.95, s -> {});
        AdamW inner = Trainer.configureOptimizers(wrapped, 0.1, 1e-2, 0.9, 0.95, s -> {});
        var zero = new ZeroRedundancyOptimizer(inner, ProcessGroup.single());
        assertSame(inner.paramGroups().get(0), zero.paramGroups().get(0));
        assertEquals(plain.parameters().size(), zero.localParameters().size());
        for (int step = 0; step < 4; step++) {
            double lr = 1e-2 * (step + 1); // the trainer's schedule sets lr through paramGroups()
            for (ParamGroup g : reference.paramGroups()) g.lr(lr);
            for (ParamGroup g : zero.paramGroups()) g.lr(lr);
            Tensor x = Tensor.randn(3, 4);
            plain.forward(x).sum().backward();
            wrapped.forward(x).sum().backward();
            reference.step();
            zero.step();
            reference.zeroGrad();
            zero.zeroGrad();
        }
        for (var e : plain.namedParameters().entrySet()) {
            assertArrayEquals(e.getValue().toFloatArray(), wrapped.namedParameters().get(e.getKey()).toFloatArray(), e.getKey());
        }
        assertEquals(0.04, inner.paramGroups().get(0).lr(), 1e-12);
        OptimizerStateDict a = reference.stateDict(), b = zero.stateDict();
        assertEquals(List.copyOf(a.tensors().keySet()), List.copyOf(b.tensors().keySet()));
        assertEquals(a.metadata(), b.metadata());
        zero.consolidateStateDict(); // nothing to gather
        zero.loadStateDict(a);
        assertEquals(4, zero.state(wrapped.a.weight()).step());

        var e = assertThrows(IllegalStateException.class, () -> zero.addParamGroup(new ParamGroup(List.of(Tensor.zeros(2).requiresGrad(true)))));
        assertTrue(e.getMessage().contains("before wrapping"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new ZeroRedundancyOptimizer(zero, ProcessGroup.single()));
    }
}
