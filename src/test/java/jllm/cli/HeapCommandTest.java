package jllm.cli;

import jllm.models.MemoryFootprint;
import jllm.models.ModelFactory;
import jllm.models.gpt.GPTConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static jllm.cli.CliErrorsTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The heap the launcher gives train, finetune and generate ({@code jllm heap}, {@link HeapPlan}). */
class HeapCommandTest {
    private static final long MB = HeapPlan.MB;

    @TempDir
    Path tmp;

    private static long option(String options, String name) {
        Matcher m = Pattern.compile("-" + name + "(\\d+)m").matcher(options);
        assertTrue(m.find(), name + " in " + options);
        return Long.parseLong(m.group(1));
    }

    @Test
    void theMainJobsActivationsAreYoungObjectsWithSurvivorRoomForAStep() {
        MemoryFootprint fp = ModelFactory.footprint(Map.of("type", "gpt", "n_layer", 4, "n_head", 4, "n_embd", 128, "dropout", 0.0,
                "bias", false), 65, 64);
        HeapPlan p = HeapPlan.training(fp, HeapPlan.float32(fp.weightMatrices()), fp.parameters(), 12, 64);
        long activations = fp.savedActivationBytes(12, 64);
        // the largest activation (12 x 64 x 512 floats, 1.5 MB) is a young object: the serial collector
        assertEquals(0, p.regionBytes());
        assertTrue(p.jvmOptions().contains("-XX:+UseSerialGC"), p.jvmOptions());
        assertEquals(6 * activations, p.youngBytes());
        assertTrue(p.youngBytes() / 3 >= activations, "the survivor space (young / SurvivorRatio 3) holds a step's activations");
        long state = 16 * fp.parameters();
        assertTrue(p.liveBytes() >= state + 64 * MB && p.liveBytes() < state + 96 * MB, p.toString());
        assertTrue(p.heapBytes() < 256 * MB, "the main job's heap stays small: " + p.heapBytes() / MB + " MB");
    }

    @Test
    void gpt2sHumongousActivationsLiveInTheOldGenerationBesideItsState() {
        MemoryFootprint fp = MemoryFootprint.of(GPTConfig.gpt2());
        HeapPlan p = HeapPlan.training(fp, HeapPlan.float32(fp.weightMatrices()), fp.parameters(), 4, 64);
        assertEquals(64 * MB, p.youngBytes());
        assertTrue(p.regionBytes() > 0 && p.jvmOptions().contains("-XX:G1HeapRegionSize="), "G1, which frees humongous arrays young: " + p.jvmOptions());
        long state = 16 * fp.parameters(), activations = fp.savedActivationBytes(4, 64);
        assertTrue(p.liveBytes() > state + activations, p.toString());
        // the regions lost to humongous arrays: every matrix rounded up, 4 arrays per trained matrix
        assertTrue(p.liveBytes() - state - activations < 1024 * MB, p.toString());
        HeapPlan bigger = HeapPlan.training(fp, HeapPlan.float32(fp.weightMatrices()), fp.parameters(), 8, 64);
        assertTrue(bigger.heapBytes() > p.heapBytes(), "a larger batch needs more heap");
        HeapPlan lora = HeapPlan.training(fp, HeapPlan.float32(fp.weightMatrices()), 1_000_000, 4, 64);
        assertTrue(lora.heapBytes() < p.heapBytes() - 1000 * MB, "frozen weights need no gradients or moments");
    }

    @Test
    void aHumongousArrayIsRoundedUpToWholeRegions() {
        // 2.25 MB takes 3 regions of 1 MB; exactly 6 MB takes 7 with the array's header; 0.25 MB is an ordinary object
        assertEquals(MB - (MB / 4 + 16), HeapPlan.regionWaste(new long[] {9 * MB / 4}, 1, MB));
        assertEquals(MB - 16, HeapPlan.regionWaste(new long[] {6 * MB}, 1, MB));
        assertEquals(0, HeapPlan.regionWaste(new long[] {MB / 4}, 1, MB));
        assertEquals(4 * (MB - 16), HeapPlan.regionWaste(new long[] {6 * MB}, 4, MB));
        assertEquals(MB, HeapPlan.regionBytes(100 * MB));
        assertEquals(4 * MB, HeapPlan.regionBytes(8192 * MB));
        assertEquals(32 * MB, HeapPlan.regionBytes(1L << 40));
    }

