package jllm.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.data.Batch;
import jllm.data.RandomBatcher;
import jllm.data.TrainValSplit;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.tokenizer.Tokenizer;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Fine-tuning data for {@code jllm finetune}, as a {@link BatchSource}. Two kinds of file:
 *
 * <ul>
 *   <li><b>Plain text</b> (any file not ending in {@code .jsonl}): tokenized as one stream, split
 *       90/10 into train and val, sampled as random windows of block_size tokens, exactly like
 *       pre-training ({@link RandomBatcher}).
 *   <li><b>Instruction data</b> ({@code .jsonl}): one JSON object per line with {@code prompt} and
 *       {@code response} strings. Each example is {@code [bos] prompt response [eos]}, and the loss
 *       counts only the response (and eos): targets on prompt positions are -100, the index
 *       {@code F.crossEntropy} ignores, as transformers' data collators do for instruction tuning.
 *       Examples are shuffled once with the seed and split 90/10 (at least one in val); a batch is
 *       B examples drawn at random, right-padded to the longest with pad inputs and -100 targets
 *       (causal attention never lets a real position see the padding after it). Examples longer
 *       than block_size + 1 tokens are truncated at the end.
 * </ul>
 */
public final class FinetuneData implements BatchSource {
    /** Targets equal to this are not counted by the loss (PyTorch's and transformers' ignore index). */
    public static final long IGNORE_INDEX = -100;

    private final String description;
    private final int batchSize, blockSize;
    private final RandomBatcher textTrain, textVal;
    private final List<long[][]> exTrain, exVal; // each example: {input ids, target ids}
    private final long padId;

    private FinetuneData(String description, int batchSize, int blockSize, RandomBatcher textTrain, RandomBatcher textVal,
                         List<long[][]> exTrain, List<long[][]> exVal, long padId) {
        this.description = description;
        this.batchSize = batchSize;
        this.blockSize = blockSize;
        this.textTrain = textTrain;
        this.textVal = textVal;
        this.exTrain = exTrain;
        this.exVal = exVal;
        this.padId = padId;
    }

    /** How a fine-tuning file is turned into ids. bos may be null (none prepended); eos may be null (none appended). */
    public record Encoding(Tokenizer tokenizer, Integer bos, Integer eos) {}

