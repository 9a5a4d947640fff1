package jllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.eval.Perplexity;
import jllm.io.TextFiles;
import jllm.models.LanguageModel;
import jllm.tokenizer.HfTokenizer;
import jllm.tokenizer.Tokenizer;
import jllm.train.SavedModel;
import jllm.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jllm eval}: a model's perplexity on a text file. */
@Command(name = "eval", mixinStandardHelpOptions = true,
        description = {"Perplexity of a model on a text file, as Hugging Face's \"Perplexity of fixed-length models\" guide and llama.cpp's "
                + "llama-perplexity measure it: the whole file is tokenized with the model's tokenizer (a Hugging Face tokenizer adds what "
                + "tokenizer(text) adds, e.g. Llama's bos; a checkpoint's tokenizer adds nothing), cut into windows of --ctx tokens every "
                + "--stride tokens, and each next-token prediction is scored once, in the first window that makes it. Prints the tokens scored, "
                + "the mean negative log-likelihood (nats), perplexity = exp(mean NLL), bits per byte (total NLL in bits / bytes of text), "
                + "the time and tokens/s.",
                "--model is a directory, GGUF file or cached model name, as for generate; --checkpoint a `jllm train` checkpoint, as for sample."})
public final class EvalCommand implements Callable<Integer> {
    /** Hugging Face's guide and llama.cpp use 1024 and 512 tokens; longer windows cost quadratic attention for little change. */
    static final int MAX_DEFAULT_CTX = 1024;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", description = "A Hugging Face model directory, GGUF file or cached model name (as generate takes).")
    String model;

    @Option(names = "--checkpoint", description = "A checkpoint directory, or a run's out_dir (as sample takes).")
    Path checkpoint;

    @Option(names = "--data", required = true, description = "The text file (UTF-8) to evaluate on.")
    Path data;

    @Option(names = "--ctx", description = "Tokens per window (default: the model's context, at most " + MAX_DEFAULT_CTX + ").")
    Integer ctx;

    @Option(names = "--stride", description = "Tokens between window starts (default: --ctx, non-overlapping windows); with a smaller stride "
            + "each window scores only its last stride tokens, the ones before are context (Hugging Face's sliding window).")
    Integer stride;

    @Option(names = "--max-tokens", description = "Evaluate only the first N tokens of the file (default: all).")
    Integer maxTokens;

    @Option(names = "--batch", description = "Windows per forward pass (default: ${DEFAULT-VALUE}).")
    int batch = 1;

    @Mixin
    WeightTypeOption dtype = new WeightTypeOption();

    @Option(names = "--json", description = "Print the result as one JSON object instead of text.")
    boolean json;

    @Override
    public Integer call() throws Exception {
        CliErrors.check(spec, (model == null) != (checkpoint == null), "give either --model or --checkpoint");
        CliErrors.check(spec, ctx == null || ctx >= 1, "--ctx must be >= 1, got " + ctx);
        CliErrors.check(spec, stride == null || stride >= 1, "--stride must be >= 1, got " + stride);
        CliErrors.check(spec, ctx == null || stride == null || stride <= ctx, "--stride (" + stride + ") must not exceed --ctx (" + ctx + ")");
        CliErrors.check(spec, maxTokens == null || maxTokens >= 2, "--max-tokens must be >= 2, got " + maxTokens);
        CliErrors.check(spec, batch >= 1, "--batch must be >= 1, got " + batch);
        DType weights = dtype.validate(spec);
        String text = TextFiles.readUtf8(data);
        if (text.isEmpty()) throw new IllegalArgumentException(data + " is empty: there is no text to evaluate on");
        if (model != null) {
            try (HfModel hf = HfModel.load(model, weights)) {
                HfTokenizer tok = hf.tokenizer();
                return evaluate(hf.dir(), hf.model(), tok, text, tok.encodePrompt(text), tok.prependedBos() != null);
            }
        }
        SavedModel m = SavedModel.load(checkpoint);
        System.err.printf(Locale.ROOT, "loaded %s (iter %d, best val loss %.4f)%n", m.dir(), m.state().iterNum(), m.state().bestValLoss());
        WeightTypeOption.apply(m.module(), weights);
        return evaluate(m.dir(), m.model(), m.tokenizer(), text, m.tokenizer().encode(text), false);
    }

