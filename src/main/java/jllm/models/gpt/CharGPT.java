package jllm.models.gpt;

import jllm.models.CausalLM;
import jllm.models.KVCache;
import jllm.models.StepCache;
import jllm.nn.Dropout;
import jllm.nn.Embedding;
import jllm.nn.Init;
import jllm.nn.LayerNorm;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.ModuleList;
import jllm.nn.ReLU;
import jllm.nn.Sequential;
import jllm.nn.UnaryModule;
import jllm.nn.functional.F;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Seed 003's character-level {@code GPTLanguageModel}: separate attention {@code Head}s (each
 * with key/query/value and a registered {@code tril} buffer) concatenated by
 * {@code MultiHeadAttention}, a ReLU {@code FeedFoward} (the seed's spelling), post-block
 * LayerNorms {@code ln1}/{@code ln2} applied pre-residual, and an untied lm_head with bias.
 * Names and printing match the seed's PyTorch module; the type prints as GPTLanguageModel. With
 * a KV cache (generation) the heads of a layer attend together over their cached keys and values,
 * the same computation as the seed's per-head loop.
 */
public class CharGPT extends CausalLM {
    private final CharGPTConfig config;
    public final Embedding tokenEmbeddingTable;
    public final Embedding positionEmbeddingTable;
    public final Sequential blocks;
    public final LayerNorm lnF;
    public final Linear lmHead;

    public CharGPT(CharGPTConfig config) { this(config, Generator.defaultGenerator()); }

    public CharGPT(CharGPTConfig config, Generator gen) {
        this.config = config;
        // one lower-triangular tensor behind every head's 'tril' buffer
        Tensor tril = Tensor.ones(config.blockSize(), config.blockSize()).tril(0);
        tokenEmbeddingTable = registerModule("token_embedding_table", new Embedding(config.vocabSize(), config.nEmbd()));
        positionEmbeddingTable = registerModule("position_embedding_table", new Embedding(config.blockSize(), config.nEmbd()));
        Sequential seq = new Sequential();
        for (int i = 0; i < config.nLayer(); i++) seq.add(new Block(config, tril));
        blocks = registerModule("blocks", seq);
        lnF = registerModule("ln_f", new LayerNorm(config.nEmbd()));
        lmHead = registerModule("lm_head", new Linear(config.nEmbd(), config.vocabSize()));
        initWeights(gen);
    }

    public CharGPTConfig config() { return config; }

    /** jllm's name for the family (it has no Hugging Face format). */
    public static final String MODEL_TYPE = "char_gpt";

    @Override
    public String modelType() { return MODEL_TYPE; }

    @Override
    public String typeName() { return "GPTLanguageModel"; }

    /** The seed's {@code _init_weights}: Linear N(0, 0.02) with zero bias, Embedding N(0, 0.02); LayerNorm keeps 1/0. */
    public void initWeights(Generator gen) {
        apply(m -> {
            if (m instanceof Linear l) {
                Init.normal_(l.weight(), 0.0, 0.02, gen);
                if (l.bias() != null) Init.zeros_(l.bias());
            } else if (m instanceof Embedding e) {
                Init.normal_(e.weight(), 0.0, 0.02, gen);
            }
        });
    }

    @Override
    protected Geometry geometry() { return config.geometry(); }

    /** Token plus position embeddings, the blocks, ln_f (the seed's forward before lm_head). */
    @Override
    protected Tensor hiddenStates(Tensor idx, StepCache cache) {
        int t = idx.size(1);
        Tensor pos = cache == null ? Tensor.arange(0, t, 1, idx.device()) : cache.positions(t, idx.device());
        Tensor x = tokenEmbeddingTable.forward(idx).add(positionEmbeddingTable.forward(pos));
        if (cache == null) {
            x = blocks.forward(x);
        } else {
            int layer = 0;
            for (Module b : blocks) x = ((Block) b).forward(x, cache, layer++);
        }
        return lnF.forward(x);
    }

    // ------------------------------------------------------------------ modules

    /** One head of self-attention. */
    public static class Head extends Module implements UnaryModule {
        public final Linear key, query, value;
        public final Dropout dropout;

        Head(CharGPTConfig c, Tensor tril) {
            int hs = c.headSize();
            key = registerModule("key", new Linear(c.nEmbd(), hs, false));
            query = registerModule("query", new Linear(c.nEmbd(), hs, false));
            value = registerModule("value", new Linear(c.nEmbd(), hs, false));
            registerBuffer("tril", tril);
            dropout = registerModule("dropout", new Dropout(c.dropout()));
        }

        /** x [B, T, C] -> [B, T, head_size]. */
        @Override
        public Tensor forward(Tensor x) {
            int t = x.size(1);
            Tensor k = key.forward(x), q = query.forward(x), v = value.forward(x);
            if (!isTraining() || dropout.p == 0) return F.scaledDotProductAttention(q, k, v, true);
            // the seed's explicit path, needed for dropout on the attention weights
            Tensor wei = q.matmul(k.transpose(-2, -1)).mul(Math.pow(k.size(-1), -0.5));
            Tensor keep = buffer("tril").narrow(0, 0, t).narrow(1, 0, t).eq(0);
            wei = dropout.forward(wei.maskedFill(keep, Double.NEGATIVE_INFINITY).softmax(-1));
            return wei.matmul(v);
        }
    }

    /** Heads in parallel, concatenated, projected. */
    public static class MultiHeadAttention extends Module implements UnaryModule {
        public final ModuleList heads;
        public final Linear proj;
        public final Dropout dropout;

        MultiHeadAttention(CharGPTConfig c, Tensor tril) {
            List<Module> hs = new ArrayList<>();
            for (int i = 0; i < c.nHead(); i++) hs.add(new Head(c, tril));
            heads = registerModule("heads", new ModuleList(hs));
            proj = registerModule("proj", new Linear(c.headSize() * c.nHead(), c.nEmbd()));
            dropout = registerModule("dropout", new Dropout(c.dropout()));
        }

        @Override
        public Tensor forward(Tensor x) {
            List<Tensor> outs = new ArrayList<>();
            for (Module h : heads) outs.add(((Head) h).forward(x));
            return dropout.forward(proj.forward(Tensor.cat(outs, -1)));
        }

        /** With a cache: every head's q, k, v stacked to [B, H, T, hs], attended at once, concatenated in head order. */
        Tensor forward(Tensor x, StepCache cache, int layer) {
            int b = x.size(0), t = x.size(1);
            List<Tensor> qs = new ArrayList<>(), ks = new ArrayList<>(), vs = new ArrayList<>();
            for (Module m : heads) {
                Head h = (Head) m;
                qs.add(h.query.forward(x));
                ks.add(h.key.forward(x));
                vs.add(h.value.forward(x));
            }
            Tensor y = cache.attend(layer, Tensor.stack(qs, 1), Tensor.stack(ks, 1), Tensor.stack(vs, 1),
                    (q, k, v, past) -> KVCache.attention(q, k, v, past, false));
            return dropout.forward(proj.forward(y.transpose(1, 2).contiguous().view(b, t, -1)));
        }
    }

    /** Linear(n, 4n), ReLU, Linear(4n, n), Dropout. */
    public static class FeedFoward extends Module implements UnaryModule {
        public final Sequential net;

        FeedFoward(CharGPTConfig c) {
            net = registerModule("net", new Sequential(new Linear(c.nEmbd(), 4 * c.nEmbd()), new ReLU(),
                    new Linear(4 * c.nEmbd(), c.nEmbd()), new Dropout(c.dropout())));
        }

        @Override
        public Tensor forward(Tensor x) { return net.forward(x); }
    }

    /** Communication then computation: x + sa(ln1(x)), x + ffwd(ln2(x)). */
    public static class Block extends Module implements UnaryModule {
        public final MultiHeadAttention sa;
        public final FeedFoward ffwd;
        public final LayerNorm ln1, ln2;

        Block(CharGPTConfig c, Tensor tril) {
            sa = registerModule("sa", new MultiHeadAttention(c, tril));
            ffwd = registerModule("ffwd", new FeedFoward(c));
            ln1 = registerModule("ln1", new LayerNorm(c.nEmbd()));
            ln2 = registerModule("ln2", new LayerNorm(c.nEmbd()));
        }

        @Override
        public Tensor forward(Tensor x) {
            x = x.add(sa.forward(ln1.forward(x)));
            return x.add(ffwd.forward(ln2.forward(x)));
        }

        Tensor forward(Tensor x, StepCache cache, int layer) {
            x = x.add(sa.forward(ln1.forward(x), cache, layer));
            return x.add(ffwd.forward(ln2.forward(x)));
        }
    }
}
