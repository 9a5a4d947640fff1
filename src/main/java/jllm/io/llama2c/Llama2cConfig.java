package jllm.io.llama2c;

/**
 * The hyperparameters in a llama2.c checkpoint header.
 *
 * @param version          0 for the legacy header, 1 for export.py's fp32 "ak42" header
 * @param vocabSize        always positive here; the legacy file's negative sign is {@code sharedClassifier == false}
 * @param sharedClassifier whether the classifier reuses the token embedding (no separate wcls)
 */
public record Llama2cConfig(int version, int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads,
                            int vocabSize, int seqLen, boolean sharedClassifier) {

    public Llama2cConfig {
        if (dim <= 0 || hiddenDim <= 0 || nLayers <= 0 || nHeads <= 0 || nKvHeads <= 0 || vocabSize <= 0 || seqLen <= 0) {
            throw new IllegalArgumentException("every llama2.c hyperparameter must be positive: " + describe(
                    dim, hiddenDim, nLayers, nHeads, nKvHeads, vocabSize, seqLen));
        }
        if (dim % nHeads != 0) {
            throw new IllegalArgumentException("dim " + dim + " is not a multiple of n_heads " + nHeads);
        }
        if (nHeads % nKvHeads != 0) {
            throw new IllegalArgumentException("n_heads " + nHeads + " is not a multiple of n_kv_heads " + nKvHeads);
        }
        // RoPE rotates pairs of a head's dimensions, so the q/k permutation needs an even head size.
        if ((dim / nHeads) % 2 != 0) {
            throw new IllegalArgumentException("head size " + dim / nHeads + " (dim " + dim + " / n_heads " + nHeads + ") must be even");
        }
    }

    public int headSize() {
        return dim / nHeads;
    }

    public int kvDim() {
        return nKvHeads * headSize();
    }

    static String describe(int dim, int hiddenDim, int nLayers, int nHeads, int nKvHeads, int vocabSize, int seqLen) {
        return "dim=" + dim + " hidden_dim=" + hiddenDim + " n_layers=" + nLayers + " n_heads=" + nHeads
                + " n_kv_heads=" + nKvHeads + " vocab_size=" + vocabSize + " seq_len=" + seqLen;
    }
}
