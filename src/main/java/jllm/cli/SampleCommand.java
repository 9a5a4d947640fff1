package jllm.cli;

import jllm.generate.SpecialTokens;
import jllm.generate.TextGenerator;
import jllm.generate.TextStream;
import jllm.train.SavedModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jllm sample}: text from a trained checkpoint (nanoGPT's sample.py). */
@Command(name = "sample", mixinStandardHelpOptions = true,
        description = "Generate text from a checkpoint written by `jllm train` (top-k / top-p sampling with a KV cache).")
public final class SampleCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--checkpoint", required = true, description = "A checkpoint directory, or a run's out_dir (uses ckpt_best, else ckpt_last).")
    Path checkpoint;

    @Option(names = "--prompt", description = "Text to continue (default: a newline, as nanoGPT's sample.py).")
    String prompt = "\n";

    @Option(names = "--num-samples", description = "Number of samples (default: ${DEFAULT-VALUE}).")
    int numSamples = 1;

    @Option(names = "--max-new-tokens", description = "Tokens to generate per sample (default: ${DEFAULT-VALUE}).")
    int maxNewTokens = 500;

    @Option(names = "--top-k", description = "Keep only the k most likely tokens (default: ${DEFAULT-VALUE}; 0 = off).")
    int topK = 200;

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Override
    public Integer call() throws Exception {
        CliErrors.check(spec, numSamples >= 1, "--num-samples must be >= 1, got " + numSamples);
        CliErrors.check(spec, maxNewTokens >= 0, "--max-new-tokens must be >= 0, got " + maxNewTokens);
        CliErrors.check(spec, topK >= 0, "--top-k must be >= 0 (0 = off), got " + topK);
        sampling.validate(spec);
        SavedModel m = SavedModel.load(checkpoint);
        System.err.printf(Locale.ROOT, "loaded %s (iter %d, best val loss %.4f)%n", m.dir(), m.state().iterNum(), m.state().bestValLoss());
        int[] ids = SpecialTokens.of(m.tokenizer()).startIfEmpty(m.tokenizer().encode(prompt));
        sampling.checkPromptLength(ids.length, m.model().blockSize());
        // no stop tokens: nanoGPT's sample.py writes max_new_tokens whatever it samples
        var opts = TextGenerator.Options.of(maxNewTokens).temperature(sampling.temperature).topK(topK > 0 ? topK : null)
                .topP(sampling.topP).seed(sampling.seed).useCache(!sampling.noCache).numReturnSequences(numSamples);
        TextStream.Result r = TextStream.run(m.model(), m.tokenizer(), ids, prompt, opts, System.out);
        System.err.printf(Locale.ROOT, "%d tokens in %.2f s (%.1f tokens/s)%n", r.generatedTokens(), r.seconds(), r.tokensPerSecond());
        return 0;
    }
}
