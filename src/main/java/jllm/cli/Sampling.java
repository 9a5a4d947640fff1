package jllm.cli;

import jllm.generate.TextGenerator;
import jllm.models.LanguageModel;
import jllm.tensor.DType;
import jllm.tensor.Tensor;
import jllm.tokenizer.Tokenizer;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;

/** Shared by `train` and `sample`: generates from a prompt and prints text as tokens arrive. */
final class Sampling {
    private Sampling() {}

    record Settings(String prompt, int numSamples, int maxNewTokens, double temperature, Integer topK, Double topP, long seed,
                    boolean useCache) {}

    /** Generates and prints; returns the generated token counts' total and the elapsed seconds. */
    static double[] run(LanguageModel model, Tokenizer tok, Settings s, PrintStream out) {
        int[] prompt = tok.encode(s.prompt());
        if (prompt.length == 0) {
            Integer eot = tok.eotToken();
            if (eot == null) throw new IllegalArgumentException("the prompt is empty and the tokenizer has no end-of-text token to start from");
            prompt = new int[] {eot};
        }
        Tensor idx = promptIds(prompt);
        boolean stream = s.numSamples() == 1;
        Streamer streamer = stream ? new Streamer(tok, prompt, out) : null;
        if (stream) out.print(s.prompt());
        var opts = new TextGenerator.Options(s.maxNewTokens(), s.temperature(), s.topK(), s.topP(), s.seed(), s.useCache(),
                s.numSamples(), java.util.List.of(), stream ? (row, token) -> streamer.accept((int) token) : null);
        long t0 = System.nanoTime();
        Tensor result = TextGenerator.generate(model, idx, opts);
        double secs = (System.nanoTime() - t0) / 1e9;
        if (stream) {
            streamer.flush();
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

    /** A prompt as the I64 [1, T] batch the models take. */
    static Tensor promptIds(int[] tokens) { return Tensor.of(tokens, 1, tokens.length).to(DType.I64); }

    /** Row r of a generated [B, T] id tensor, as tokenizer input. */
    static int[] row(Tensor ids, int r) { return ids.select(0, r).toIntArray(); }

    /** Prints the growing decoded text, holding back an incomplete multi-byte character. */
    private static final class Streamer {
        private final Tokenizer tok;
        private final List<Integer> ids = new ArrayList<>();
        private final PrintStream out;
        private final int promptChars;
        private int printed;

        Streamer(Tokenizer tok, int[] prompt, PrintStream out) {
            this.tok = tok;
            this.out = out;
            for (int p : prompt) ids.add(p);
            this.promptChars = tok.decode(prompt).length();
            this.printed = promptChars;
        }

        void accept(int token) {
            ids.add(token);
            String text = decode();
            int end = text.length();
            if (end > 0 && text.charAt(end - 1) == '\uFFFD') return; // wait for the rest of the character
            if (end > printed) {
                out.print(text.substring(printed, end));
                out.flush();
                printed = end;
            }
        }

        void flush() {
            String text = decode();
            if (text.length() > printed) out.print(text.substring(printed));
        }

        private String decode() {
            int[] a = new int[ids.size()];
            for (int i = 0; i < a.length; i++) a[i] = ids.get(i);
            return tok.decode(a);
        }
    }
}
