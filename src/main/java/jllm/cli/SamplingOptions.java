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
}
