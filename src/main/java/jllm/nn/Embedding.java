package jllm.nn;

import jllm.autograd.Grad;
import jllm.nn.functional.F;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

/** A lookup table, PyTorch's {@code nn.Embedding}: weight [num, dim] ~ N(0, 1), the padding row zero and gradient-free. */
public class Embedding extends Module implements UnaryModule {
    public final int numEmbeddings;
    public final int embeddingDim;
    /** The padding row (normalised to be non-negative), or null. */
    public final Integer paddingIdx;

    public Embedding(int numEmbeddings, int embeddingDim) { this(numEmbeddings, embeddingDim, null); }

    public Embedding(int numEmbeddings, int embeddingDim, Integer paddingIdx) {
        if (paddingIdx != null) {
            if (paddingIdx >= numEmbeddings || paddingIdx < -numEmbeddings) {
                throw new IllegalArgumentException("Embedding: padding_idx " + paddingIdx + " must be within num_embeddings ("
                        + numEmbeddings + ")");
            }
            if (paddingIdx < 0) paddingIdx = numEmbeddings + paddingIdx;
        }
        this.numEmbeddings = numEmbeddings;
        this.embeddingDim = embeddingDim;
        this.paddingIdx = paddingIdx;
        registerParameter("weight", Init.weightMatrix(numEmbeddings, embeddingDim));
        if (!Init.skipping()) resetParameters();
    }

    public Tensor weight() { return parameter("weight"); }

    public void resetParameters() { resetParameters(Generator.defaultGenerator()); }

    public void resetParameters(Generator gen) {
        Init.normal_(weight(), 0, 1, gen);
        if (paddingIdx != null) {
            try (var g = Grad.off()) {
                weight().select(0, paddingIdx).fill_(0);
            }
        }
    }

    /** indices (I64 or I32) of any shape -> [..., dim]. */
    @Override
    public Tensor forward(Tensor indices) { return F.embedding(indices, weight(), paddingIdx); }

    @Override
    public String extraRepr() {
        return numEmbeddings + ", " + embeddingDim + (paddingIdx != null ? ", padding_idx=" + paddingIdx : "");
    }
}
