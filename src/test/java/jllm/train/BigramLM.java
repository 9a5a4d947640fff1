package jllm.train;

import jllm.models.LanguageModel;
import jllm.nn.Dropout;
import jllm.nn.Embedding;
import jllm.nn.Module;
import jllm.nn.functional.F;
import jllm.tensor.Tensor;

/**
 * Karpathy's bigram language model, the smallest {@link LanguageModel}: each token reads the
 * logits of the next one from a [V, V] table; plus a bias [V] (a 1-D parameter, for the no-decay
 * group) and dropout on the logits (to exercise the default generator).
 */
final class BigramLM extends Module implements LanguageModel {
    final Embedding table;
    final Dropout dropout;
    private final int vocab, block;
    /** The module's training flag at each forward call (tests check dropout on/off). */
    final java.util.List<Boolean> modes = new java.util.ArrayList<>();

    BigramLM(int vocab, int block, double dropoutP) {
        this.vocab = vocab;
        this.block = block;
        table = registerModule("token_embedding_table", new Embedding(vocab, vocab));
        registerParameter("bias", Tensor.zeros(vocab));
        dropout = registerModule("dropout", new Dropout(dropoutP));
    }

    @Override
    public Output forward(Tensor idx, Tensor targets) {
        modes.add(isTraining() && dropout.isTraining());
        Tensor logits = dropout.forward(table.forward(idx).add(parameter("bias")));
        if (targets == null) return new Output(logits, null);
        int n = idx.shape()[0] * idx.shape()[1];
        Tensor loss = F.crossEntropy(logits.reshape(n, vocab), targets.reshape(n));
        return new Output(logits, loss);
    }

    @Override
    public int blockSize() { return block; }

    @Override
    public int vocabSize() { return vocab; }
}
