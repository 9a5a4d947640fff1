package jllm.cli;

import jllm.models.gpt.CharGPTConfig;
import jllm.models.gpt.GPTConfig;
import jllm.train.Checkpoint;
import jllm.train.ui.MetricsLog;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static jllm.cli.ExamplesCommandTest.assertHas;
import static jllm.cli.ExamplesCommandTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** End-to-end runs of train, sample, info and the model examples on tiny settings. */
class TrainSampleInfoCommandTest {
    private static String[] tinyTrain(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", "--progress", "plain", "--final-eval-iters", "3", "--sample-tokens", "40",
                "--set", "out_dir=" + out, "--set", "max_iters=30", "--set", "eval_interval=10", "--set", "eval_iters=2",
                "--set", "batch_size=4", "--set", "block_size=16", "--set", "warmup_iters=5", "--set", "lr_decay_iters=30",
                "--set", "model.n_layer=1", "--set", "model.n_head=2", "--set", "model.n_embd=32", "--set", "always_save_checkpoint=true"));
        a.addAll(List.of(extra));
        return a.toArray(new String[0]);
    }

    @Test
    void aBiasFreeCharModelExportsToHuggingFaceAndGeneratesTheSameText(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("run"), hf = dir.resolve("hf");
        var r = run(tinyTrain(out, "--set", "model.bias=false"));
        assertEquals(0, r.rc(), r.err() + r.out());
        var c = run("convert", "checkpoint", "--checkpoint", out.toString(), "--out", hf.toString());
        assertEquals(0, c.rc(), c.err() + c.out());
        assertHas(c.out(), "zero biases for the bias-free layers", "tokenizer.json (character level, 65 ids)");
        // the HF tokenizers library reads the exported tokenizer.json with the same ids, newlines and spaces included
        String text = "ROMEO:\nWhat light, through yonder window breaks?";
        try (var hfTok = jllm.tokenizer.HfTokenizer.fromDirectory(hf)) {
            var charTok = jllm.train.SavedModel.load(out).tokenizer();
            org.junit.jupiter.api.Assertions.assertArrayEquals(charTok.encode(text), hfTok.encode(text));
            assertEquals(text, hfTok.decode(charTok.encode(text)));
        }
        // greedy text from the exported GPT-2 directory equals the checkpoint's
        var want = run("sample", "--checkpoint", out.toString(), "--prompt", "ROMEO:", "--temperature", "0", "--max-new-tokens", "12");
        var got = run("generate", "--model", hf.toString(), "--prompt", "ROMEO:", "--temperature", "0", "--max-new-tokens", "12");
        assertEquals(0, got.rc(), got.err());
        assertEquals(want.out().strip(), got.out().strip());
    }

    @Test
    void trainThenSampleThenInfoThenResume(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("run");
        var r = run(tinyTrain(out));
        assertEquals(0, r.rc(), r.err() + r.out());
        assertHas(r.out(), "dataset shakespeare_char: 1,003,854 train / 111,540 val tokens, tokenizer char (vocab 65)",
                "step 0: train loss", "step 30: train loss", "final val loss (3 batches): ", "---------------- sample ----------------",
                "checkpoint: " + out.resolve("ckpt_best"), "metrics:    " + out.resolve("metrics.jsonl"), "loss plot:  " + out.resolve("loss.png"));
        assertTrue(Checkpoint.isComplete(out.resolve("ckpt_last")) && Checkpoint.isComplete(out.resolve("ckpt_best")));
        assertTrue(Files.size(out.resolve("loss.png")) > 1000);
        // every file of the run has the permissions the umask gives (none is left 0600 by a temp-file helper)
        var perms = Files.getPosixFilePermissions(out.resolve("ckpt_last").resolve("model.safetensors"));
        try (var files = Files.walk(out)) {
            for (Path f : files.filter(Files::isRegularFile).toList()) assertEquals(perms, Files.getPosixFilePermissions(f), f.toString());
        }
        var records = MetricsLog.read(out.resolve("metrics.jsonl"));
        assertTrue(records.stream().anyMatch(m -> m.containsKey("val_loss")), records.toString());
        assertTrue(records.stream().anyMatch(m -> m.containsKey("train_loss")), records.toString());

        var s = run("sample", "--checkpoint", out.toString(), "--max-new-tokens", "30", "--seed", "7", "--prompt", "ROMEO:");
        assertEquals(0, s.rc(), s.err());
        assertTrue(s.out().startsWith("ROMEO:"), s.out());
        assertTrue(s.out().strip().length() > "ROMEO:".length(), s.out());
        var again = run("sample", "--checkpoint", out.toString(), "--max-new-tokens", "30", "--seed", "7", "--prompt", "ROMEO:");
        assertEquals(s.out(), again.out(), "same seed, same text");
        var uncached = run("sample", "--checkpoint", out.toString(), "--max-new-tokens", "30", "--seed", "7", "--prompt", "ROMEO:", "--no-cache");
        assertEquals(s.out(), uncached.out(), "the KV cache does not change the tokens");
        var several = run("sample", "--checkpoint", out.resolve("ckpt_last").toString(), "--num-samples", "2", "--max-new-tokens", "10",
                "--top-p", "0.9", "--temperature", "1.0");
        assertEquals(0, several.rc(), several.err());
        assertEquals(2, several.out().split("---------------").length - 1, several.out());
        // a prompt longer than the context (block 16) is cropped with a warning, or refused with --no-truncate
        var longPrompt = run("sample", "--checkpoint", out.toString(), "--max-new-tokens", "5", "--prompt", "ROMEO: What light is this?");
        assertEquals(0, longPrompt.rc(), longPrompt.err());
        assertHas(longPrompt.err(), "warning: the prompt has 26 tokens but the model's context is 16: the first 10 tokens are dropped");
        var refused = run("sample", "--checkpoint", out.toString(), "--max-new-tokens", "5", "--prompt", "ROMEO: What light is this?", "--no-truncate");
        assertEquals(1, refused.rc());
        assertHas(refused.err(), "the prompt has 26 tokens but the model's context is 16 (--no-truncate)");

        var info = run("info", "--checkpoint", out.toString());
        assertEquals(0, info.rc(), info.err());
        assertHas(info.out(), "dataset: shakespeare_char, tokenizer: char (vocab 65)", "GPT(", "(lm_head): Linear(in_features=32, out_features=65, bias=False)",
                "parameters: ", "non-embedding parameters: ");

        var resumed = run(tinyTrain(out, "--resume", "--set", "max_iters=40", "--set", "lr_decay_iters=40"));
        assertEquals(0, resumed.rc(), resumed.err() + resumed.out());
        assertHas(resumed.out(), "resuming from ", "resuming at iter 30 of 40", "step 40: train loss");
    }

    @Test
    void configFileAndBadInputs(@TempDir Path dir) throws Exception {
        Path cfg = dir.resolve("cfg.json");
        Files.writeString(cfg, "{\"_about\": \"a test\", \"max_iters\": 2, \"eval_interval\": 1, \"eval_iters\": 1, \"batch_size\": 2, \"block_size\": 8,"
                + " \"out_dir\": \"" + dir.resolve("c").toString().replace("\\", "\\\\") + "\", \"model\": {\"type\": \"char_gpt\", \"n_layer\": 1, \"n_head\": 2, \"n_embd\": 16}}");
        var r = run("train", "--config", cfg.toString(), "--progress", "off", "--final-eval-iters", "1", "--sample-tokens", "5");
        assertEquals(0, r.rc(), r.err() + r.out());
        assertHas(r.out(), "step 2: train loss");

        var badKey = run("train", "--set", "max_iter=5");
        assertNotEquals(0, badKey.rc());
        assertHas(badKey.err(), "unknown config key 'max_iter'", "max_iters");
        var badModel = run("train", "--set", "model.n_layers=2", "--set", "out_dir=" + dir.resolve("x"));
        assertNotEquals(0, badModel.rc());
        assertHas(badModel.err(), "unknown key(s) [n_layers]");
        var badPreset = run("train", "--preset", "nope");
        assertNotEquals(0, badPreset.rc());
        assertHas(badPreset.err(), "unknown preset 'nope'", "shakespeare-char-cpu");
        var noCkpt = run("sample", "--checkpoint", dir.resolve("missing").toString());
        assertNotEquals(0, noCkpt.rc());
        assertHas(noCkpt.err(), "no checkpoint at ");
    }

    @Test
    void gpt2AndCharExamplesOnSmallConfigs() {
        var buf = new ByteArrayOutputStream();
        Gpt2Example.run(new PrintStream(buf, true, StandardCharsets.UTF_8), new GPTConfig(64, 50257, 1, 2, 32), 2);
        String o = buf.toString(StandardCharsets.UTF_8);
        assertHas(o, "GPT-2 tokens of \"Hello, world. Is this-- a test?\": [15496, 11, 995, 13, 1148, 428, 438, 257, 1332, 30]",
                "loaded 338025 tokens", "step 1, loss: ", "> Hello, I'm a language model,");
        // a small model's logits are tiny at init, so the loss is within a hair of ln(V)
        double loss = Double.parseDouble(o.split("loss on random tokens: ")[1].split(";")[0]);
        assertEquals(Math.log(50257), loss, 0.1);

        buf.reset();
        CharShakespeareExample.run(new PrintStream(buf, true, StandardCharsets.UTF_8), new CharGPTConfig(4, 16, 65, 32, 2, 1, 0.0), 20);
        o = buf.toString(StandardCharsets.UTF_8);
        assertHas(o, "vocab size: 65", "encode(\"hii there\") = [46, 47, 47, 1, 58, 46, 43, 56, 43]", "get_batch('train'): x [4, 16], y [4, 16]",
                "GPTLanguageModel(", "loss before training: ");
    }
}
