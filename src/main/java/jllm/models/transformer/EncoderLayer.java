package jllm.models.transformer;

import jllm.nn.Module;
import jllm.nn.UnaryModule;
import jllm.tensor.Tensor;

/** Pre-norm encoder layer: {@code h = x + attention(norm(x))}, {@code out = h + feed_forward(fnn_norm(h))}. */
public class EncoderLayer extends Module implements UnaryModule {
    private final LayerNorm attentionNorm;
    private final MultiHeadAttention attention;
    private final LayerNorm fnnNorm;
    private final MLP feedForward;

    public EncoderLayer(ModelArgs args) {
        this.attentionNorm = registerModule("attention_norm", new LayerNorm(args.nEmbd()));
        this.attention = registerModule("attention", new MultiHeadAttention(args, false));
        this.fnnNorm = registerModule("fnn_norm", new LayerNorm(args.nEmbd()));
        this.feedForward = registerModule("feed_forward", new MLP(args.nEmbd(), args.hiddenDim(), args.dropout()));
    }

    public MultiHeadAttention attention() { return attention; }

    public MLP feedForward() { return feedForward; }

    @Override
    public Tensor forward(Tensor x) {
        Tensor normX = attentionNorm.forward(x);
        Tensor h = x.add(attention.forward(normX, normX, normX));
        return h.add(feedForward.forward(fnnNorm.forward(h)));
    }
}
