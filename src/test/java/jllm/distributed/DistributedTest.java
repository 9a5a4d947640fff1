package jllm.distributed;

import jllm.data.Batch;
import jllm.data.DataLoaderLite;
import jllm.io.TensorIO;
import jllm.models.LanguageModel;
import jllm.nn.Module;
import jllm.optim.OptimizerStateDict;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** DDP over real mpirun jobs of 2 ranks against the same training in one process. */
class DistributedTest {
    @TempDir
    Path tmp;

    @BeforeAll
    static void mpi() {
        MpiJob.assumeMpi();
    }

    @Test
    void twoRanksWithHalfTheBatchEqualOneProcessAndStayBitIdentical() throws Exception {
        Path one = tmp.resolve("one"), two = tmp.resolve("two");
        DdpWorker.equality(ProcessGroup.single(), DdpWorker.GLOBAL_B, one);
        // every rank checks after every step that all ranks hold bit-identical parameters
        MpiJob.Result r = MpiJob.run(2, 120, tmp, DdpWorker.class.getName(), "equality", two.toString());
        assertEquals(0, r.exitCode(), r.output());
        assertSameTraining(one, two);
    }

    private static void assertSameTraining(Path one, Path two) throws Exception {
        List<String> la = Files.readAllLines(one.resolve("losses.txt")), lb = Files.readAllLines(two.resolve("losses.txt"));
        assertEquals(DdpWorker.STEPS, lb.size());
        for (int i = 0; i < la.size(); i++) {
            double a = Double.parseDouble(la.get(i)), b = Double.parseDouble(lb.get(i));
            assertEquals(a, b, 1e-5 * Math.abs(a), "loss at step " + i);
        }
        assertClose(TensorIO.load(one.resolve("params.safetensors")), TensorIO.load(two.resolve("params.safetensors")), 1e-5);
    }

    @Test
    void zeroOneTrainsAsOneProcessWithHalfTheOptimizerStatePerRank() throws Exception {
        Path one = tmp.resolve("one"), two = tmp.resolve("two");
        DdpWorker.equality(ProcessGroup.single(), DdpWorker.GLOBAL_B, one);
        // every rank checks after every step that all ranks hold bit-identical parameters, that it holds
        // state for its own parameters only, and that the consolidated file loads back into its share
        MpiJob.Result r = MpiJob.run(2, 120, tmp, DdpWorker.class.getName(), "zero", two.toString());
        assertEquals(0, r.exitCode(), r.output());
        assertSameTraining(one, two);

        List<Tensor> params = reference().parameters();
        long total = params.stream().mapToLong(Tensor::numel).sum();
        Matcher m = Pattern.compile("zero state: rank (\\d+) tensors (\\d+) elements (\\d+) of (\\d+)").matcher(r.output());
        long tensors = 0, elements = 0;
        int ranks = 0;
        while (m.find()) {
            ranks++;
            assertEquals(total, Long.parseLong(m.group(4)));
            long e = Long.parseLong(m.group(3));
            // exp_avg and exp_avg_sq for about half of the parameters
            assertTrue(e > 0.45 * 2 * total && e < 0.55 * 2 * total, "rank " + m.group(1) + " holds " + e + " state elements of " + 2 * total);
            tensors += Long.parseLong(m.group(2));
            elements += e;
        }
        assertEquals(2, ranks, r.output());
        assertEquals(2L * params.size(), tensors, "the ranks' state tensors together");
        assertEquals(2 * total, elements, "the ranks' state elements together");

        // rank 0's consolidated state dict is the unsharded optimizer's, key for key and in order
        OptimizerStateDict a = OptimizerStateDict.read(one.resolve("optimizer.safetensors")), b = OptimizerStateDict.read(two.resolve("optimizer.safetensors"));
        assertEquals(List.copyOf(a.tensors().keySet()), List.copyOf(b.tensors().keySet()));
        assertEquals(a.metadata(), b.metadata());
        for (var e : a.tensors().entrySet()) {
            if (e.getKey().endsWith(".step")) {
                assertEquals(DdpWorker.STEPS, (long) b.tensors().get(e.getKey()).item(), e.getKey());
            } else {
                assertClose(Map.of(e.getKey(), e.getValue()), Map.of(e.getKey(), b.tensors().get(e.getKey())), 1e-4);
            }
        }
    }

    @Test
    void noSyncAccumulationEqualsOneBackwardOverTheGlobalBatch() throws Exception {
        MpiJob.Result r = MpiJob.run(2, 120, tmp, DdpWorker.class.getName(), "accumulation", tmp.resolve("acc").toString());
        assertEquals(0, r.exitCode(), r.output());
        Module model = reference();
        var loader = new DataLoaderLite(DdpWorker.tokens(), DdpWorker.GLOBAL_B, DdpWorker.T, 0, 1, s -> {});
        Batch b = loader.next();
        ((LanguageModel) model).forward(b.x(), b.y()).loss().backward();
        Map<String, Tensor> expected = new java.util.LinkedHashMap<>();
        for (var e : model.namedParameters().entrySet()) expected.put(e.getKey(), e.getValue().grad());
        assertClose(expected, TensorIO.load(tmp.resolve("acc").resolve("grads.safetensors")), 1e-5);
    }

    private static Module reference() {
        return DdpWorker.model(32, 1337);
    }

    @Test
    void theFirstBucketsAllReduceStartsBeforeBackwardEnds() throws Exception {
        MpiJob.Result r = MpiJob.run(2, 120, tmp, DdpWorker.class.getName(), "overlap");
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("overlap ok"), r.output());
    }

    @Test
    void ranksWithDifferentModelsStopAtStartUpWithAClearError() throws Exception {
        MpiJob.Result r = MpiJob.run(2, 120, tmp, DdpWorker.class.getName(), "mismatch");
        assertNotEquals(0, r.exitCode(), r.output());
        assertTrue(r.output().contains("ranks disagree on the model's parameters"), r.output());
        assertTrue(r.output().contains("rank 1 has"), r.output());
    }

    /** Per tensor, ||a - b|| <= rel * ||a||. */
    static void assertClose(Map<String, Tensor> expected, Map<String, Tensor> actual, double rel) {
        assertEquals(expected.keySet(), actual.keySet());
        for (var e : expected.entrySet()) {
            float[] a = e.getValue().toFloatArray(), b = actual.get(e.getKey()).toFloatArray();
            double diff = 0, norm = 0;
            for (int i = 0; i < a.length; i++) {
                diff += (double) (a[i] - b[i]) * (a[i] - b[i]);
                norm += (double) a[i] * a[i];
            }
            assertTrue(Math.sqrt(diff) <= rel * Math.sqrt(norm) + 1e-12,
                    e.getKey() + ": relative difference " + Math.sqrt(diff / Math.max(norm, 1e-30)));
        }
    }
}
