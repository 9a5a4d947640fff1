package jllm.eval;

import jllm.autograd.Grad;
import jllm.models.LanguageModel;
import jllm.nn.Module;
import jllm.nn.functional.F;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The perplexity of a causal language model on a token stream, the way Hugging Face's "Perplexity
 * of fixed-length models" guide computes it: windows of at most {@code ctx} input tokens start every
 * {@code stride} tokens, and each window scores only the next-token predictions that the window
 * before it did not (all of them in the first window, its last {@code stride} after that), so that
 * with {@code stride < ctx} every prediction after the first window sees at least
 * {@code ctx - stride} tokens of context. The negative log-likelihoods are summed in double.
 *
 * <p>One difference from the guide's loop: every token after the first is scored exactly once.
 * The guide feeds a window's tokens as both input and labels, so with {@code stride == ctx} the
 * first token of every window after the first is never predicted; here a window's inputs are
 * {@code ids[begin, end)} and its targets {@code ids[begin + 1, end + 1)}, as nanoGPT's batches.
 */
public final class Perplexity {
    private Perplexity() {}

    /** Positions not scored: the targets' ignore index of {@link F#crossEntropy}. */
    private static final long IGNORE = -100;

    /**
     * One forward pass: inputs {@code ids[begin, end)}, targets {@code ids[begin + 1, end + 1)}, of
     * which those of input positions {@code [firstScored, end)} count.
     */
    public record Window(int begin, int end, int firstScored) {
        public int length() { return end - begin; }

        public int scored() { return end - firstScored; }
    }

    /**
     * The result of an evaluation.
     *
     * @param tokens  next-token predictions scored: the number of tokens minus one
     * @param nllSum  their summed negative log-likelihood, in nats
     * @param windows forward passes over a window
     * @param seconds time spent in the forward passes and the loss
     */
    public record Result(long tokens, double nllSum, int windows, double seconds) {
        /** Mean negative log-likelihood per scored token, in nats. */
        public double meanNll() { return nllSum / tokens; }

        public double perplexity() { return Math.exp(meanNll()); }

        /** The summed negative log-likelihood in bits divided by the bytes of text it covers. */
        public double bitsPerByte(long bytes) { return nllSum / Math.log(2) / bytes; }

        public double tokensPerSecond() { return tokens / seconds; }
    }

    /**
     * The windows for {@code tokens} ids: one starts every {@code stride} inputs until a window
     * reaches the last input ({@code tokens - 2}); only the last window may be shorter than ctx.
     */
    public static List<Window> windows(int tokens, int ctx, int stride) {
        check(tokens, ctx, stride);
        List<Window> out = new ArrayList<>();
        int inputs = tokens - 1, prevEnd = 0;
        for (int begin = 0; ; begin += stride) {
            int end = Math.min(begin + ctx, inputs);
            out.add(new Window(begin, end, Math.max(begin, prevEnd)));
            if (end == inputs) return out;
            prevEnd = end;
        }
    }

    /**
     * Scores {@code ids} with {@code model} in eval mode without gradients, {@code batch} windows of
     * equal length per forward pass; the model's train/eval modes are restored afterwards.
     *
     * @throws IllegalArgumentException for fewer than 2 ids, an id outside the vocabulary, ctx outside
     *     [1, blockSize], stride outside [1, ctx], batch < 1, or a model whose inference forward
     *     returns only the last position
     */
    public static Result evaluate(LanguageModel model, int[] ids, int ctx, int stride, int batch) {
        if (ctx > model.blockSize()) {
            throw new IllegalArgumentException("a window of " + ctx + " tokens is longer than the model's context (" + model.blockSize() + ")");
        }
        if (batch < 1) throw new IllegalArgumentException("batch must be >= 1, got " + batch);
        if (model.lastPositionOnlyInInference()) {
            throw new IllegalArgumentException(model.getClass().getSimpleName() + " returns logits for the last position only; perplexity needs every position");
        }
        List<Window> windows = windows(ids.length, ctx, stride);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= model.vocabSize()) {
                throw new IllegalArgumentException("token " + i + " has id " + ids[i] + ", outside the model's vocabulary [0, " + model.vocabSize() + ")");
            }
        }
        Map<Module, Boolean> modes = new LinkedHashMap<>();
        if (model instanceof Module m) {
            for (Module sub : m.modules()) modes.put(sub, sub.isTraining());
            m.eval();
        }
        long t0 = System.nanoTime();
        double nll = 0;
        long scored = 0;
        try (var g = Grad.off()) {
            for (int i = 0; i < windows.size(); ) {
                int n = 1;
                while (n < batch && i + n < windows.size() && windows.get(i + n).length() == windows.get(i).length()) n++;
                List<Window> group = windows.subList(i, i + n);
                nll += nllSum(model, ids, group);
                for (Window w : group) scored += w.scored();
                i += n;
            }
        } finally {
            modes.forEach(Module::train);
        }
        return new Result(scored, nll, windows.size(), (System.nanoTime() - t0) / 1e9);
    }

    /** One forward pass over windows of equal length; the per-token losses are added up in double. */
    private static double nllSum(LanguageModel model, int[] ids, List<Window> group) {
        int b = group.size(), len = group.getFirst().length();
        long[] x = new long[b * len], y = new long[b * len];
        for (int r = 0; r < b; r++) {
            Window w = group.get(r);
            for (int p = 0; p < len; p++) {
                int at = w.begin() + p;
                x[r * len + p] = ids[at];
                y[r * len + p] = at >= w.firstScored() ? ids[at + 1] : IGNORE;
            }
        }
        Tensor logits = model.forward(Tensor.of(x, b, len), null).logits();
        Tensor perToken = F.crossEntropy(logits.reshape(-1, logits.size(-1)), Tensor.of(y, b * len), IGNORE, F.Reduction.NONE, 0.0);
        double sum = 0; // ignored positions are 0
        for (float v : perToken.toFloatArray()) sum += v;
        return sum;
    }

    private static void check(int tokens, int ctx, int stride) {
        if (tokens < 2) throw new IllegalArgumentException("perplexity needs at least 2 tokens, got " + tokens);
        if (ctx < 1) throw new IllegalArgumentException("the window (ctx) must be >= 1 token, got " + ctx);
        if (stride < 1 || stride > ctx) throw new IllegalArgumentException("stride must be in [1, ctx = " + ctx + "], got " + stride);
    }
}
