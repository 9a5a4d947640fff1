package jllm;

import jllm.io.TensorIO;
import jllm.io.hf.HfModelDir;
import jllm.io.llama2c.Llama2cCheckpoint;
import jllm.io.llama2c.Llama2cTokenizer;
import jllm.lora.LoraConfig;
import jllm.lora.PeftModel;
import jllm.models.AutoModelForCausalLM;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.tokenizer.HfTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A seeded mutation fuzzer over the file readers that take untrusted input: safetensors, Hugging
 * Face model directories (config.json + weights), tokenizer.json, llama2.c checkpoints and
 * tokenizers, and PEFT adapters. Each case mutates one valid file (byte flips, truncation,
 * insertions, repeated runs, JSON-aware edits) and loads it; the outcome must be a load or the
 * project's clear error (an IllegalArgumentException, IOException, or the readers' own
 * SafeTensorsException / HfException / UncheckedIOException) whose message names the file, within
 * a time bound. Anything else (NullPointerException, IndexOutOfBounds, OutOfMemoryError,
 * StackOverflowError, a hang) is a failure, listed with its seed. Bounded in time for CI.
 */
class FuzzTest {
    private static final long BUDGET_MS = 20_000, CASE_TIMEOUT_MS = 5_000;
    private static final long SEED = 20261204;

    @TempDir
    Path tmp;

    /** One reader under test: loads {@code file} (a mutated copy of {@code seedFile}). */
    private record Target(String name, Path seedFile, Loader loader) {}

    @FunctionalInterface
    private interface Loader {
        void load(Path file) throws Exception;
    }

