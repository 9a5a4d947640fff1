package jllm.cli;

import jllm.data.Batch;
import jllm.data.DataLoaderLite;
import jllm.data.Datasets;
import jllm.generate.TextGenerator;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.optim.AdamW;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.tokenizer.Gpt2Tokenizer;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * {@code jllm examples gpt2}: seed 002 ("reproducing GPT-2"): the 124M model, the loss sanity
 * check at initialisation, the GPT-2 tokenizer, DataLoaderLite over Tiny Shakespeare, a few AdamW
 * steps, and top-k sampling of 5 sequences.
 */
final class Gpt2Example {
    private Gpt2Example() {}

    static void run(PrintStream out) { run(out, GPTConfig.gpt2(), 10); }

    static void run(PrintStream out, GPTConfig config, int steps) {
        out.println("Seed 002: GPT-2 (124M) from scratch");
        Generator.manualSeed(1337);
        GPT model = new GPT(config);
        out.println(model);
        out.printf(Locale.ROOT, "number of parameters: %,d (non-embedding %,d)%n", model.numParameters(), model.getNumParams(true));

        Gpt2Tokenizer tok = Gpt2Tokenizer.get();
        String hello = "Hello, world. Is this-- a test?";
        out.println("GPT-2 tokens of \"" + hello + "\": " + Arrays.toString(tok.encode(hello)));

        out.println("########## sanity check: loss at initialisation ##########");
        Tensor random = Tensor.randint(0, config.vocabSize(), new int[] {2, 64}, new Generator(0));
        double loss0;
        try (var g = jllm.autograd.Grad.off()) {
            loss0 = model.forward(random.narrow(1, 0, 63).contiguous(), random.narrow(1, 1, 63).contiguous()).loss().item();
        }
        out.printf(Locale.ROOT, "loss on random tokens: %.4f; -ln(1/%d) = %.4f (every token about equally likely)%n", loss0,
                config.vocabSize(), Math.log(config.vocabSize()));

        out.println("########## DataLoaderLite and " + steps + " AdamW steps (lr 3e-4, B=4, T=32) ##########");
        DataLoaderLite loader = new DataLoaderLite(tok.encode(Datasets.tinyShakespeare()), 4, 32, out);
        AdamW opt = new AdamW(model.parameters(), 3e-4);
        for (int i = 0; i < steps; i++) {
            Batch b = loader.next();
            long t0 = System.nanoTime();
            Tensor loss = model.forward(b.x(), b.y()).loss();
            opt.zeroGrad();
            loss.backward();
            opt.step();
            out.printf(Locale.ROOT, "step %d, loss: %.4f, dt: %.0f ms%n", i, loss.item(), (System.nanoTime() - t0) / 1e6);
        }

        out.println("########## sampling: 5 sequences of 30 tokens, top-k 50 ##########");
        out.println("(this model has seen " + steps * 4 * 32 + " tokens, so expect Shakespeare-flavoured noise; the seed's fluent text comes from OpenAI's weights)");
        int[] prompt = tok.encode("Hello, I'm a language model,");
        Tensor idx = jllm.generate.TextStream.ids(prompt);
        var opts = TextGenerator.Options.of(30).topK(50).seed(42).numReturnSequences(5);
        Tensor outIds = TextGenerator.generate(model, idx, opts);
        for (int r = 0; r < 5; r++) {
            out.println("> " + tok.decode(jllm.generate.TextStream.row(outIds, r)).replace("\n", " "));
        }
    }
}
