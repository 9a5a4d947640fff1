package jllm.train;

import jllm.data.Datasets;
import jllm.data.DatasetMeta;
import jllm.data.RandomBatcher;
import jllm.data.TokenFile;
import jllm.data.TokenSource;
import jllm.data.TrainValSplit;
import jllm.data.Batch;
import jllm.tensor.Generator;
import jllm.tokenizer.CharTokenizer;
import jllm.tokenizer.Gpt2Tokenizer;
import jllm.tokenizer.Tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * The token streams of a training run and the tokenizer that made them. A dataset is named as in
 * nanoGPT: {@code shakespeare_char} (the bundled Tiny Shakespeare, one token per character, 90/10
 * split), {@code shakespeare} (the same text in GPT-2 BPE tokens, split at 90% of the characters
 * like nanoGPT's prepare.py), or the path of a directory written by {@code jllm prepare}
 * (train.bin, val.bin, meta.json; memory-mapped).
 */
public record TrainData(String name, Tokenizer tokenizer, TokenSource train, TokenSource val) {
    public static final String SHAKESPEARE_CHAR = "shakespeare_char";
    public static final String SHAKESPEARE = "shakespeare";

    public static TrainData load(String dataset) {
        switch (dataset) {
            case SHAKESPEARE_CHAR -> {
                String text = Datasets.tinyShakespeare();
                CharTokenizer tok = CharTokenizer.fromText(text);
                TrainValSplit s = TrainValSplit.of(tok.encode(text));
                return new TrainData(dataset, tok, TokenSource.of(s.train()), TokenSource.of(s.val()));
            }
            case SHAKESPEARE -> {
                Gpt2Tokenizer tok = Gpt2Tokenizer.get();
                TrainValSplit.Text t = TrainValSplit.splitText(Datasets.tinyShakespeare(), TrainValSplit.DEFAULT_TRAIN_FRACTION);
                return new TrainData(dataset, tok, TokenSource.of(tok.encode(t.train())), TokenSource.of(tok.encode(t.val())));
            }
            default -> {
                Path dir = Path.of(dataset);
                if (!Files.isDirectory(dir)) {
                    throw new IllegalArgumentException("unknown dataset '" + dataset + "': expected " + SHAKESPEARE_CHAR + ", "
                            + SHAKESPEARE + ", or a directory made by `jllm prepare` (train.bin, val.bin, meta.json)");
                }
                try {
                    Tokenizer tok = DatasetMeta.read(dir).toTokenizer();
                    return new TrainData(dataset, tok, TokenFile.open(dir.resolve("train.bin")), TokenFile.open(dir.resolve("val.bin")));
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read dataset directory " + dir + ": " + e.getMessage(), e);
                }
            }
        }
    }

    /**
     * The vocabulary size of a dataset as {@link #load} would find it, without tokenizing the text
     * (the launcher sizes the heap from it before the run starts).
     */
    public static int vocabSize(String dataset) {
        return switch (dataset) {
            case SHAKESPEARE_CHAR -> CharTokenizer.fromText(Datasets.tinyShakespeare()).vocabSize();
            case SHAKESPEARE -> Gpt2Tokenizer.VOCAB_SIZE;
            default -> {
                try {
                    yield DatasetMeta.read(Path.of(dataset)).vocabSize();
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read dataset directory " + dataset + ": " + e.getMessage(), e);
                }
            }
        };
    }

    /** nanoGPT's get_batch: B random windows of T+1 tokens from the split, drawn with the trainer's generator. */
    public BatchSource batches(int batchSize, int blockSize) {
        RandomBatcher tr = new RandomBatcher(train, tokenizer.vocabSize(), describe(train, "train")),
                va = new RandomBatcher(val, tokenizer.vocabSize(), describe(val, "val"));
        for (var e : Map.of("train", train, "val", val).entrySet()) {
            if (e.getValue().length() <= blockSize) {
                throw new IllegalArgumentException("dataset " + name + ": the " + e.getKey() + " split has " + e.getValue().length()
                        + " tokens, not enough for block_size " + blockSize);
            }
        }
        return (split, g) -> (BatchSource.TRAIN.equals(split) ? tr : va).sample(batchSize, blockSize, g);
    }

    private String describe(TokenSource s, String split) {
        return s instanceof TokenFile f ? f.path().toString() : "dataset " + name + " (" + split + " split)";
    }

    /** One batch without a trainer, e.g. for benchmarks. */
    public Batch sample(String split, int batchSize, int blockSize, Generator g) {
        return batches(batchSize, blockSize).get(split, g);
    }
}
