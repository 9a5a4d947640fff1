package jllm.models.attention;

import jllm.nn.Dropout;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.UnaryModule;
import jllm.tensor.Tensor;

/**
 * Seed 000's {@code CausalAttentionWithoutBuffers}: causal single-head self-attention whose mask
 * {@code triu(ones(context_length, context_length), diagonal=1)} is a plain field, not a buffer.
 * The point of the class is what goes wrong: {@link #to(jllm.tensor.Device)} moves the weights but
 * leaves {@link #mask} where it was (so the forward pass fails on another device until you move it
 * by hand), and {@link #stateDict()} holds only {@code W_query.weight}, {@code W_key.weight} and
 * {@code W_value.weight}, so a changed mask is not saved.
 */
public class CausalAttentionWithoutBuffers extends Module implements UnaryModule {
    public final int dIn;
    public final int dOut;
    public final int contextLength;
    private final Linear wQuery;
    private final Linear wKey;
    private final Linear wValue;
    private final Dropout dropout;

    /** The mask, deliberately an ordinary field (PyTorch's {@code self.mask = ...}); F32, 1 above the diagonal. */
    public Tensor mask;

    public CausalAttentionWithoutBuffers(int dIn, int dOut, int contextLength, double dropout) {
        this(dIn, dOut, contextLength, dropout, false);
    }

    public CausalAttentionWithoutBuffers(int dIn, int dOut, int contextLength, double dropout, boolean qkvBias) {
        CausalAttention.checkArgs(dIn, dOut, contextLength, dropout);
        this.dIn = dIn;
        this.dOut = dOut;
        this.contextLength = contextLength;
        this.wQuery = registerModule("W_query", new Linear(dIn, dOut, qkvBias));
        this.wKey = registerModule("W_key", new Linear(dIn, dOut, qkvBias));
        this.wValue = registerModule("W_value", new Linear(dIn, dOut, qkvBias));
        this.dropout = registerModule("dropout", new Dropout(dropout));
        this.mask = Tensor.ones(contextLength, contextLength).triu(1);
    }

    public Linear wQuery() { return wQuery; }

    public Linear wKey() { return wKey; }

    public Linear wValue() { return wValue; }

    public Dropout dropout() { return dropout; }

    /** x: [batch, num_tokens, d_in] -> context vectors [batch, num_tokens, d_out]. */
    @Override
    public Tensor forward(Tensor x) {
        return CausalAttention.forward(x, wQuery, wKey, wValue, dropout, mask, contextLength);
    }
}
