package jllm.distributed;

import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.train.TrainConfig;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What needs no MPI: the world of one, start-up from the environment, the split of an iteration, DDP's checks. */
class ProcessGroupTest {
    @Test
    void withoutALauncherAProcessIsAWorldOfOne() {
        try (ProcessGroup pg = ProcessGroup.init(Map.of(), Duration.ofSeconds(5))) {
            assertEquals(0, pg.rank());
            assertEquals(1, pg.worldSize());
            assertArrayEquals(new long[] {7}, pg.allGather(7L, "x"));
            Tensor t = Tensor.of(new float[] {1, 2}, 2);
            pg.allReduce(t, ProcessGroup.Op.AVG);
            assertArrayEquals(new float[] {1, 2}, t.toFloatArray());
            pg.verifySame("anything", "a value");
        }
    }

    @Test
    void worldSizeWithoutMpirunIsAClearError() {
        var e = assertThrows(DistributedException.class, () -> ProcessGroup.init(Map.of("WORLD_SIZE", "2", "RANK", "1"), Duration.ofSeconds(5)));
        assertTrue(e.getMessage().contains("WORLD_SIZE=2 but this process was not started by mpirun"), e.getMessage());
        var bad = assertThrows(DistributedException.class, () -> ProcessGroup.init(Map.of("WORLD_SIZE", "two"), Duration.ofSeconds(5)));
        assertTrue(bad.getMessage().contains("WORLD_SIZE must be an integer"), bad.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ProcessGroup.init(Map.of(), Duration.ZERO));
    }

    @Test
    void aMissingMpiLibraryIsNamedWithThePackageToInstall() {
        var e = assertThrows(DistributedException.class, () -> Mpi.load("libmpi-missing.so.40"));
        assertTrue(e.getMessage().startsWith("cannot load libmpi-missing.so.40 ("), e.getMessage());
        assertTrue(e.getMessage().contains("apt-get install openmpi-bin"), e.getMessage());
    }

    @Test
    void anIterationSplitsIntoMicroStepsFirstThenTheBatch() {
        TrainConfig c = TrainConfig.defaults().withOverrides(java.util.List.of("gradient_accumulation_steps=8", "batch_size=12"));
        assertEquals(new TrainConfig.Share(8, 12), c.share(1));
        assertEquals(new TrainConfig.Share(4, 12), c.share(2)); // nanoGPT: steps // world
        assertEquals(new TrainConfig.Share(1, 12), c.share(8));
        assertEquals(new TrainConfig.Share(1, 6), c.share(16)); // the rest divides the batch
        TrainConfig one = c.withOverrides(java.util.List.of("gradient_accumulation_steps=1"));
        assertEquals(new TrainConfig.Share(1, 6), one.share(2));
        var e = assertThrows(IllegalArgumentException.class, () -> one.share(5));
        assertTrue(e.getMessage().contains("cannot be split evenly across 5 ranks"), e.getMessage());
    }

    static final class TwoHeads extends Module {
        final Linear used = registerModule("used", new Linear(4, 3)), unused = registerModule("unused", new Linear(4, 3));
    }

    @Test
    void aParameterWithoutGradientIsNamedAndGradientsPassThroughInAWorldOfOne() {
        Generator.manualSeed(0);
        TwoHeads m = new TwoHeads();
        var ddp = new DistributedDataParallel<>(m, ProcessGroup.single(), 1e-5); // tiny cap: a bucket per parameter
        assertEquals(4, ddp.bucketCount());
        assertEquals(java.util.List.of("unused.bias"), ddp.bucketLayout().get(0)); // reverse registration order
        Tensor x = Tensor.randn(2, 4);
        var e = assertThrows(DistributedException.class, () -> m.used.forward(x).sum().backward());
        assertTrue(e.getMessage().contains("[unused.weight, unused.bias]") || e.getMessage().contains("[unused.bias, unused.weight]"),
                e.getMessage());

        TwoHeads ref = new TwoHeads();
        ref.loadStateDict(m.stateDict(), true);
        m.zeroGrad();
        Tensor y = Tensor.randn(2, 4);
        m.used.forward(y).add(m.unused.forward(y)).sum().backward();
        ref.used.forward(y).add(ref.unused.forward(y)).sum().backward();
        for (var p : m.namedParameters().entrySet()) {
            assertArrayEquals(ref.namedParameters().get(p.getKey()).grad().toFloatArray(), p.getValue().grad().toFloatArray(), p.getKey());
        }
        assertNotNull(ddp.lastTimeline());
        // inside noSync nothing is reduced, and a missing gradient is no error
        m.zeroGrad();
        try (var s = ddp.noSync()) {
            m.used.forward(y).sum().backward();
        }
    }
}
