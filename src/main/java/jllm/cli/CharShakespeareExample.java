package jllm.cli;

import jllm.data.Batch;
import jllm.data.Datasets;
import jllm.data.RandomBatcher;
import jllm.data.TrainValSplit;
import jllm.generate.TextGenerator;
import jllm.models.gpt.CharGPT;
import jllm.models.gpt.CharGPTConfig;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.tokenizer.CharTokenizer;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * {@code jllm examples char-shakespeare}: seed 003's character-level GPTLanguageModel: the
 * vocabulary, encode/decode, the 90/10 split, get_batch, the 10.79M-parameter model, its loss before
 * training and a sample; training it is {@code jllm train --preset seed003}.
 */
final class CharShakespeareExample {
    private CharShakespeareExample() {}

    static void run(PrintStream out) { run(out, CharGPTConfig.SEED003, 200); }

    static void run(PrintStream out, CharGPTConfig config, int sampleChars) {
        out.println("Seed 003: a character-level GPT on Tiny Shakespeare");
        String text = Datasets.tinyShakespeare();
        CharTokenizer tok = CharTokenizer.fromText(text);
        out.println("length of dataset in characters: " + text.length());
        out.println("vocabulary: " + String.join("", tok.chars()).replace("\n", "\\n"));
        out.println("vocab size: " + tok.vocabSize());
        out.println("encode(\"hii there\") = " + Arrays.toString(tok.encode("hii there")));
        out.println("decode(encode(\"hii there\")) = " + tok.decode(tok.encode("hii there")));
        TrainValSplit split = TrainValSplit.of(tok.encode(text));
        out.printf(Locale.ROOT, "train %,d tokens, val %,d tokens (90/10)%n", split.train().length, split.val().length);

        Generator.manualSeed(1337);
        Batch b = new RandomBatcher(split.train()).sample(config.batchSize(), config.blockSize(), new Generator(1337));
        out.println("get_batch('train'): x " + Arrays.toString(b.x().shape()) + ", y " + Arrays.toString(b.y().shape()));

        CharGPT model = new CharGPT(config.withVocabSize(tok.vocabSize()));
        out.println(model);
        out.printf(Locale.ROOT, "%.6f M parameters%n", model.numParameters() / 1e6);
        model.eval();
        double loss;
        try (var g = jllm.autograd.Grad.off()) {
            loss = model.forward(b.x(), b.y()).loss().item();
        }
        out.printf(Locale.ROOT, "loss before training: %.4f (ln(%d) = %.4f)%n", loss, tok.vocabSize(), Math.log(tok.vocabSize()));
        Tensor start = Tensor.zeros(new int[] {1, 1}, jllm.tensor.DType.I64, jllm.tensor.Device.CPU);
        Tensor ids = TextGenerator.generate(model, start, TextGenerator.Options.of(sampleChars).seed(1337));
        out.println("an untrained sample (generate from token 0, '\\n'):");
        out.println(tok.decode(jllm.generate.TextStream.row(ids, 0)));
        out.println("train it with: ./jllm train --preset seed003   (or the quick CPU recipe: ./jllm train)");
    }
}