    @Test
    void inferenceHoldsTheWeightsTheCacheAndLittleElse() {
        MemoryFootprint fp = MemoryFootprint.of(GPTConfig.gpt2());
        HeapPlan p = HeapPlan.inference(fp, HeapPlan.float32(fp.weightMatrices()), "float32", 129, 1, 1, true);
        long weights = 4 * fp.parameters(), kv = fp.kvCacheBytesPerPosition() * 129;
        assertEquals(32 * MB, p.youngBytes());
        assertTrue(p.liveBytes() > weights + kv && p.liveBytes() < weights + kv + 96 * MB, p.toString());
        // without the cache every step is a full forward: every position's logits at once
        HeapPlan noCache = HeapPlan.inference(fp, HeapPlan.float32(fp.weightMatrices()), "float32", 1024, 1, 1, false);
        assertTrue(noCache.liveBytes() > weights + 1024L * fp.vocab() * Float.BYTES, noCache.toString());
    }

    @Test
    void quantizedWeightsAreSizedAsTheirBlocks() {
        MemoryFootprint fp = MemoryFootprint.of(GPTConfig.gpt2());
        long[] q8 = java.util.Arrays.stream(fp.weightMatrices()).map(n -> n / 32 * 34).toArray();
        HeapPlan f32 = HeapPlan.inference(fp, HeapPlan.float32(fp.weightMatrices()), "float32", 129, 1, 1, true);
        HeapPlan p = HeapPlan.inference(fp, q8, "q8_0", 129, 1, 1, true);
        long weights = java.util.Arrays.stream(q8).sum(), kv = fp.kvCacheBytesPerPosition() * 129;
        assertTrue(p.liveBytes() > weights + kv && p.liveBytes() < weights + kv + 96 * MB, p.toString());
        assertTrue(f32.heapBytes() - p.heapBytes() > weights * 2, p + " vs " + f32);
    }

    @Test
    void aRunTheMachineCannotHoldIsOneLineNamingWhatItNeeds() {
        MemoryFootprint fp = MemoryFootprint.of(GPTConfig.gpt2());
        HeapPlan p = HeapPlan.training(fp, HeapPlan.float32(fp.weightMatrices()), fp.parameters(), 4, 64);
        assertNull(p.doesNotFit(64L << 30, 1));
        String why = p.doesNotFit(2L << 30, 1);
        assertTrue(why.startsWith("this run needs about ") && why.contains("124,439,808 parameters") && why.contains("this machine has 2.0 GB")
                && why.contains("JLLM_JAVA_OPTS=-Xmx"), why);
        assertTrue(p.doesNotFit(3L << 30, 4).contains("for each of 4 ranks"), p.doesNotFit(3L << 30, 4));
    }

    @Test
    void theHiddenCommandReadsTheCommandLineAsTheCommandWould() throws Exception {
        CliErrorsTest.Run main = run("heap", "train");
        assertEquals(0, main.rc(), main.err());
        String opts = main.out().strip();
        assertTrue(opts.matches("-Xmx\\d+m -Xmn\\d+m -XX:\\+UseSerialGC -XX:SurvivorRatio=3"), opts);
        // --set reaches the estimate: a wider model needs a larger heap
        String wide = run("heap", "train", "--set", "model.n_embd=512").out().strip();
        assertTrue(option(wide, "Xmx") > option(opts, "Xmx"), wide + " vs " + opts);
        Path cfg = Files.writeString(tmp.resolve("c.json"), "{\"batch_size\": 48}");
        assertTrue(option(run("heap", "train", "--config", cfg.toString()).out(), "Xmx") > option(opts, "Xmx"));
        // what the command itself rejects, and other commands, get nothing: the command reports its own errors
        for (String[] a : new String[][] {{"heap", "train", "--config", tmp.resolve("absent.json").toString()}, {"heap", "sample"}, {"heap", "info"},
                {"heap", "train", "--no-such-option"}, {"heap", "generate", "--model", tmp.resolve("none").toString()}}) {
            CliErrorsTest.Run r = run(a);
            assertEquals(0, r.rc(), r.err());
            assertEquals("", r.out() + r.err(), String.join(" ", a));
        }
        // a model no machine here can hold: one line, exit 1
        CliErrorsTest.Run huge = run("heap", "train", "--set", "model.n_layer=400", "--set", "model.n_embd=8192", "--set", "model.n_head=64");
        assertEquals(1, huge.rc());
        assertEquals(1, huge.errLines().length, huge.err());
        assertTrue(huge.err().startsWith("jllm train: this run needs about ") && huge.err().contains("this machine has"), huge.err());
    }

