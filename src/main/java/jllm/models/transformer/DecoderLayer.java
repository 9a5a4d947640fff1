package jllm.models.transformer;

import jllm.nn.Module;
import jllm.tensor.Tensor;

/**
 * Decoder layer: masked (causal) self-attention, then attention whose keys and values are the
 * encoder output, then the MLP, each pre-normed with a residual add.
 */
public class DecoderLayer extends Module {
    private final LayerNorm attentionNorm1;
    private final MultiHeadAttention maskAttention;
    private final LayerNorm attentionNorm2;
    private final MultiHeadAttention attention;
    private final LayerNorm ffnNorm;
    private final MLP feedForward;

    public DecoderLayer(ModelArgs args) {
        this.attentionNorm1 = registerModule("attention_norm_1", new LayerNorm(args.nEmbd()));
        this.maskAttention = registerModule("mask_attention", new MultiHeadAttention(args, true));
        this.attentionNorm2 = registerModule("attention_norm_2", new LayerNorm(args.nEmbd()));
        this.attention = registerModule("attention", new MultiHeadAttention(args, false));
        this.ffnNorm = registerModule("ffn_norm", new LayerNorm(args.nEmbd()));
        this.feedForward = registerModule("feed_forward", new MLP(args.nEmbd(), args.hiddenDim(), args.dropout()));
    }

    public MultiHeadAttention maskAttention() { return maskAttention; }

    public MultiHeadAttention attention() { return attention; }

    public MLP feedForward() { return feedForward; }

    /** x: decoder stream [B, T, n_embd]; encOut: encoder output [B, S, n_embd]. */
    public Tensor forward(Tensor x, Tensor encOut) {
        Tensor normX = attentionNorm1.forward(x);
        x = x.add(maskAttention.forward(normX, normX, normX));
        normX = attentionNorm2.forward(x);
        Tensor h = x.add(attention.forward(normX, encOut, encOut));
        return h.add(feedForward.forward(ffnNorm.forward(h)));
    }
}