    /**
     * Reads file ({@code .jsonl} instruction data, otherwise plain text); batches of batchSize
     * rows of at most blockSize positions.
     */
    public static FinetuneData load(Path file, Encoding enc, int batchSize, int blockSize, long seed) throws IOException {
        if (batchSize < 1 || blockSize < 1) {
            throw new IllegalArgumentException("finetune data: batch size and block size must be >= 1, got " + batchSize + " and " + blockSize);
        }
        if (!Files.exists(file)) throw new NoSuchFileException(file.toString(), null, "no such data file");
        if (!Files.isRegularFile(file)) throw new IllegalArgumentException(file + ": the data is not a regular file (a directory, device or pipe)");
        String text = jllm.io.TextFiles.readUtf8(file);
        if (file.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".jsonl")) {
            return instructions(file, text, enc, batchSize, blockSize, seed);
        }
        return plainText(file, text, enc, batchSize, blockSize);
    }

    private static FinetuneData plainText(Path file, String text, Encoding enc, int batchSize, int blockSize) {
        int[] ids = enc.tokenizer().encode(text);
        if (enc.bos() != null) {
            int[] withBos = new int[ids.length + 1];
            withBos[0] = enc.bos();
            System.arraycopy(ids, 0, withBos, 1, ids.length);
            ids = withBos;
        }
        TrainValSplit split = TrainValSplit.of(ids);
        for (var part : List.of(split.train(), split.val())) {
            if (part.length <= blockSize) {
                throw new IllegalArgumentException(file + ": " + ids.length + " tokens are too few for block_size " + blockSize
                        + " (each 90/10 split needs more than block_size tokens); use a smaller --block-size or more text");
            }
        }
        String desc = String.format(Locale.ROOT, "%s: plain text, %,d tokens (train %,d, val %,d)", file, ids.length,
                split.train().length, split.val().length);
        return new FinetuneData(desc, batchSize, blockSize, new RandomBatcher(split.train()), new RandomBatcher(split.val()),
                null, null, 0);
    }

    private static FinetuneData instructions(Path file, String text, Encoding enc, int batchSize, int blockSize, long seed) {
        ObjectMapper json = jllm.io.StrictJson.files();
        List<long[][]> all = new ArrayList<>();
        String[] lines = text.split("\n", -1);
        int truncated = 0;
        long responseTokens = 0;
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.isEmpty()) continue;
            String where = file + " line " + (i + 1);
            JsonNode node;
            try {
                node = json.readTree(line);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException(where + ": not valid JSON (" + e.getOriginalMessage() + ")", e);
            }
            String prompt = field(node, "prompt", where), response = field(node, "response", where);
            int[] p = enc.tokenizer().encode(prompt), r = enc.tokenizer().encode(response);
            int bos = enc.bos() == null ? 0 : 1, eos = enc.eos() == null ? 0 : 1;
            int n = bos + p.length + r.length + eos;
            long[] seq = new long[n];
            int k = 0;
            if (bos == 1) seq[k++] = enc.bos();
            for (int id : p) seq[k++] = id;
            int responseStart = k;
            for (int id : r) seq[k++] = id;
            if (eos == 1) seq[k] = enc.eos();
            if (n > blockSize + 1) {
                seq = Arrays.copyOf(seq, blockSize + 1);
                truncated++;
            }
            if (responseStart >= seq.length) {
                throw new IllegalArgumentException(where + ": the prompt alone has " + (responseStart) + " tokens, more than block_size "
                        + blockSize + " allows, so no response token would be trained on");
            }
            int t = seq.length - 1;
            long[] x = Arrays.copyOf(seq, t), y = new long[t];
            for (int j = 0; j < t; j++) y[j] = j + 1 >= responseStart ? seq[j + 1] : IGNORE_INDEX;
            responseTokens += t - (responseStart - 1);
            all.add(new long[][] {x, y});
        }
        if (all.size() < 2) {
            throw new IllegalArgumentException(file + ": instruction data needs at least 2 examples (one for validation), got " + all.size());
        }
        // shuffle once with the seed (Fisher-Yates on the generator's randperm), then 90/10
        long[] perm = Tensor.randperm(all.size(), new Generator(seed)).toLongArray();
        List<long[][]> shuffled = new ArrayList<>(all.size());
        for (long i : perm) shuffled.add(all.get((int) i));
        int nVal = Math.max(1, all.size() - TrainValSplit.splitIndex(all.size(), TrainValSplit.DEFAULT_TRAIN_FRACTION));
        List<long[][]> train = List.copyOf(shuffled.subList(0, all.size() - nVal));
        List<long[][]> val = List.copyOf(shuffled.subList(all.size() - nVal, all.size()));
        long pad = enc.eos() != null ? enc.eos() : 0;
        String desc = String.format(Locale.ROOT, "%s: %,d prompt/response examples (train %,d, val %,d), %,d response tokens%s", file,
                all.size(), train.size(), val.size(), responseTokens,
                truncated > 0 ? ", " + truncated + " truncated to block_size " + blockSize : "");
        return new FinetuneData(desc, batchSize, blockSize, null, null, train, val, pad);
    }

    private static String field(JsonNode node, String name, String where) {
        JsonNode v = node.get(name);
        if (v == null || !v.isTextual()) {
            throw new IllegalArgumentException(where + ": expected an object with string fields \"prompt\" and \"response\"; \""
                    + name + "\" is " + (v == null ? "missing" : "a " + v.getNodeType().toString().toLowerCase(Locale.ROOT)));
        }
        return v.asText();
    }

    /** One line saying what was read. */
    public String description() { return description; }

    /** True for prompt/response data (loss on responses only). */
    public boolean isInstructionData() { return exTrain != null; }

    @Override
    public Batch get(String split, Generator g) {
        boolean train = switch (split) {
            case TRAIN -> true;
            case VAL -> false;
            default -> throw new IllegalArgumentException("split must be \"train\" or \"val\", got \"" + split + "\"");
        };
        if (exTrain == null) return (train ? textTrain : textVal).sample(batchSize, blockSize, g);
        List<long[][]> pool = train ? exTrain : exVal;
        long[] pick = Tensor.randint(0, pool.size(), new int[] {batchSize}, g).toLongArray();
        int t = 0;
        for (long i : pick) t = Math.max(t, pool.get((int) i)[0].length);
        long[] x = new long[batchSize * t], y = new long[batchSize * t];
        Arrays.fill(x, padId);
        Arrays.fill(y, IGNORE_INDEX);
        for (int b = 0; b < batchSize; b++) {
            long[][] ex = pool.get((int) pick[b]);
            System.arraycopy(ex[0], 0, x, b * t, ex[0].length);
            System.arraycopy(ex[1], 0, y, b * t, ex[1].length);
        }
        return new Batch(Tensor.of(x, batchSize, t), Tensor.of(y, batchSize, t));
    }
}