    @Test
    void generateAndFinetuneAreSizedFromTheModelDirectory() throws Exception {
        Path model = tmp.resolve("m");
        var r = run("convert", "llama2c", "--checkpoint", "src/test/resources/llama2c/aidreams260K.bin",
                "--tokenizer", "src/test/resources/llama2c/tok512.bin", "--out", model.toString());
        assertEquals(0, r.rc(), r.err());
        String small = run("heap", "generate", "--model", model.toString(), "--prompt", "hi").out().strip();
        assertTrue(option(small, "Xmx") < 96, "a 260K-parameter model needs a small heap: " + small);
        // the same model as a GGUF file is sized from its header and tensor infos
        Path gguf = tmp.resolve("m.gguf");
        assertEquals(0, run("convert", "gguf", "--model", model.toString(), "--out", gguf.toString()).rc());
        String file = run("heap", "generate", "--model", gguf.toString(), "--prompt", "hi").out().strip();
        assertTrue(file.startsWith("-Xmx") && option(file, "Xmx") < 96, "a 260K-parameter GGUF model needs a small heap: " + file);
        String longer = run("heap", "generate", "--model", model.toString(), "--prompt", "hi", "--no-cache").out().strip();
        assertTrue(option(longer, "Xmx") >= option(small, "Xmx"), longer + " vs " + small);
        Path data = Files.writeString(tmp.resolve("d.txt"), "once upon a time ".repeat(50));
        String ft = run("heap", "finetune", "--model", model.toString(), "--data", data.toString(), "--batch-size", "8").out().strip();
        String ft2 = run("heap", "finetune", "--model", model.toString(), "--data", data.toString(), "--batch-size", "64").out().strip();
        assertTrue(option(ft2, "Xmx") > option(ft, "Xmx"), ft2 + " vs " + ft);
    }

    @Test
    void sampleIsSizedFromTheCheckpoint() throws Exception {
        Path out = tmp.resolve("run");
        var t = run("train", "--progress", "off", "--final-eval-iters", "1", "--sample-tokens", "0", "--set", "out_dir=" + out,
                "--set", "max_iters=2", "--set", "eval_interval=2", "--set", "eval_iters=1", "--set", "batch_size=2", "--set", "block_size=16",
                "--set", "model.n_layer=1", "--set", "model.n_head=2", "--set", "model.n_embd=32", "--set", "always_save_checkpoint=true");
        assertEquals(0, t.rc(), t.err());
        String one = run("heap", "sample", "--checkpoint", out.toString()).out().strip();
        assertTrue(one.startsWith("-Xmx") && option(one, "Xmx") < 96, "a tiny checkpoint needs a small heap: " + one);
        // eight sequences of the whole block each hold a KV cache: never less than one
        String eight = run("heap", "sample", "--checkpoint", out.toString(), "--num-samples", "8").out().strip();
        assertTrue(option(eight, "Xmx") >= option(one, "Xmx"), eight + " vs " + one);
        // a checkpoint that is not there: the command says so itself
        CliErrorsTest.Run none = run("heap", "sample", "--checkpoint", tmp.resolve("absent").toString());
        assertEquals("", none.out() + none.err());
    }
}
