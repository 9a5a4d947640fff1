package jllm.bench;

import jllm.generate.TextGenerator;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.optim.AdamW;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.train.Trainer;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * GPT training-step and generation benchmarks, with PyTorch run side by side on the same shapes
 * through {@code tools/bench/torch_gpt.py} (Debian's python3-torch) when it is available.
 */
public final class ModelBench {
    /** A benchmark configuration: model shape and batch. */
    public record Case(String name, GPTConfig config, int batch, int seqLen) {}

    public static final Map<String, Case> CASES = Map.of(
            "gpt2", new Case("gpt2", GPTConfig.gpt2(), 4, 64),
            "cpu-preset", new Case("cpu-preset", new GPTConfig(64, 65, 4, 4, 128, 0.0, false), 12, 64));

    private final PrintStream out;

    public ModelBench(PrintStream out) { this.out = out; }

    /** Median milliseconds of one training step (forward, backward, AdamW step, zero_grad). */
    public double trainStep(Case c, int warmup, int repeats) {
        Generator.manualSeed(0);
        GPT model = new GPT(c.config());
        AdamW opt = Trainer.configureOptimizers(model, 0.1, 1e-4, 0.9, 0.95, s -> { });
        Generator g = new Generator(1);
        Tensor x = Tensor.randint(0, c.config().vocabSize(), new int[] {c.batch(), c.seqLen()}, g);
        Tensor y = Tensor.randint(0, c.config().vocabSize(), new int[] {c.batch(), c.seqLen()}, g);
        double[] ms = new double[repeats];
        for (int i = 0; i < warmup + repeats; i++) {
            long t0 = System.nanoTime();
            Tensor loss = model.forward(x, y).loss();
            opt.zeroGrad();
            loss.backward();
            opt.step();
            if (i >= warmup) ms[i - warmup] = (System.nanoTime() - t0) / 1e6;
        }
        return median(ms);
    }

    /** Median tokens per second of KV-cached sampling (temperature 0.8, top-k 50) after an 8-token prompt. */
    public double generate(Case c, int tokens, int warmup, int repeats) {
        Generator.manualSeed(0);
        GPT model = new GPT(c.config());
        model.eval();
        double[] rate = new double[repeats];
        for (int i = 0; i < warmup + repeats; i++) {
            Tensor idx = Tensor.randint(0, c.config().vocabSize(), new int[] {1, 8}, new Generator(i));
            long t0 = System.nanoTime();
            TextGenerator.generate(model, idx, tokens, 0.8, 50, null, i, true);
            double s = (System.nanoTime() - t0) / 1e9;
            if (i >= warmup) rate[i - warmup] = tokens / s;
        }
        return median(rate);
    }

    private static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /** The PyTorch script next to the sources, or null. */
    static Path torchScript() {
        String home = System.getProperty("jllm.home", ".");
        Path p = Path.of(home, "tools", "bench", "torch_gpt.py");
        return Files.exists(p) ? p : null;
    }

    /** Runs the PyTorch script with 1 and 2 threads; returns its output lines (or an explanation). */
    List<String> torch(String... args) {
        Path script = torchScript();
        List<String> lines = new ArrayList<>();
        Path py = Path.of("/usr/bin/python3");
        if (script == null || !Files.isExecutable(py)) {
            lines.add("PyTorch: not run (needs /usr/bin/python3 with Debian's python3-torch and tools/bench/torch_gpt.py under -Djllm.home)");
            return lines;
        }
        for (String threads : new String[] {"1", "2"}) {
            List<String> cmd = new ArrayList<>(List.of(py.toString(), script.toString()));
            cmd.addAll(List.of(args));
            cmd.addAll(List.of("--threads", threads));
            try {
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    String l;
                    while ((l = r.readLine()) != null) if (l.startsWith("pytorch") || l.contains("Error")) lines.add(l);
                }
                if (p.waitFor() != 0) lines.add("PyTorch run failed (exit " + p.exitValue() + "): " + String.join(" ", cmd));
            } catch (Exception e) {
                lines.add("PyTorch: could not run " + String.join(" ", cmd) + ": " + e.getMessage());
            }
        }
        return lines;
    }

    public void runTrain(List<String> names, int warmup, int repeats, boolean withTorch) {
        for (String n : names) {
            Case c = CASES.get(n);
            double ms = trainStep(c, warmup, repeats);
            out.printf(Locale.ROOT, "jllm    %s B=%d T=%d threads=%d: median step %.1f ms (%d runs)%n", n, c.batch(), c.seqLen(),
                    jllm.backend.cpu.Parallel.threads(), ms, repeats);
            if (withTorch) torch("step", "--config", n, "--warmup", String.valueOf(warmup), "--repeats", String.valueOf(repeats))
                    .forEach(out::println);
        }
    }

    public void runGenerate(List<String> names, int tokens, int warmup, int repeats, boolean withTorch) {
        for (String n : names) {
            Case c = CASES.get(n);
            double rate = generate(c, tokens, warmup, repeats);
            out.printf(Locale.ROOT, "jllm    %s generate %d tokens (KV cache, top-k 50) threads=%d: median %.1f tokens/s%n", n, tokens,
                    jllm.backend.cpu.Parallel.threads(), rate);
            if (withTorch) torch("generate", "--config", n, "--tokens", String.valueOf(tokens), "--warmup", String.valueOf(warmup),
                    "--repeats", String.valueOf(repeats)).forEach(out::println);
        }
    }
}
