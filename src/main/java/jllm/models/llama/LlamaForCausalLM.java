package jllm.models.llama;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.autograd.Grad;
import jllm.io.hf.HfException;
import jllm.models.PretrainedCausalLM;
import jllm.models.KVCache;
import jllm.models.StepCache;
import jllm.models.PretrainedModel;
import jllm.nn.Embedding;
import jllm.nn.GELU;
import jllm.nn.Init;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.ModuleList;
import jllm.nn.RMSNorm;
import jllm.nn.SiLU;
import jllm.nn.UnaryModule;
import jllm.nn.functional.F;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Llama as transformers' modeling_llama.py builds it: token embedding, decoder layers of
 * pre-RMSNorm grouped-query attention with rotary position embeddings and a SwiGLU MLP, a final
 * RMSNorm and an lm_head (the embedding itself when tie_word_embeddings). Module names are
 * transformers' ({@code model.layers.0.self_attn.q_proj.weight}, ...) and the module tree prints
 * as transformers prints it. The rotary inv_freq is a non-persistent buffer, as in transformers, so
 * {@link #stateDict()} holds exactly the checkpoint's keys.
 *
 * <p>Every layer runs through {@link Module#forwardChild}, so a LoRA layer registered in a
 * projection's place is the one that runs.
 */
public class LlamaForCausalLM extends PretrainedCausalLM {
    private final LlamaConfig config;
    private final double finalSoftcap;
    public final LlamaModel model;

    /**
     * What a family built on this decoder changes in it, each switch as transformers' modeling file
     * of that family has it:
     *
     * @param qkvBias        biases on q, k and v (Llama's attention_bias; Qwen2 always)
     * @param oBias          a bias on o_proj (Llama's attention_bias)
     * @param qkNorm         an RMSNorm over each head of q and k before RoPE (Qwen3)
     * @param slidingWindows each layer's sliding window, 0 = full causal attention (Mistral, Qwen, Gemma 2)
     * @param gemma          Gemma's RMSNorm scaled by (1 + weight) with zero init, embeddings times
     *                       sqrt(hidden_size), and a tanh-GELU MLP
     * @param sandwichNorms  Gemma 2's norms after attention and around the MLP (pre- and post-feedforward)
     * @param attnScale      the attention's scale; null = 1/sqrt(head_dim) (Gemma 2: query_pre_attn_scalar^-0.5)
     * @param attnSoftcap    attention logits become tanh(s / cap) * cap (Gemma 2); 0 = off
     * @param finalSoftcap   the same on the output logits (Gemma 2); 0 = off
     * @param fused          q, k, v in one qkv_proj and gate, up in one gate_up_proj, rows in that order (Phi-3)
     */
    public record Variant(boolean qkvBias, boolean oBias, boolean qkNorm, int[] slidingWindows, boolean gemma, boolean sandwichNorms,
                          Double attnScale, double attnSoftcap, double finalSoftcap, boolean fused) {
        public Variant {
            slidingWindows = slidingWindows.clone();
        }

        /** Llama's own decoder. */
        public static Variant llama(LlamaConfig c) {
            return new Variant(c.attentionBias(), c.attentionBias(), false, new int[c.numHiddenLayers()], false, false, null, 0, 0, false);
        }

        /** Llama's switches for biases, q/k norms and windows, the rest Llama's. */
        public static Variant of(boolean qkvBias, boolean oBias, boolean qkNorm, int[] slidingWindows) {
            return new Variant(qkvBias, oBias, qkNorm, slidingWindows, false, false, null, 0, 0, false);
        }

        /** The window of layer i (0 = full causal attention). */
        public int window(int layer) { return slidingWindows[layer]; }

        /** Every layer with the same window. */
        public static int[] windows(int layers, int window) {
            int[] w = new int[layers];
            Arrays.fill(w, window);
            return w;
        }
    }

    /** Builds and initialises with the default generator. */
    public LlamaForCausalLM(LlamaConfig config) { this(config, Generator.defaultGenerator()); }

    /** Builds and initialises as transformers' _init_weights; gen null skips it (the weights are about to be loaded). */
    public LlamaForCausalLM(LlamaConfig config, Generator gen) { this(config, Variant.llama(config), gen); }

    /** A decoder of another Llama-style family. */
    protected LlamaForCausalLM(LlamaConfig config, Variant variant, Generator gen) {
        this.config = config;
        this.finalSoftcap = variant.finalSoftcap();
        model = registerModule("model", new LlamaModel(config, variant));
        // tie_word_embeddings: one tensor under both names, as transformers' tie_weights
        registerModule("lm_head", config.tieWordEmbeddings() ? Linear.sharing(model.embedTokens.weight())
                : new Linear(config.hiddenSize(), config.vocabSize(), false));
        if (gen != null) initWeights(gen);
    }

    public LlamaConfig config() { return config; }

    /** transformers' _init_weights: Linear and Embedding weights N(0, initializer_range), biases 0, RMSNorm weights 1. */
    public void initWeights(Generator gen) {
        double std = config.initializerRange();
        Set<Tensor> done = Collections.newSetFromMap(new IdentityHashMap<>());
        apply(m -> {
            if (m instanceof Linear l) {
                if (done.add(l.weight())) Init.normal_(l.weight(), 0.0, std, gen);
                if (l.bias() != null) Init.zeros_(l.bias());
            } else if (m instanceof Embedding e) {
                if (done.add(e.weight())) Init.normal_(e.weight(), 0.0, std, gen);
            } else if (m instanceof RMSNorm n) {
                n.resetParameters();
            } else if (m instanceof GemmaRMSNorm n) {
                Init.zeros_(n.weight());
            }
        });
    }

    public LlamaDecoderLayer layer(int i) { return (LlamaDecoderLayer) model.layers.get(i); }

    @Override
    protected Geometry geometry() {
        return new Geometry(config.maxPositionEmbeddings(), config.vocabSize(), config.numHiddenLayers(), config.numKeyValueHeads(), config.headDim());
    }

    @Override
    protected Tensor hiddenStates(Tensor idx, StepCache cache) { return model.forward(idx, cache); }

    /** The lm_head, then Gemma 2's final soft-capping when set. */
    @Override
    protected Tensor logits(Tensor hidden) {
        Tensor l = super.logits(hidden);
        return finalSoftcap > 0 ? softcap(l, finalSoftcap) : l;
    }

    /** tanh(x / cap) * cap. */
    static Tensor softcap(Tensor x, double cap) { return x.div(cap).tanh().mul(cap); }

    // ------------------------------------------------------------------------------- Hugging Face

    @Override
    public ObjectNode configJson() { return config.toJson(); }

    @Override
    public String modelType() { return LlamaConfig.LLAMA.modelType(); }

    @Override
    public Integer bosTokenId() { return config.bosTokenId(); }

    @Override
    public List<Integer> eosTokenIds() { return config.eosTokenIds(); }

    /** The parameters under their own names (transformers' keys); lm_head.weight only when untied. */
    @Override
    protected List<HfTensor> hfTensors() {
        List<HfTensor> out = new ArrayList<>();
        namedParameters().forEach((k, v) -> {
            if (!(k.equals("lm_head.weight") && config.tieWordEmbeddings())) out.add(new HfTensor(k, v));
        });
        return out;
    }

    /** Old checkpoints' rotary inv_freq buffers, and a tied lm_head (the embedding wins, as in transformers). */
    @Override
    protected boolean ignoredHfKey(String k) {
        return k.endsWith(".rotary_emb.inv_freq") || (k.equals("lm_head.weight") && config.tieWordEmbeddings());
    }

    /** Loads a Hugging Face LlamaForCausalLM directory (config.json + safetensors, single or sharded, F32/F16/BF16). */
    public static LlamaForCausalLM fromPretrained(Path dir) throws IOException { return fromPretrained(jllm.io.ModelSource.open(dir)); }

    public static LlamaForCausalLM fromPretrained(jllm.io.ModelSource d) {
        return load(d, LlamaConfig::fromJson, LlamaConfig::numParameters, c -> new LlamaForCausalLM(c, null));
    }

    // ------------------------------------------------------------------------------- modules

    /** Embedding, decoder layers, final norm and the rotary embedding whose cos/sin all layers share. */
    public static class LlamaModel extends Module {
        public final Embedding embedTokens;
        public final ModuleList layers;
        public final LlamaRotaryEmbedding rotaryEmb;

        private final double embedScale;

        LlamaModel(LlamaConfig c, Variant variant) {
            embedTokens = registerModule("embed_tokens", new Embedding(c.vocabSize(), c.hiddenSize()));
            LlamaDecoderLayer[] ls = new LlamaDecoderLayer[c.numHiddenLayers()];
            for (int i = 0; i < ls.length; i++) ls[i] = new LlamaDecoderLayer(c, i, variant);
            layers = registerModule("layers", new ModuleList(ls));
            registerModule("norm", norm(c.hiddenSize(), c.rmsNormEps(), variant));
            rotaryEmb = registerModule("rotary_emb", new LlamaRotaryEmbedding(c));
            // Gemma: the embeddings times sqrt(hidden_size), rounded to the activations' dtype (F32 here) as transformers does
            embedScale = variant.gemma() ? (float) Math.sqrt(c.hiddenSize()) : 0;
        }

        /** Hidden states [B, T, C] after the final norm; positions continue at the cache's length. */
        public Tensor forward(Tensor idx, StepCache cache) {
            int past = cache == null ? 0 : cache.start(), t = idx.size(1);
            Tensor x = forwardChild("embed_tokens", idx);
            if (embedScale != 0) x = x.mul(embedScale);
            Tensor[] cs = past >= 0 ? rotaryEmb.cosSin(past, t, x.device()) : rotaryEmb.cosSin(cache.positions(t, x.device()), x.device());
            int i = 0;
            for (Module l : layers) x = ((LlamaDecoderLayer) l).forward(x, cs[0], cs[1], cache, i++);
            return forwardChild("norm", x);
        }
    }

    /** The family's RMSNorm: Llama's, or Gemma's (1 + weight). */
    static Module norm(int width, double eps, Variant variant) {
        return variant.gemma() ? new GemmaRMSNorm(width, eps) : new LlamaRMSNorm(width, eps);
    }

    /**
     * Pre-norm block: x + self_attn(input_layernorm(x)), then x + mlp(post_attention_layernorm(x)).
     * Gemma 2's sandwich: x + post_attention_layernorm(self_attn(input_layernorm(x))), then
     * x + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(x))).
     */
    public static class LlamaDecoderLayer extends Module {
        public final LlamaAttention selfAttn;
        public final LlamaMLP mlp;
        public final int layerIdx;
        private final boolean sandwich;

        LlamaDecoderLayer(LlamaConfig c, int layerIdx, Variant variant) {
            this.layerIdx = layerIdx;
            sandwich = variant.sandwichNorms();
            selfAttn = registerModule("self_attn", new LlamaAttention(c, variant, variant.window(layerIdx)));
            mlp = registerModule("mlp", new LlamaMLP(c, variant));
            registerModule("input_layernorm", norm(c.hiddenSize(), c.rmsNormEps(), variant));
            registerModule("post_attention_layernorm", norm(c.hiddenSize(), c.rmsNormEps(), variant));
            if (sandwich) {
                registerModule("pre_feedforward_layernorm", norm(c.hiddenSize(), c.rmsNormEps(), variant));
                registerModule("post_feedforward_layernorm", norm(c.hiddenSize(), c.rmsNormEps(), variant));
            }
        }

        public Tensor forward(Tensor x, Tensor cos, Tensor sin, StepCache cache, int layer) {
            Tensor a = selfAttn.forward(forwardChild("input_layernorm", x), cos, sin, cache, layer);
            if (!sandwich) {
                x = x.add(a);
                return x.add(forwardChild("mlp", forwardChild("post_attention_layernorm", x)));
            }
            x = x.add(forwardChild("post_attention_layernorm", a));
            return x.add(forwardChild("post_feedforward_layernorm", forwardChild("mlp", forwardChild("pre_feedforward_layernorm", x))));
        }
    }

    /**
     * Grouped-query attention: num_attention_heads query heads share num_key_value_heads key/value
     * heads; q and k are rotated by RoPE before the (causal) scaled dot-product attention.
     */
    public static class LlamaAttention extends Module {
        private final int nHeads, nKv, headDim, window;
        private final boolean qkNorm, fused;
        private final Double scale;
        private final double softcap;

        LlamaAttention(LlamaConfig c, Variant variant, int window) {
            nHeads = c.numAttentionHeads();
            nKv = c.numKeyValueHeads();
            headDim = c.headDim();
            this.window = window;
            qkNorm = variant.qkNorm();
            scale = variant.attnScale();
            softcap = variant.attnSoftcap();
            boolean b = variant.qkvBias();
            fused = variant.fused();
            if (fused) {
                registerModule("qkv_proj", new Linear(c.hiddenSize(), (nHeads + 2 * nKv) * headDim, b));
            } else {
                registerModule("q_proj", new Linear(c.hiddenSize(), nHeads * headDim, b));
                registerModule("k_proj", new Linear(c.hiddenSize(), nKv * headDim, b));
                registerModule("v_proj", new Linear(c.hiddenSize(), nKv * headDim, b));
            }
            registerModule("o_proj", new Linear(nHeads * headDim, c.hiddenSize(), variant.oBias()));
            if (qkNorm) {
                registerModule("q_norm", new LlamaRMSNorm(headDim, c.rmsNormEps()));
                registerModule("k_norm", new LlamaRMSNorm(headDim, c.rmsNormEps()));
            }
            // transformers 4.4x keeps a (deprecated, unused) rotary_emb per attention; kept so the tree prints alike
            registerModule("rotary_emb", new LlamaRotaryEmbedding(c));
        }

        /** transformers 4.4x runs this class as LlamaSdpaAttention (the default attn_implementation) and prints that name. */
        @Override
        public String typeName() { return "LlamaSdpaAttention"; }

        public Tensor forward(Tensor x, Tensor cos, Tensor sin, StepCache cache, int layer) {
            int b = x.size(0), t = x.size(1);
            Tensor q, k, v;
            if (fused) { // Phi-3: one projection, rows q | k | v
                Tensor qkv = forwardChild("qkv_proj", x);
                int nq = nHeads * headDim, nk = nKv * headDim;
                q = qkv.narrow(2, 0, nq).reshape(b, t, nHeads, headDim);
                k = qkv.narrow(2, nq, nk).reshape(b, t, nKv, headDim);
                v = qkv.narrow(2, nq + nk, nk).reshape(b, t, nKv, headDim).transpose(1, 2);
            } else {
                q = forwardChild("q_proj", x).view(b, t, nHeads, headDim);
                k = forwardChild("k_proj", x).view(b, t, nKv, headDim);
                v = forwardChild("v_proj", x).view(b, t, nKv, headDim).transpose(1, 2);
            }
            if (qkNorm) { // Qwen3: per-head RMSNorm over head_dim, before RoPE
                q = forwardChild("q_norm", q);
                k = forwardChild("k_norm", k);
            }
            q = applyRotary(q.transpose(1, 2), cos, sin);
            k = applyRotary(k.transpose(1, 2), cos, sin);
            StepCache.Attention attention = softcap > 0 ? this::softcappedAttention
                    : (qq, kk, vv, past) -> KVCache.attention(qq, kk, vv, past, true, window, scale);
            Tensor y = cache != null ? cache.attend(layer, q, k, v, attention) : attention.apply(q, k, v, 0);
            y = y.transpose(1, 2).contiguous().view(b, t, nHeads * headDim);
            return forwardChild("o_proj", y);
        }

        /**
         * Gemma 2's eager attention: scores q k^T * scale soft-capped (tanh(s / cap) * cap) before
         * the causal (and sliding-window) mask and the softmax; k and v heads repeated for GQA.
         */
        private Tensor softcappedAttention(Tensor q, Tensor k, Tensor v, int past) {
            int rep = nHeads / nKv, tq = q.size(2), tk = k.size(2);
            k = repeatKv(k, rep);
            v = repeatKv(v, rep);
            double sc = scale != null ? scale : 1.0 / Math.sqrt(headDim);
            Tensor s = softcap(q.matmul(k.transpose(-2, -1)).mul(sc), softcap);
            Tensor allowed = KVCache.allowed(tq, tk, past, window, q.device());
            return s.maskedFill(allowed.logicalNot(), Double.NEGATIVE_INFINITY).softmax(-1).matmul(v);
        }

        /** repeat_kv: [B, Hkv, T, D] -> [B, Hkv * rep, T, D], each kv head rep times in a row. */
        static Tensor repeatKv(Tensor x, int rep) {
            if (rep == 1) return x;
            int b = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
            return x.unsqueeze(2).expand(b, h, rep, t, d).reshape(b, h * rep, t, d);
        }

        /** apply_rotary_pos_emb: x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1). */
        static Tensor applyRotary(Tensor x, Tensor cos, Tensor sin) {
            int h = x.size(3) / 2;
            Tensor rot = Tensor.cat(3, x.narrow(3, h, h).neg(), x.narrow(3, 0, h));
            return x.mul(cos).add(rot.mul(sin));
        }
    }

    /**
     * SwiGLU: down_proj(act_fn(gate_proj(x)) * up_proj(x)); Gemma's GeGLU has the tanh GELU as
     * act_fn; Phi-3 computes gate and up in one gate_up_proj (rows gate | up).
     */
    public static class LlamaMLP extends Module implements UnaryModule {
        private final int inner;
        private final boolean fused;

        LlamaMLP(LlamaConfig c, Variant variant) {
            inner = c.intermediateSize();
            fused = variant.fused();
            if (fused) {
                registerModule("gate_up_proj", new Linear(c.hiddenSize(), 2 * inner, c.mlpBias()));
            } else {
                registerModule("gate_proj", new Linear(c.hiddenSize(), inner, c.mlpBias()));
                registerModule("up_proj", new Linear(c.hiddenSize(), inner, c.mlpBias()));
            }
            registerModule("down_proj", new Linear(inner, c.hiddenSize(), c.mlpBias()));
            registerModule("act_fn", variant.gemma() ? new GELU("tanh") : new SiLU());
        }

        @Override
        public Tensor forward(Tensor x) {
            Tensor gate, up;
            if (fused) {
                Tensor gu = forwardChild("gate_up_proj", x);
                int last = gu.dim() - 1;
                gate = gu.narrow(last, 0, inner);
                up = gu.narrow(last, inner, inner);
            } else {
                gate = forwardChild("gate_proj", x);
                up = forwardChild("up_proj", x);
            }
            return forwardChild("down_proj", forwardChild("act_fn", gate).mul(up));
        }
    }

    /**
     * LlamaRMSNorm: weight * x / sqrt(mean(x^2) + eps), computed in float32 (jllm computes in F32);
     * it prints as transformers' {@code LlamaRMSNorm((C,), eps=1e-05)}, without nn.RMSNorm's elementwise_affine.
     */
    public static class LlamaRMSNorm extends RMSNorm {
        LlamaRMSNorm(int hidden, double eps) { super(new int[] {hidden}, eps, true); }

        @Override
        public String extraRepr() { return super.extraRepr().replace(", elementwise_affine=True", ""); }
    }

    /**
     * GemmaRMSNorm: x / sqrt(mean(x^2) + eps) * (1 + weight), in float32, weight initialised to 0.
     */
    public static class GemmaRMSNorm extends Module implements UnaryModule {
        private final int width;
        private final double eps;

        GemmaRMSNorm(int width, double eps) {
            this.width = width;
            this.eps = eps;
            registerParameter("weight", Tensor.zeros(width));
        }

        public Tensor weight() { return parameter("weight"); }

        @Override
        public Tensor forward(Tensor x) { return F.rmsNorm(x, new int[] {width}, weight().add(1.0), eps); }

        @Override
        public String extraRepr() { return "(" + width + ",), eps=" + eps; }
    }

    /**
     * Rotary position embedding: cos/sin of position * inv_freq; inv_freq is a non-persistent
     * buffer as in transformers. The cos/sin tables are computed once per length (doubling as
     * positions grow) and kept on the buffer's device, so decoding a token costs no host round
     * trip; moving the model to another device recomputes them there.
     */
    public static class LlamaRotaryEmbedding extends Module {
        private final int maxPositions;
        private Tensor cosTable, sinTable;

        LlamaRotaryEmbedding(LlamaConfig c) {
            float[] inv = c.ropeInvFreq();
            registerBuffer("inv_freq", Tensor.of(inv, inv.length), false);
            maxPositions = c.maxPositionEmbeddings();
        }

        /**
         * cos, sin [T, head_dim] for positions start .. start+T-1: freqs = position * inv_freq in
         * float32 (one rounding, like transformers' float32 matmul), emb = cat(freqs, freqs).
         */
        public Tensor[] cosSin(int start, int t, jllm.tensor.Device device) {
            Tensor inv = buffer("inv_freq");
            if (cosTable == null || cosTable.size(0) < start + t || !cosTable.device().equals(inv.device())) {
                int have = cosTable == null ? 0 : cosTable.size(0);
                table(Math.min(maxPositions, Math.max(start + t, Math.max(64, 2 * have))), inv);
            }
            Tensor c = cosTable.narrow(0, start, t), s = sinTable.narrow(0, start, t);
            return device.equals(c.device()) ? new Tensor[] {c, s} : new Tensor[] {c.to(device), s.to(device)};
        }

        /** cos, sin [T, head_dim] for arbitrary positions I64 [T] (a ragged step's rows sit at each sequence's own positions). */
        public Tensor[] cosSin(Tensor positions, jllm.tensor.Device device) {
            long[] p = positions.toLongArray();
            long max = -1;
            for (long x : p) max = Math.max(max, x);
            cosSin(0, (int) max + 1, device);
            Tensor idx = positions.to(cosTable.device());
            Tensor c = cosTable.indexSelect(0, idx), s = sinTable.indexSelect(0, idx);
            return device.equals(c.device()) ? new Tensor[] {c, s} : new Tensor[] {c.to(device), s.to(device)};
        }

        private void table(int n, Tensor invFreq) {
            float[] inv = invFreq.toFloatArray();
            int half = inv.length, d = 2 * half;
            float[] cos = new float[n * d], sin = new float[n * d];
            for (int p = 0; p < n; p++) {
                float pos = p;
                for (int j = 0; j < half; j++) {
                    float f = pos * inv[j];
                    float c = (float) Math.cos(f), s = (float) Math.sin(f);
                    cos[p * d + j] = c;
                    cos[p * d + half + j] = c;
                    sin[p * d + j] = s;
                    sin[p * d + half + j] = s;
                }
            }
            cosTable = Tensor.of(cos, n, d).to(invFreq.device());
            sinTable = Tensor.of(sin, n, d).to(invFreq.device());
        }
    }
}
