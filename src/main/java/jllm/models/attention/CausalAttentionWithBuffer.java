package jllm.models.attention;

import jllm.nn.Dropout;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.UnaryModule;
import jllm.tensor.Tensor;

/**
 * Seed 000's {@code CausalAttentionWithBuffer}: the same attention as
 * {@link CausalAttentionWithoutBuffers}, but the mask is registered with
 * {@code registerBuffer("mask", triu(ones(context_length, context_length), 1))}. So it moves with
 * {@link #to(jllm.tensor.Device)} and is part of {@link #stateDict()}, first, as PyTorch orders it:
 * {@code mask, W_query.weight, W_key.weight, W_value.weight}.
 */
public class CausalAttentionWithBuffer extends Module implements UnaryModule {
    public final int dIn;
    public final int dOut;
    public final int contextLength;
    private final Linear wQuery;
    private final Linear wKey;
    private final Linear wValue;
    private final Dropout dropout;

    public CausalAttentionWithBuffer(int dIn, int dOut, int contextLength, double dropout) {
        this(dIn, dOut, contextLength, dropout, false);
    }

    public CausalAttentionWithBuffer(int dIn, int dOut, int contextLength, double dropout, boolean qkvBias) {
        CausalAttention.checkArgs(dIn, dOut, contextLength, dropout);
        this.dIn = dIn;
        this.dOut = dOut;
        this.contextLength = contextLength;
        this.wQuery = registerModule("W_query", new Linear(dIn, dOut, qkvBias));
        this.wKey = registerModule("W_key", new Linear(dIn, dOut, qkvBias));
        this.wValue = registerModule("W_value", new Linear(dIn, dOut, qkvBias));
        this.dropout = registerModule("dropout", new Dropout(dropout));
        registerBuffer("mask", Tensor.ones(contextLength, contextLength).triu(1));
    }

    public Linear wQuery() { return wQuery; }

    public Linear wKey() { return wKey; }

    public Linear wValue() { return wValue; }

    public Dropout dropout() { return dropout; }

    /** The registered mask buffer (read it here each time: {@code to(...)} replaces the tensor). */
    public Tensor mask() { return buffer("mask"); }

    /** x: [batch, num_tokens, d_in] -> context vectors [batch, num_tokens, d_out]. */
    @Override
    public Tensor forward(Tensor x) {
        return CausalAttention.forward(x, wQuery, wKey, wValue, dropout, mask(), contextLength);
    }
}
