package jllm.cli;

import jllm.generate.TextGenerator;
import jllm.models.LanguageModel;
import jllm.tensor.DType;
import jllm.tensor.Tensor;
import jllm.tokenizer.StreamDecoder;
import jllm.tokenizer.Tokenizer;

import java.io.PrintStream;

/** Shared by `train` and `sample`: generates from a prompt and prints text as tokens arrive. */
final class Sampling {
    private Sampling() {}

    record Settings(String prompt, int numSamples, int maxNewTokens, double temperature, Integer topK, Double topP, long seed,
                    boolean useCache, SamplingOptions options) {}

    /** Generates and prints; returns the generated token counts' total and the elapsed seconds. */
    static double[] run(LanguageModel model, Tokenizer tok, Settings s, PrintStream out) {
        int[] prompt = tok.encode(s.prompt());
        if (prompt.length == 0) {
            Integer eot = tok.eotToken();
            if (eot == null) throw new IllegalArgumentException("the prompt is empty and the tokenizer has no end-of-text token to start from");
            prompt = new int[] {eot};
        }
        if (s.options() != null) s.options().checkPromptLength(prompt.length, model.blockSize());
        Tensor idx = promptIds(prompt);
        boolean stream = s.numSamples() == 1;
        StreamDecoder streamer = stream ? new StreamDecoder(tok, prompt) : null;
        if (stream) out.print(s.prompt());
        var opts = new TextGenerator.Options(s.maxNewTokens(), s.temperature(), s.topK(), s.topP(), s.seed(), s.useCache(),
                s.numSamples(), java.util.List.of(), stream ? (row, token) -> print(out, streamer.push((int) token)) : null);
        long t0 = System.nanoTime();
        Tensor result = TextGenerator.generate(model, idx, opts);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (stream) {
            out.print(streamer.flush());
            out.println();
        } else {
            for (int r = 0; r < s.numSamples(); r++) {
                out.println(tok.decode(row(result, r)));
                out.println("---------------");
            }
        }
        out.flush();
        return new double[] {(double) s.numSamples() * s.maxNewTokens(), secs};
    }

    private static void print(PrintStream out, String text) {
        if (text.isEmpty()) return;
        out.print(text);
        out.flush();
    }

    /** A prompt as the I64 [1, T] batch the models take. */
    static Tensor promptIds(int[] tokens) { return Tensor.of(tokens, 1, tokens.length).to(DType.I64); }

    /** Row r of a generated [B, T] id tensor, as tokenizer input. */
    static int[] row(Tensor ids, int r) { return ids.select(0, r).toIntArray(); }
}
