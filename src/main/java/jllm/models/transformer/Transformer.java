package jllm.models.transformer;

import jllm.models.LanguageModel;
import jllm.nn.Dropout;
import jllm.nn.Embedding;
import jllm.nn.Init;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.ModuleDict;
import jllm.nn.functional.F;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/**
 * The seed-001 encoder-decoder Transformer. Children, with the seed's names: {@code transformer}
 * (a {@link ModuleDict} of {@code wte} {@link Embedding}, {@code wpe} {@link PositionalEncoding},
 * {@code drop} {@link Dropout}, {@code encoder} {@link Encoder}, {@code decoder} {@link Decoder})
 * and {@code lm_head} (a {@link Linear} without bias). Every Linear and Embedding weight starts as
 * N(0, 0.02), biases zero. The token embeddings (plus positions) feed the encoder and, as in the
 * seed, also the decoder, whose cross-attention reads the encoder output.
 *
 * <p>Unlike the seed, construction and forward print nothing; pass a stream to {@link #trace}
 * to get the seed's shape prints ({@code idx torch.Size([2, 128])}, ...).
 */
public class Transformer extends Module implements LanguageModel {
    /** The seed's cross_entropy(..., ignore_index=-1): targets equal to -1 do not count. */
    public static final long IGNORE_INDEX = -1;

    private final ModelArgs args;
    private final ModuleDict transformer;
    private final Embedding wte;
    private final PositionalEncoding wpe;
    private final Dropout drop;
    private final Encoder encoder;
    private final Decoder decoder;
    private final Linear lmHead;
    private PrintStream trace;

    public Transformer(ModelArgs args) { this(args, Generator.defaultGenerator()); }

    /** Weights drawn from gen (the layers' own default init runs first, from the default generator, as in PyTorch). */
    public Transformer(ModelArgs args, Generator gen) {
        this.args = args;
        this.transformer = registerModule("transformer", new ModuleDict());
        this.wte = transformer.put("wte", new Embedding(args.vocabSize(), args.nEmbd()));
        this.wpe = transformer.put("wpe", new PositionalEncoding(args));
        this.drop = transformer.put("drop", new Dropout(args.dropout()));
        this.encoder = transformer.put("encoder", new Encoder(args));
        this.decoder = transformer.put("decoder", new Decoder(args));
        this.lmHead = registerModule("lm_head", new Linear(args.nEmbd(), args.vocabSize(), false));
        apply(m -> initWeights(m, gen));
    }

    private static void initWeights(Module module, Generator gen) {
        if (module instanceof Linear l) {
            Init.normal_(l.weight(), 0.0, 0.02, gen);
            if (l.bias() != null) Init.zeros_(l.bias());
        } else if (module instanceof Embedding e) {
            Init.normal_(e.weight(), 0.0, 0.02, gen);
        }
    }

    public ModelArgs args() { return args; }

    public Embedding wte() { return wte; }

    public PositionalEncoding wpe() { return wpe; }

    public Encoder encoder() { return encoder; }

    public Decoder decoder() { return decoder; }

    public Linear lmHead() { return lmHead; }

    /** Prints the seed's shape trace on out during forward (null: silent, the default). Returns this. */
    public Transformer trace(PrintStream out) {
        this.trace = out;
        return this;
    }

    /**
     * The seed's {@code get_num_params}. With nonEmbedding the seed subtracts
     * {@code transformer.wpe.weight}, which does not exist (PyTorch raises AttributeError): the
     * positional encoding is a buffer and has no parameters, so nothing is subtracted here.
     */
    public long getNumParams(boolean nonEmbedding) { return numParameters(); }

    public long getNumParams() { return getNumParams(false); }

    /** The line the seed's constructor prints, e.g. {@code number of parameters: 13.00M}. */
    public String parameterCountLine() {
        return String.format(Locale.ROOT, "number of parameters: %.2fM", getNumParams() / 1e6);
    }

    @Override
    public int blockSize() { return args.blockSize(); }

    @Override
    public int vocabSize() { return args.vocabSize(); }

    @Override
    public boolean lastPositionOnlyInInference() { return true; }

    /**
     * idx: integer token ids [B, T], T <= block_size. With targets ([B, T], -1 = ignore): logits
     * [B, T, V] and the mean cross-entropy. Without: logits of the last position [B, 1, V], loss null.
     */
    @Override
    public Output forward(Tensor idx, Tensor targets) {
        if (idx.dim() != 2 || idx.dtype().isFloatingPoint() || idx.dtype() == DType.BOOL) {
            throw new IllegalArgumentException("idx must be integer token ids of shape [batch, seq_len], got " + idx.dtype().torchName() + " "
                    + Arrays.toString(idx.shape()));
        }
        int t = idx.size(1);
        if (t > args.blockSize()) {
            throw new IllegalArgumentException("cannot forward a sequence of length " + t + ": the block size is only " + args.blockSize());
        }
        if (targets != null && !Arrays.equals(targets.shape(), idx.shape())) {
            throw new IllegalArgumentException("targets shape " + Arrays.toString(targets.shape()) + " differs from idx shape "
                    + Arrays.toString(idx.shape()));
        }
        trace("idx", idx);
        Tensor tokEmb = wte.forward(idx);
        trace("tok_emb", tokEmb);
        Tensor posEmb = wpe.forward(tokEmb);
        Tensor x = drop.forward(posEmb);
        trace("x after wpe:", x);
        Tensor encOut = encoder.forward(x);
        trace("enc_out:", encOut);
        x = decoder.forward(x, encOut);
        trace("x after decoder:", x);
        if (targets != null) {
            Tensor logits = lmHead.forward(x);
            Tensor loss = F.crossEntropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1), IGNORE_INDEX, F.Reduction.MEAN, 0.0);
            return new Output(logits, loss);
        }
        Tensor logits = lmHead.forward(x.slice(1, t - 1, t)); // keeps the time dim, like x[:, [-1], :]
        return new Output(logits, null);
    }

    private void trace(String label, Tensor t) {
        if (trace != null) trace.println(label + " " + torchSize(t.shape()));
    }

    /** PyTorch's {@code torch.Size([2, 128])} rendering of a shape. */
    public static String torchSize(int[] shape) {
        StringBuilder sb = new StringBuilder("torch.Size([");
        for (int i = 0; i < shape.length; i++) sb.append(i > 0 ? ", " : "").append(shape[i]);
        return sb.append("])").toString();
    }
}
