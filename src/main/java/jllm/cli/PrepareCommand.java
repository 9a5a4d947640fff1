package jllm.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import jllm.data.DatasetMeta;
import jllm.data.Datasets;
import jllm.data.TokenFile;
import jllm.data.TrainValSplit;
import jllm.tokenizer.CharTokenizer;
import jllm.tokenizer.Tokenizer;
import jllm.tokenizer.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code jllm prepare}: tokenizes a text into nanoGPT-style {@code train.bin}, {@code val.bin}
 * (uint16 little-endian ids) and {@code meta.json}, like nanoGPT's {@code data/shakespeare_char/prepare.py}
 * and {@code data/shakespeare/prepare.py}.
 *
 * <p>The split is made on the text, the first {@code 1 - val-fraction} of its characters for
 * training, and each part is tokenized on its own, as nanoGPT does; for the char tokenizer that
 * is the same as splitting the ids, and its vocabulary comes from the whole text.
 */
@Command(name = "prepare", mixinStandardHelpOptions = true,
        description = "Tokenize a text into train.bin, val.bin (uint16 token ids) and meta.json.")
public final class PrepareCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--input", paramLabel = "FILE",
            description = "UTF-8 text to tokenize (default: the bundled Tiny Shakespeare).")
    Path input;

    @Option(names = "--tokenizer", paramLabel = "char|gpt2",
            description = "Tokenizer: char (vocabulary = the text's characters) or gpt2 (BPE) (default: ${DEFAULT-VALUE}).")
    String tokenizer = "char";

    @Option(names = "--out", paramLabel = "DIR",
            description = "Output directory (default: data/shakespeare_<tokenizer>, or data/<input name>_<tokenizer> with --input).")
    Path out;

    @Option(names = "--val-fraction", paramLabel = "F",
            description = "Fraction of the text, from the end, for validation (default: ${DEFAULT-VALUE}).")
    double valFraction = 0.1;

    @Override
    public Integer call() throws IOException {
        PrintWriter o = spec.commandLine().getOut();
        String tok = tokenizer.trim().toLowerCase(Locale.ROOT);
        if (!tok.equals("char") && !tok.equals("gpt2")) {
            throw new ParameterException(spec.commandLine(), "--tokenizer must be char or gpt2, got '" + tokenizer + "'");
        }
        if (!(valFraction >= 0 && valFraction < 1)) {
            throw new ParameterException(spec.commandLine(), "--val-fraction must be in [0, 1), got " + valFraction);
        }
        String text = input == null ? Datasets.tinyShakespeare() : readText(input);
        if (text.isEmpty()) throw new IllegalArgumentException("--input " + input + " is empty");
        Path dir = out != null ? out : Path.of("data", baseName() + "_" + tok);

        int chars = text.codePointCount(0, text.length());
        o.printf(Locale.US, "length of dataset in characters: %,d%n", chars);
        Tokenizer t = Tokenizers.fromName(tok, text);
        if (t instanceof CharTokenizer c) {
            o.println("all the unique characters: " + String.join("", c.chars()));
            o.printf(Locale.US, "vocab size: %,d%n", c.vocabSize());
        }
        TrainValSplit.Text split = TrainValSplit.splitText(text, 1 - valFraction);
        int[] train = t.encode(split.train());
        int[] val = t.encode(split.val());
        o.printf(Locale.US, "train has %,d tokens%n", train.length);
        o.printf(Locale.US, "val has %,d tokens%n", val.length);
        // training reads windows of block_size + 1 tokens from each split: two tokens are the least that makes one
        if (train.length < 2 || (valFraction > 0 && val.length < 2)) {
            throw new IllegalArgumentException("--input " + input + " is too short: " + train.length + " train and " + val.length
                    + " val tokens after the split (each split needs at least 2)");
        }

        Files.createDirectories(dir);
        TokenFile.write(dir.resolve("train.bin"), train);
        TokenFile.write(dir.resolve("val.bin"), val);
        DatasetMeta.of(t).write(dir);
        o.println("wrote " + dir.resolve("train.bin") + ", " + dir.resolve("val.bin") + ", " + dir.resolve(DatasetMeta.FILE_NAME));
        o.flush();
        return 0;
    }

    private String baseName() {
        if (input == null) return "shakespeare";
        String name = input.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    private static String readText(Path p) throws IOException {
        if (!Files.exists(p)) throw new IllegalArgumentException("--input " + p + " does not exist");
        if (!Files.isRegularFile(p)) throw new IllegalArgumentException("--input " + p + " is not a regular file (a directory, device or pipe)");
        return jllm.io.TextFiles.readUtf8(p);
    }
}
