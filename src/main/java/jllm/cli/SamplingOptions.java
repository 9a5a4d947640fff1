package jllm.cli;

import picocli.CommandLine.Option;

/** The sampling options `sample` and `generate` share (each command keeps its own length and top-k defaults). */
final class SamplingOptions {
    @Option(names = "--temperature", description = "Softmax temperature; 0 means greedy (default: ${DEFAULT-VALUE}).")
    double temperature = 0.8;

    @Option(names = "--top-p", description = "Nucleus sampling: keep the smallest set with this total probability (default: off).")
    Double topP;

    @Option(names = "--seed", description = "Random seed (default: ${DEFAULT-VALUE}).")
    long seed = 1337;

    @Option(names = "--no-cache", description = "Recompute the whole context for every token instead of using the KV cache.")
    boolean noCache;

    @Option(names = "--no-truncate", description = "Refuse a prompt longer than the model's context instead of keeping only its last tokens.")
    boolean noTruncate;

    /**
     * A prompt longer than the model's context: the model sees only its last {@code context} tokens
     * (nanoGPT's crop), said on stderr, or refused with {@code --no-truncate}. Never silent.
     */
    void checkPromptLength(int promptTokens, int context) {
        if (promptTokens <= context) return;
        String what = "the prompt has " + promptTokens + " tokens but the model's context is " + context;
        if (noTruncate) throw new IllegalArgumentException(what + " (--no-truncate)");
        System.err.println("warning: " + what + ": the first " + (promptTokens - context) + " tokens are dropped (--no-truncate refuses instead)");
    }

    /** Bad values are usage errors, found before any model is loaded. */
    void validate(picocli.CommandLine.Model.CommandSpec spec) {
        CliErrors.check(spec, Double.isFinite(temperature) && temperature >= 0, "--temperature must be a finite number >= 0 (0 is greedy), got " + temperature);
        CliErrors.check(spec, topP == null || topP > 0 && topP <= 1, "--top-p must be in (0, 1], got " + topP);
    }
}
