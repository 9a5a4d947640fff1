package jllm.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.io.TensorIO;
import jllm.models.LanguageModel;
import jllm.models.ModelFactory;
import jllm.nn.Module;
import jllm.tokenizer.Tokenizer;
import jllm.tokenizer.Tokenizers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A trained model read back from a checkpoint: its config, weights, tokenizer and trainer state.
 * {@code path} may be a checkpoint directory or a run's out_dir (then ckpt_best, else ckpt_last).
 * The tokenizer is {@code tokenizer.json} in the checkpoint directory or the out_dir above it.
 */
public record SavedModel(Path dir, TrainConfig config, Module module, Tokenizer tokenizer, Checkpoint.State state) {
    public static final String TOKENIZER = "tokenizer.json";
    private static final ObjectMapper JSON = jllm.io.StrictJson.files();

    public LanguageModel model() { return (LanguageModel) module; }

    public static SavedModel load(Path path) throws IOException {
        Path dir = resolve(path);
        TrainConfig cfg = Checkpoint.readConfig(dir);
        Path tokFile = tokenizerFile(dir);
        Tokenizer tok = readTokenizer(tokFile);
        Module m = jllm.nn.Init.skipInit(() -> ModelFactory.build(cfg.model(), tok.vocabSize(), cfg.blockSize())); // weights loaded below
        Path weights = dir.resolve(Checkpoint.MODEL);
        var loaded = TensorIO.load(weights);
        try {
            m.loadStateDict(loaded, true);
        } catch (IllegalArgumentException e) {
            // the model's vocabulary comes from the tokenizer: a tokenizer of another run shows up as size mismatches
            throw new IllegalArgumentException(weights + ": " + e.getMessage().replace("\n\t", " ") + " (the model was built for the "
                    + tok.vocabSize() + " tokens of " + tokFile + ")", e);
        }
        jllm.nn.LoadChecks.warnNonFinite(loaded, weights);
        m.eval();
        return new SavedModel(dir, cfg, m, tok, Checkpoint.readState(dir));
    }

    /** The checkpoint directory for a path that is one, or an out_dir holding ckpt_best / ckpt_last. */
    public static Path resolve(Path path) throws IOException {
        if (!Files.exists(path)) throw new IOException("no checkpoint at " + path + " (the path does not exist)");
        if (Files.exists(path.resolve(Checkpoint.CONFIG))) return path;
        for (String name : new String[] {Checkpoint.BEST, Checkpoint.LAST}) {
            Path d = Checkpoint.readable(path.resolve(name));
            if (d != null) return d;
        }
        throw new IOException("no checkpoint in " + path + ": expected " + Checkpoint.CONFIG + ", or a complete "
                + Checkpoint.BEST + "/ or " + Checkpoint.LAST + "/ directory inside it" + Checkpoint.incompleteIn(path));
    }

    /** Writes the tokenizer next to a run's checkpoints. */
    public static void writeTokenizer(Path outDir, Tokenizer tok) throws IOException {
        Files.createDirectories(outDir);
        jllm.io.AtomicFiles.writeString(outDir.resolve(TOKENIZER), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(Tokenizers.toJson(tok)));
    }

    /** The tokenizer a checkpoint directory's model was trained with (its vocabulary sizes the model). */
    public static Tokenizer tokenizer(Path dir) throws IOException {
        return readTokenizer(tokenizerFile(dir));
    }

    /** tokenizer.json in the checkpoint directory, else in the out_dir above it. */
    private static Path tokenizerFile(Path dir) throws IOException {
        for (Path p : new Path[] {dir.resolve(TOKENIZER), dir.toAbsolutePath().getParent() == null ? null : dir.toAbsolutePath().getParent().resolve(TOKENIZER)}) {
            if (p != null && Files.exists(p)) return p;
        }
        throw new IOException("no " + TOKENIZER + " in " + dir + " or its parent directory");
    }

    private static Tokenizer readTokenizer(Path p) throws IOException {
        try {
            return Tokenizers.fromJson(JSON.readTree(p.toFile()));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IOException("invalid tokenizer file " + p + ": " + jllm.io.JsonErrors.describe(e), e);
        } catch (RuntimeException e) {
            throw new IOException("invalid tokenizer file " + p + ": " + e.getMessage(), e);
        }
    }
}
