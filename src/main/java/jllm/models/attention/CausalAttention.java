package jllm.models.attention;

import jllm.nn.Dropout;
import jllm.nn.Linear;
import jllm.tensor.DType;
import jllm.tensor.Tensor;
import java.util.Arrays;

/** The forward pass both seed-000 modules share; only the mask's home differs between them. */
final class CausalAttention {
    private CausalAttention() {}

    static void checkArgs(int dIn, int dOut, int contextLength, double dropout) {
        if (dIn <= 0 || dOut <= 0 || contextLength <= 0) {
            throw new IllegalArgumentException("d_in, d_out and context_length must be positive, got d_in=" + dIn + ", d_out=" + dOut
                    + ", context_length=" + contextLength);
        }
        if (!(dropout >= 0 && dropout <= 1)) throw new IllegalArgumentException("dropout must be in [0, 1], got " + dropout);
    }

    /** The seed's forward, line by line; mask is 1 (or any non-zero) where a query must not see a key. */
    static Tensor forward(Tensor x, Linear wQuery, Linear wKey, Linear wValue, Dropout dropout, Tensor mask, int contextLength) {
        if (x.dim() != 3) {
            throw new IllegalArgumentException("expected input of shape [batch, num_tokens, d_in], got " + Arrays.toString(x.shape()));
        }
        int numTokens = x.size(1);
        if (numTokens > contextLength) {
            throw new IllegalArgumentException("input has " + numTokens + " tokens but the mask covers context_length=" + contextLength);
        }
        Tensor keys = wKey.forward(x);
        Tensor queries = wQuery.forward(x);
        Tensor values = wValue.forward(x);

        Tensor attnScores = queries.matmul(keys.transpose(1, 2));
        attnScores.maskedFill_(mask.to(DType.BOOL).slice(0, 0, numTokens).slice(1, 0, numTokens), Double.NEGATIVE_INFINITY);
        Tensor attnWeights = attnScores.div(Math.sqrt(keys.size(-1))).softmax(-1);
        attnWeights = dropout.forward(attnWeights);
        return attnWeights.matmul(values);
    }
}