    @Test
    void mutatedFilesLoadOrFailWithAClearErrorNamingTheFile() throws Exception {
        List<Target> targets = targets();
        Random rnd = new Random(SEED);
        Map<String, int[]> outcomes = new TreeMap<>(); // target -> {loaded, clear error}
        List<String> failures = new ArrayList<>();
        ExecutorService ex = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "fuzz");
            t.setDaemon(true);
            return t;
        });
        long end = System.currentTimeMillis() + BUDGET_MS;
        int cases = 0;
        try {
            while (System.currentTimeMillis() < end && failures.size() < 10) {
                Target t = targets.get(cases % targets.size());
                long caseSeed = rnd.nextLong();
                Path file = mutate(t.seedFile(), new Random(caseSeed));
                int[] o = outcomes.computeIfAbsent(t.name(), k -> new int[2]);
                Future<?> f = ex.submit(() -> {
                    t.loader().load(file);
                    return null;
                });
                try {
                    f.get(CASE_TIMEOUT_MS, TimeUnit.MILLISECONDS);
                    o[0]++;
                } catch (TimeoutException te) {
                    f.cancel(true);
                    failures.add(t.name() + " seed " + caseSeed + ": no result within " + CASE_TIMEOUT_MS + " ms");
                    break; // the worker may be stuck
                } catch (java.util.concurrent.ExecutionException ee) {
                    Throwable c = ee.getCause();
                    if (clear(c, file)) o[1]++;
                    else failures.add(t.name() + " seed " + caseSeed + ": " + c);
                }
                cases++;
                restore(t.seedFile());
            }
        } finally {
            ex.shutdownNow();
        }
        StringBuilder report = new StringBuilder(cases + " cases:");
        outcomes.forEach((k, v) -> report.append(' ').append(k).append(" (loaded ").append(v[0]).append(", clear error ").append(v[1]).append(')'));
        System.out.println("fuzz: " + report);
        assertTrue(failures.isEmpty(), report + "\n" + String.join("\n", failures));
        assertTrue(cases >= targets.size(), report.toString());
    }

    /** The project's own error, naming the file (or its directory). */
    private static boolean clear(Throwable c, Path file) {
        boolean ownType = c instanceof IllegalArgumentException || c instanceof IOException || c instanceof UncheckedIOException
                || c instanceof jllm.io.SafeTensorsException || c instanceof jllm.io.hf.HfException;
        String m = c.getMessage();
        return ownType && m != null && (m.contains(file.toString()) || m.contains(file.getParent().toString()));
    }

    // ------------------------------------------------------------------ targets and their seed files

    private List<Target> targets() throws Exception {
        List<Target> out = new ArrayList<>();
        Generator.manualSeed(1);
        // a tiny Llama directory: config.json and model.safetensors
        LlamaForCausalLM llama = new LlamaForCausalLM(LlamaConfig.of(32, 16, 24, 1, 2, 1, 64), null);
        Path hf = tmp.resolve("hf");
        llama.savePretrained(hf);
        Path st = tmp.resolve("t.safetensors");
        Map<String, Tensor> ts = new LinkedHashMap<>();
        ts.put("a", Tensor.randn(4, 3));
        ts.put("b", Tensor.randn(5).to(jllm.tensor.DType.BF16));
        TensorIO.save(st, ts, Map.of("format", "pt"));
        out.add(new Target("safetensors", st, f -> TensorIO.load(f)));
        out.add(new Target("hf-config", hf.resolve(HfModelDir.CONFIG), f -> AutoModelForCausalLM.fromPretrained(f.getParent())));
        out.add(new Target("hf-weights", hf.resolve("model.safetensors"), f -> AutoModelForCausalLM.fromPretrained(f.getParent())));
        Path tokDir = Files.createDirectories(tmp.resolve("tok"));
        Files.copy(Path.of("src/test/resources/tokenizers/llama2-tiny/tokenizer.json"), tokDir.resolve("tokenizer.json"));
        out.add(new Target("tokenizer.json", tokDir.resolve("tokenizer.json"), f -> {
            try (HfTokenizer t = HfTokenizer.fromFile(f)) {
                t.encode("Hello, world! 123");
            }
        }));
        Path ck = tmp.resolve("model.bin"), tk = tmp.resolve("tok.bin");
        Files.copy(Path.of("src/test/resources/llama2c/aidreams260K.bin"), ck);
        Files.copy(Path.of("src/test/resources/llama2c/tok512.bin"), tk);
        out.add(new Target("llama2c-checkpoint", ck, f -> {
            try (Llama2cCheckpoint c = Llama2cCheckpoint.open(f)) {
                c.config();
            }
        }));
        out.add(new Target("llama2c-tokenizer", tk, f -> Llama2cTokenizer.read(f, 512)));
        PeftModel peft = PeftModel.getPeftModel(llama, LoraConfig.of(2, 4).withTargetModules("q_proj", "v_proj"));
        Path adapter = tmp.resolve("adapter");
        peft.savePretrained(adapter);
        Path adapterModel = hf; // the base the adapter was made for (saved before LoRA was injected)
        out.add(new Target("adapter-config", adapter.resolve("adapter_config.json"),
                f -> PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(adapterModel).asModule(), f.getParent())));
        out.add(new Target("adapter-weights", adapter.resolve("adapter_model.safetensors"),
                f -> PeftModel.fromPretrained(AutoModelForCausalLM.fromPretrained(adapterModel).asModule(), f.getParent())));
        // keep pristine copies to restore from after each case
        for (Target t : out) Files.copy(t.seedFile(), pristine(t.seedFile()));
        return out;
    }

    private static Path pristine(Path seed) {
        return seed.resolveSibling("." + seed.getFileName() + ".pristine");
    }

    private static void restore(Path seed) throws IOException {
        Files.copy(pristine(seed), seed, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    // ------------------------------------------------------------------ mutations

    /** Writes a mutation of the seed file over it (in place: loaders find files by name) and returns its path. */
    private static Path mutate(Path seed, Random r) throws IOException {
        byte[] b = Files.readAllBytes(pristine(seed));
        int n = 1 + r.nextInt(4);
        for (int k = 0; k < n && b.length > 0; k++) {
            int at = r.nextInt(b.length);
            switch (r.nextInt(7)) {
                case 0 -> b[at] ^= (byte) (1 << r.nextInt(8));                           // bit flip
                case 1 -> b[at] = (byte) r.nextInt(256);                                 // random byte
                case 2 -> b = java.util.Arrays.copyOf(b, at);                            // truncate
                case 3 -> {                                                              // insert random bytes
                    byte[] ins = new byte[1 + r.nextInt(16)];
                    r.nextBytes(ins);
                    b = splice(b, at, 0, ins);
                }
                case 4 -> b = splice(b, at, Math.min(b.length - at, 1 + r.nextInt(64)), new byte[0]); // delete a run
                case 5 -> {                                                              // a JSON-ish token at a digit
                    String[] tokens = {"-1", "0", "4294967360", "1e308", "null", "\"x\"", "[]", "{}", "[[[[[[[[", "NaN", "99999999999"};
                    int d = indexOfDigit(b, at);
                    if (d >= 0) b = splice(b, d, 1, tokens[r.nextInt(tokens.length)].getBytes());
                }
                default -> {                                                             // 0xFF run (huge lengths and offsets)
                    int len = Math.min(b.length - at, 1 + r.nextInt(8));
                    for (int i = 0; i < len; i++) b[at + i] = (byte) 0xFF;
                }
            }
        }
        Files.write(seed, b);
        return seed;
    }

    private static int indexOfDigit(byte[] b, int from) {
        for (int i = from; i < b.length; i++) if (b[i] >= '0' && b[i] <= '9') return i;
        return -1;
    }

    private static byte[] splice(byte[] b, int at, int remove, byte[] insert) {
        byte[] out = new byte[b.length - remove + insert.length];
        System.arraycopy(b, 0, out, 0, at);
        System.arraycopy(insert, 0, out, at, insert.length);
        System.arraycopy(b, at + remove, out, at + insert.length, b.length - at - remove);
        return out;
    }
}
