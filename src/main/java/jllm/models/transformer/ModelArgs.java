package jllm.models.transformer;

/**
 * The seed's {@code Args}: every size of the {@link Transformer}. The seed has both {@code n_embd}
 * (embeddings, norms, MLP) and {@code dim} (attention); the residual additions need them equal,
 * so this record insists. {@code max_seq_len} sizes the decoder's causal mask and
 * {@code block_size} the positional table and the longest accepted input.
 */
public record ModelArgs(int vocabSize, int blockSize, int nEmbd, double dropout, int nLayer, int nHeads, int dim, int hiddenDim,
                        int maxSeqLen) {

    public ModelArgs {
        check("vocab_size", vocabSize);
        check("block_size", blockSize);
        check("n_embd", nEmbd);
        check("n_layer", nLayer);
        check("n_heads", nHeads);
        check("dim", dim);
        check("hidden_dim", hiddenDim);
        check("max_seq_len", maxSeqLen);
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("dropout must be in [0, 1), got " + dropout);
        if (dim % nHeads != 0) throw new IllegalArgumentException("dim (" + dim + ") must be a multiple of n_heads (" + nHeads + ")");
        if (dim != nEmbd) {
            throw new IllegalArgumentException("dim (" + dim + ") must equal n_embd (" + nEmbd
                    + "): attention outputs (dim wide) are added to the n_embd-wide residual stream");
        }
        if (nEmbd % 2 != 0) {
            throw new IllegalArgumentException("n_embd (" + nEmbd + ") must be even: the positional encoding interleaves sin and cos columns");
        }
    }

    private static void check(String name, int v) {
        if (v <= 0) throw new IllegalArgumentException(name + " must be positive, got " + v);
    }

    /** The seed's {@code __main__} demo: vocab 10000, block 128, 256 wide, 6 layers, 8 heads, MLP 512, dropout 0.1. */
    public static ModelArgs demo() {
        return new ModelArgs(10000, 128, 256, 0.1, 6, 8, 256, 512, 128);
    }

    /** dim = n_embd and max_seq_len = block_size, as in the seed's demo. */
    public static ModelArgs of(int vocabSize, int blockSize, int nEmbd, int nLayer, int nHeads, int hiddenDim, double dropout) {
        return new ModelArgs(vocabSize, blockSize, nEmbd, dropout, nLayer, nHeads, nEmbd, hiddenDim, blockSize);
    }

    public ModelArgs withDropout(double p) {
        return new ModelArgs(vocabSize, blockSize, nEmbd, p, nLayer, nHeads, dim, hiddenDim, maxSeqLen);
    }

    public int headDim() { return dim / nHeads; }
}
