package jllm.generate;

import jllm.models.LanguageModel;
import jllm.tensor.DType;
import jllm.tensor.Tensor;
import jllm.tokenizer.StreamDecoder;
import jllm.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.util.List;

/**
 * The one path from prompt ids to printed text that {@code generate}, {@code sample} and
 * {@code train}'s sample share: one sample streams as its tokens arrive (a stop token ends it and
 * is not printed); several are printed one after another as nanoGPT's sample.py prints them.
 */
public final class TextStream {
    private TextStream() {}

    /** What a run produced: prompt tokens, generated tokens (all samples) and the generation's seconds. */
    public record Result(int promptTokens, long generatedTokens, double seconds) {
        public double tokensPerSecond() { return generatedTokens / seconds; }
    }

    /**
     * Generates from prompt with opts (whose listener this sets) and prints to out. When one
     * sample streams, echo (null: nothing) is printed before it.
     */
    public static Result run(LanguageModel lm, Tokenizer tok, int[] prompt, String echo, TextGenerator.Options opts, PrintStream out) {
        boolean stream = opts.numReturnSequences() == 1;
        StreamDecoder decoder = stream ? new StreamDecoder(tok, prompt) : null;
        List<Long> stops = opts.stopTokens();
        long[] count = {0};
        if (stream && echo != null) out.print(echo);
        out.flush();
        TextGenerator.Options o = opts.listener((row, token) -> {
            count[0]++;
            if (!stream || stops.contains(token)) return;
            String s = decoder.push((int) token);
            if (!s.isEmpty()) {
                out.print(s);
                out.flush();
            }
        });
        long t0 = System.nanoTime();
        Tensor result = TextGenerator.generate(lm, ids(prompt), o);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (stream) {
            out.print(decoder.flush());
            out.println();
        } else {
            for (int r = 0; r < opts.numReturnSequences(); r++) {
                out.println(tok.decode(row(result, r)));
                out.println("---------------");
            }
        }
        out.flush();
        return new Result(prompt.length, count[0], secs);
    }

    /** A prompt as the I64 [1, T] batch the models take. */
    public static Tensor ids(int[] tokens) { return Tensor.of(tokens, 1, tokens.length).to(DType.I64); }

    /** Row r of a generated [B, T] id tensor, as tokenizer input. */
    public static int[] row(Tensor ids, int r) { return ids.select(0, r).toIntArray(); }
}
