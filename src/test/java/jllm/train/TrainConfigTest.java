package jllm.train;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrainConfigTest {
    @TempDir
    Path tmp;

    private static String error(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    @Test
    void defaultsAreNanoGpts() {
        TrainConfig c = TrainConfig.defaults();
        assertEquals("out", c.outDir());
        assertEquals(2000, c.evalInterval());
        assertEquals(1, c.logInterval());
        assertEquals(200, c.evalIters());
        assertFalse(c.evalOnly());
        assertTrue(c.alwaysSaveCheckpoint());
        assertEquals("scratch", c.initFrom());
        assertEquals("openwebtext", c.dataset());
        assertEquals(40, c.gradientAccumulationSteps());
        assertEquals(12, c.batchSize());
        assertEquals(1024, c.blockSize());
        assertEquals(6e-4, c.learningRate());
        assertEquals(600000, c.maxIters());
        assertEquals(0.1, c.weightDecay());
        assertEquals(0.9, c.beta1());
        assertEquals(0.95, c.beta2());
        assertEquals(1.0, c.gradClip());
        assertTrue(c.decayLr());
        assertEquals(2000, c.warmupIters());
        assertEquals(600000, c.lrDecayIters());
        assertEquals(6e-5, c.minLr());
        assertEquals(1337, c.seed());
        assertEquals(Map.of(), c.model());
        assertEquals(491520, c.tokensPerIter());
    }

    @Test
    void jsonUsesSnakeCaseAndRoundTrips() throws Exception {
        TrainConfig c = TrainConfig.defaults().withOverrides(List.of("model.n_layer=6", "model.dropout=0.2", "model.bias=false",
                "model.name=shakespeare-char"));
        String json = c.toJson();
        for (String k : List.of("\"out_dir\"", "\"gradient_accumulation_steps\"", "\"always_save_checkpoint\"", "\"lr_decay_iters\"",
                "\"min_lr\"", "\"n_layer\"")) {
            assertTrue(json.contains(k), k + " in " + json);
        }
        assertFalse(json.contains("outDir"));
        assertEquals(c, TrainConfig.parse(json));
        Path f = tmp.resolve("c.json");
        c.save(f);
        assertEquals(c, TrainConfig.load(f));
        assertEquals(List.of("out_dir", "eval_interval", "log_interval", "eval_iters", "eval_only", "always_save_checkpoint",
                "init_from", "dataset", "gradient_accumulation_steps", "batch_size", "block_size", "learning_rate", "max_iters",
                "weight_decay", "beta1", "beta2", "grad_clip", "decay_lr", "warmup_iters", "lr_decay_iters", "min_lr", "seed", "ddp_timeout", "zero_stage",
                "model"),
                TrainConfig.keyNames());
    }

    @Test
    void loadKeepsDefaultsForMissingKeys() throws Exception {
        // nanoGPT's config/train_shakespeare_char.py as JSON
        Path f = tmp.resolve("shakespeare_char.json");
        Files.writeString(f, """
                {"out_dir": "out-shakespeare-char", "eval_interval": 250, "eval_iters": 200, "log_interval": 10,
                 "always_save_checkpoint": false, "dataset": "shakespeare_char", "gradient_accumulation_steps": 1,
                 "batch_size": 64, "block_size": 256, "learning_rate": 1e-3, "max_iters": 5e3, "lr_decay_iters": 5000,
                 "min_lr": 1e-4, "beta2": 0.99, "warmup_iters": 100,
                 "model": {"n_layer": 6, "n_head": 6, "n_embd": 384, "dropout": 0.2}}
                """);
        TrainConfig c = TrainConfig.load(f);
        assertEquals("out-shakespeare-char", c.outDir());
        assertEquals(5000, c.maxIters());
        assertEquals(1e-3, c.learningRate());
        assertEquals(0.99, c.beta2());
        assertEquals(0.9, c.beta1()); // default
        assertEquals(1337, c.seed()); // default
        assertEquals(Map.of("n_layer", 6, "n_head", 6, "n_embd", 384, "dropout", 0.2), c.model());
        assertEquals(16384, c.tokensPerIter());
    }

    @Test
    void jsonErrorsNameFileAndKey() throws Exception {
        Path f = tmp.resolve("bad.json");
        Files.writeString(f, "{\"batch_size\": 12, \"bach_size\": 3}");
        String m = error(() -> { try { TrainConfig.load(f); } catch (java.io.IOException e) { throw new RuntimeException(e); } });
        assertTrue(m.startsWith(f.toString()), m);
        assertTrue(m.contains("unknown config key 'bach_size'") && m.contains("did you mean 'batch_size'"), m);
        assertTrue(m.contains("valid keys: out_dir, eval_interval") && m.contains("model.<name>"), m);

        assertTrue(error(() -> TrainConfig.parse("{\"batch_size\": \"12\"}")).contains("'batch_size' expects an integer that fits in 32 bits, got '\"12\"'"));
        assertTrue(error(() -> TrainConfig.parse("{\"batch_size\": 1.5}")).contains("'batch_size' expects an integer"));
        assertTrue(error(() -> TrainConfig.parse("{\"decay_lr\": 1}")).contains("'decay_lr' expects true or false"));
        assertTrue(error(() -> TrainConfig.parse("{\"learning_rate\": \"fast\"}")).contains("'learning_rate' expects a number"));
        assertTrue(error(() -> TrainConfig.parse("{\"out_dir\": null}")).contains("'out_dir' expects a string"));
        assertTrue(error(() -> TrainConfig.parse("{\"model\": 3}")).contains("'model' expects a JSON object"));
        assertTrue(error(() -> TrainConfig.parse("[1]")).contains("must be a JSON object"));
        assertTrue(error(() -> TrainConfig.parse("{\"batch_size\": ")).contains("not valid JSON"));
        assertTrue(error(() -> TrainConfig.parse("{\"batch_size\": 0}")).contains("'batch_size' must be an integer >= 1, got 0"));
    }

    @Test
    void overridesParseEachType() {
        TrainConfig c = TrainConfig.defaults().withOverrides(List.of("batch_size=32", "--learning_rate=1e-3", "decay_lr=False",
                "out_dir='out-x'", "gradientAccumulationSteps=2", "init_from=resume", "max_iters=5_000", "lr_decay_iters=5000",
                "warmup_iters=1e2", "seed=-1", "model.n_layer=4", "model.dropout=0.1", "model.bias=false", "model.name=tiny",
                "dataset=", "grad_clip=0"));
        assertEquals(32, c.batchSize());
        assertEquals(1e-3, c.learningRate());
        assertFalse(c.decayLr());
        assertEquals("out-x", c.outDir());
        assertEquals(2, c.gradientAccumulationSteps());
        assertEquals("resume", c.initFrom());
        assertEquals(5000, c.maxIters());
        assertEquals(100, c.warmupIters());
        assertEquals(-1, c.seed());
        assertEquals("", c.dataset());
        assertEquals(0.0, c.gradClip());
        assertEquals(Map.of("n_layer", 4, "dropout", 0.1, "bias", false, "name", "tiny"), c.model());
        // later overrides win; the model section merges
        TrainConfig d = c.withOverrides(List.of("batch_size=8", "model.n_layer=2"));
        assertEquals(8, d.batchSize());
        assertEquals(Map.of("n_layer", 2, "dropout", 0.1, "bias", false, "name", "tiny"), d.model());
        assertEquals(c, c.withOverrides(List.of()));
        assertEquals(64, c.with("batch_size", 64).batchSize());
    }

    @Test
    void overrideErrorsAreClear() {
        TrainConfig c = TrainConfig.defaults();
        String m = error(() -> c.withOverrides(List.of("batch_sise=3")));
        assertTrue(m.contains("unknown config key 'batch_sise' (did you mean 'batch_size'?)"), m);
        assertTrue(m.contains("valid keys: out_dir, eval_interval, log_interval"), m);
        m = error(() -> c.withOverrides(List.of("wandb_log=True")));
        assertTrue(m.startsWith("unknown config key 'wandb_log'"), m);
        assertTrue(error(() -> c.withOverrides(List.of("model=3"))).contains("unknown config key 'model'"));
        assertEquals("config key 'batch_size' expects an integer, got 'abc'", error(() -> c.withOverrides(List.of("batch_size=abc"))));
        assertEquals("config key 'batch_size' expects an integer, got '1.5'", error(() -> c.withOverrides(List.of("batch_size=1.5"))));
        assertEquals("config key 'max_iters' expects an integer that fits in 32 bits, got '9999999999'",
                error(() -> c.withOverrides(List.of("max_iters=9999999999"))));
        assertEquals("config key 'decay_lr' expects true or false, got 'yes'", error(() -> c.withOverrides(List.of("decay_lr=yes"))));
        assertEquals("config key 'learning_rate' expects a finite number, got 'nan'", error(() -> c.withOverrides(List.of("learning_rate=nan"))));
        assertEquals("config key 'learning_rate' expects a finite number, got '1e-3f'", error(() -> c.withOverrides(List.of("learning_rate=1e-3f"))));
        assertEquals("config key 'init_from' must be \"scratch\" or \"resume\", got gpt2", error(() -> c.withOverrides(List.of("init_from=gpt2"))));
        assertEquals("config key 'beta2' must be a number in [0, 1), got 1.0", error(() -> c.withOverrides(List.of("beta2=1"))));
        assertEquals("config key 'eval_interval' must be an integer >= 1, got 0", error(() -> c.withOverrides(List.of("eval_interval=0"))));
        assertEquals("config key 'zero_stage' must be 0 (off) or 1 (ZeRO-1: the optimizer state sharded across the ranks), got 2",
                error(() -> c.withOverrides(List.of("zero_stage=2"))));
        assertEquals(1, c.withOverrides(List.of("zero_stage=1")).zeroStage());
        assertEquals(0, c.zeroStage());
        assertTrue(error(() -> c.withOverrides(List.of("warmup_iters=10", "lr_decay_iters=5"))).contains("lr_decay_iters (5) must be >= warmup_iters (10)"));
        c.withOverrides(List.of("warmup_iters=10", "lr_decay_iters=5", "decay_lr=false")); // irrelevant without decay
        assertTrue(error(() -> c.withOverrides(List.of("batch_size"))).contains("must look like key=value"));
        assertTrue(error(() -> c.withOverrides(List.of("=3"))).contains("must look like key=value"));
        assertTrue(error(() -> c.withOverrides(List.of("model.=3"))).contains("model key name is empty"));
    }
}
