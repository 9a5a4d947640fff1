package jllm.cli;

import jllm.models.LanguageModel;
import jllm.models.transformer.ModelArgs;
import jllm.models.transformer.Transformer;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.io.PrintStream;
import java.util.Locale;

/**
 * {@code jllm examples transformer}: seed 001's {@code __main__}: the demo-size encoder-decoder
 * Transformer, printed, then one training forward (loss) and one inference forward (last-position logits).
 */
final class TransformerExample {
    private TransformerExample() {}

    static void run(PrintStream out) { run(out, ModelArgs.demo()); }

    static void run(PrintStream out, ModelArgs args) {
        out.println("Seed 001: happy-llm encoder-decoder Transformer");
        out.println("args: " + args);
        Generator.manualSeed(0);
        Transformer model = new Transformer(args);
        out.println(model.parameterCountLine() + " (" + String.format(Locale.ROOT, "%,d", model.getNumParams()) + ")");
        out.println(model);
        model.trace(out);

        out.println("########## Training ##########");
        Tensor target = Tensor.randint(0, args.vocabSize(), new int[] {2, args.blockSize()});
        LanguageModel.Output train = model.forward(target, target);
        out.println("Training logits shape: " + Transformer.torchSize(train.logits().shape()));
        out.println(String.format(Locale.ROOT, "loss: %.4f (ln(vocab_size) = ln(%d) = %.4f: the loss of uniform guessing)", train.loss().item(),
                args.vocabSize(), Math.log(args.vocabSize())));

        out.println("########## Inference ##########");
        model.eval();
        Tensor idx = Tensor.randint(0, args.vocabSize(), new int[] {2, args.blockSize()});
        LanguageModel.Output inference;
        try (var g = jllm.autograd.Grad.off()) {
            inference = model.forward(idx, null);
        }
        out.println("Inference logits shape: " + Transformer.torchSize(inference.logits().shape())
                + " (batch, the last position only, vocab)");
        out.println("loss: " + (inference.loss() == null ? "None" : inference.loss().item()));
        long next = inference.logits().argmax(-1, false).toLongArray()[0];
        out.println("most likely next token of sequence 0: " + next);
    }
}