    private int evaluate(Path source, LanguageModel lm, Tokenizer tok, String text, int[] ids, boolean bos) {
        int window = ctx != null ? ctx : Math.min(lm.blockSize(), MAX_DEFAULT_CTX);
        CliErrors.check(spec, window <= lm.blockSize(), "--ctx " + window + " is longer than the model's context (" + lm.blockSize() + " tokens)");
        int step = stride != null ? stride : window;
        CliErrors.check(spec, step <= window, "--stride (" + step + ") must not exceed the window (" + window + " tokens, the model's context)");
        int total = ids.length;
        long textBytes = text.getBytes(StandardCharsets.UTF_8).length, bytes = textBytes;
        if (maxTokens != null && maxTokens < ids.length) {
            ids = Arrays.copyOf(ids, maxTokens);
            bytes = decodedBytes(tok, ids);
        }
        if (ids.length < 2) {
            throw new IllegalArgumentException(data + ": the text is " + ids.length + (ids.length == 1 ? " token" : " tokens") + " long; perplexity needs at least 2 tokens");
        }
        Perplexity.Result r = Perplexity.evaluate(lm, ids, window, step, batch);
        if (json) {
            ObjectNode o = new ObjectMapper().createObjectNode();
            o.put("model", source.toString());
            o.put("data", data.toString());
            o.put("dtype", dtype.name == null ? "stored" : dtype.name.toLowerCase(Locale.ROOT));
            o.put("ctx", window);
            o.put("stride", step);
            o.put("batch", batch);
            o.put("text_tokens", total);
            o.put("bos", bos);
            o.put("windows", r.windows());
            o.put("tokens", r.tokens());
            o.put("bytes", bytes);
            o.put("nll_sum", r.nllSum());
            o.put("mean_nll", r.meanNll());
            o.put("perplexity", r.perplexity());
            o.put("bits_per_byte", r.bitsPerByte(bytes));
            o.put("seconds", r.seconds());
            o.put("tokens_per_second", r.tokensPerSecond());
            System.out.println(o);
            return 0;
        }
        var out = System.out;
        out.printf(Locale.ROOT, "data:          %s: %,d bytes, %,d tokens%s%s%n", data, textBytes, total,
                bos ? " (bos added)" : "", ids.length < total ? String.format(Locale.ROOT, ", the first %,d evaluated (%,d bytes)", ids.length, bytes) : "");
        out.printf(Locale.ROOT, "windows:       %,d of up to %d tokens, stride %d, batch %d%n", r.windows(), window, step, batch);
        out.printf(Locale.ROOT, "tokens scored: %,d%n", r.tokens());
        out.printf(Locale.ROOT, "mean NLL:      %.4f nats%n", r.meanNll());
        out.printf(Locale.ROOT, "perplexity:    %.4f%n", r.perplexity());
        out.printf(Locale.ROOT, "bits per byte: %.4f%n", r.bitsPerByte(bytes));
        out.printf(Locale.ROOT, "time:          %.2f s (%.1f tokens/s)%n", r.seconds(), r.tokensPerSecond());
        return 0;
    }

    /** The UTF-8 bytes of the text the first tokens stand for (special tokens such as bos stand for none). */
    private static long decodedBytes(Tokenizer tok, int[] ids) {
        if (tok instanceof HfTokenizer hf) return hf.decode(ids, true).getBytes(StandardCharsets.UTF_8).length;
        return tok.decodeBytes(ids).length;
    }
}
