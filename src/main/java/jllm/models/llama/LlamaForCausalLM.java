package jllm.models.llama;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.autograd.Grad;
import jllm.io.hf.HfException;
import jllm.io.hf.HfModelDir;
import jllm.models.KVCache;
import jllm.models.PretrainedModel;
import jllm.nn.Embedding;
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
public class LlamaForCausalLM extends Module implements PretrainedModel {
    private final LlamaConfig config;
    public final LlamaModel model;

    /** Builds and initialises with the default generator. */
    public LlamaForCausalLM(LlamaConfig config) { this(config, Generator.defaultGenerator()); }

    /** Builds and initialises as transformers' _init_weights; gen null leaves the weights zero (about to be loaded). */
    public LlamaForCausalLM(LlamaConfig config, Generator gen) {
        this.config = config;
        model = registerModule("model", new LlamaModel(config));
        Linear lmHead = registerModule("lm_head", new Linear(config.hiddenSize(), config.vocabSize(), false));
        // tie_word_embeddings: one tensor under both names, as transformers' tie_weights
        if (config.tieWordEmbeddings()) lmHead.setParameter("weight", model.embedTokens.weight());
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
            }
        });
    }

    public LlamaDecoderLayer layer(int i) { return (LlamaDecoderLayer) model.layers.get(i); }

    @Override
    public int blockSize() { return config.maxPositionEmbeddings(); }

    @Override
    public int vocabSize() { return config.vocabSize(); }

    private void checkIdx(Tensor idx, int past) {
        if (idx.dim() != 2) throw new IllegalArgumentException("Llama: idx must be [B, T], got " + Arrays.toString(idx.shape()));
        if (idx.dtype() != DType.I64 && idx.dtype() != DType.I32) {
            throw new IllegalArgumentException("Llama: idx must hold integer token ids (int64), got " + idx.dtype().torchName());
        }
        if (past + idx.size(1) > blockSize()) {
            throw new IllegalArgumentException("Llama: cannot forward " + (past + idx.size(1)) + " positions (" + past + " cached + "
                    + idx.size(1) + " new), max_position_embeddings is " + blockSize());
        }
    }

    /** logits [B, T, V]; with targets [B, T] (aligned with idx, -100 ignored), the mean cross-entropy. */
    @Override
    public Output forward(Tensor idx, Tensor targets) {
        checkIdx(idx, 0);
        Tensor logits = forwardChild("lm_head", model.forward(idx, null));
        Tensor loss = null;
        if (targets != null) {
            if (!Arrays.equals(targets.shape(), idx.shape())) {
                throw new IllegalArgumentException("Llama: targets " + Arrays.toString(targets.shape()) + " must have the shape of idx "
                        + Arrays.toString(idx.shape()));
            }
            loss = F.crossEntropy(logits.view(-1, logits.size(-1)), targets.reshape(-1));
        }
        return new Output(logits, loss);
    }

    public Tensor forward(Tensor idx) { return forward(idx, (Tensor) null).logits(); }

    @Override
    public KVCache newCache(int batchSize) { return newCache(batchSize, blockSize()); }

    @Override
    public KVCache newCache(int batchSize, int capacity) {
        if (capacity <= 0 || capacity > blockSize()) {
            throw new IllegalArgumentException("Llama: cache capacity must be in [1, " + blockSize() + "], got " + capacity);
        }
        Tensor w = model.embedTokens.weight();
        return new KVCache(config.numHiddenLayers(), batchSize, config.numKeyValueHeads(), capacity, config.headDim(), w.dtype(), w.device());
    }

    @Override
    public Tensor forward(Tensor idx, KVCache cache, boolean lastPositionOnly) {
        if (cache == null) throw new IllegalArgumentException("Llama.forward: cache is null (use forward(idx, targets) without a cache)");
        if (cache.numLayers() != config.numHiddenLayers() || cache.batchSize() != idx.size(0)
                || cache.numHeads() != config.numKeyValueHeads() || cache.headDim() != config.headDim()) {
            throw new IllegalArgumentException("Llama.forward: cache geometry (layers " + cache.numLayers() + ", batch " + cache.batchSize()
                    + ", kv heads " + cache.numHeads() + ", head dim " + cache.headDim() + ") does not fit this model and idx "
                    + Arrays.toString(idx.shape()));
        }
        checkIdx(idx, cache.length());
        try (var g = Grad.off()) {
            Tensor x = model.forward(idx, cache);
            cache.advance(idx.size(1));
            if (lastPositionOnly) x = x.narrow(1, x.size(1) - 1, 1);
            return forwardChild("lm_head", x);
        }
    }

    // ------------------------------------------------------------------------------- Hugging Face

    @Override
    public ObjectNode configJson() { return config.toJson(); }

    @Override
    public String modelType() { return "llama"; }

    @Override
    public Integer bosTokenId() { return config.bosTokenId(); }

    @Override
    public List<Integer> eosTokenIds() { return config.eosTokenIds(); }

    /** The tensors transformers saves: the state dict without lm_head.weight when it is the tied embedding. */
    public LinkedHashMap<String, Tensor> hfStateDict() {
        LinkedHashMap<String, Tensor> sd = stateDict();
        if (config.tieWordEmbeddings()) sd.remove("lm_head.weight");
        return sd;
    }

    @Override
    public void savePretrained(Path dir, long maxShardBytes) throws IOException {
        HfModelDir.write(dir, configJson(), hfStateDict(), maxShardBytes);
    }

    /** Loads a Hugging Face LlamaForCausalLM directory (config.json + safetensors, single or sharded, F32/F16/BF16). */
    public static LlamaForCausalLM fromPretrained(Path dir) throws IOException {
        HfModelDir d = HfModelDir.open(dir);
        LlamaConfig config;
        try {
            config = LlamaConfig.fromJson(d.config(), d.configFile());
            jllm.models.MemoryBudget.requireFits(config.numParameters(), d.configFile());
        } catch (IllegalArgumentException e) {
            throw new HfException(e.getMessage(), e);
        }
        LlamaForCausalLM m = new LlamaForCausalLM(config, null);
        m.loadFrom(d);
        return m;
    }

    /**
     * Copies every tensor of d into this model (converted to F32), checking names and shapes
     * first so that nothing is half loaded. rotary_emb.inv_freq keys of old checkpoints are
     * ignored, as transformers ignores them.
     */
    public void loadFrom(HfModelDir d) {
        LinkedHashMap<String, Tensor> expected = hfStateDict();
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            String k = e.getKey();
            if (!d.contains(k)) {
                problems.add("missing tensor '" + k + "' in " + d.describe(k));
                continue;
            }
            long[] have = d.shape(k);
            int[] want = e.getValue().shape();
            if (!Arrays.equals(have, Arrays.stream(want).asLongStream().toArray())) {
                problems.add("tensor '" + k + "' in " + d.fileOf(k) + " has shape " + Arrays.toString(have) + " but " + d.configFile()
                        + " implies " + Arrays.toString(want));
            }
            jllm.io.StDType dt = d.dtype(k);
            String bad = jllm.nn.LoadChecks.dtypeError(k, dt.name(), dt == jllm.io.StDType.F16 || dt == jllm.io.StDType.BF16
                    || dt == jllm.io.StDType.F32 || dt == jllm.io.StDType.F64, e.getValue());
            if (bad != null) problems.add(bad + " (in " + d.fileOf(k) + ")");
        }
        List<String> unexpected = new ArrayList<>();
        for (String k : d.keys()) {
            if (expected.containsKey(k) || k.endsWith(".rotary_emb.inv_freq")) continue;
            if (k.equals("lm_head.weight") && config.tieWordEmbeddings()) continue; // tied: the embedding wins, as in transformers
            unexpected.add(k);
        }
        if (!unexpected.isEmpty()) {
            problems.add("unexpected tensors " + unexpected + " in " + d.describe(unexpected.get(0)) + " (not part of LlamaForCausalLM with "
                    + d.configFile() + ")");
        }
        if (!problems.isEmpty()) throw new HfException("cannot load Llama checkpoint " + d.dir() + ": " + String.join("; ", problems));
        try (var g = Grad.off()) {
            for (Map.Entry<String, Tensor> e : expected.entrySet()) e.getValue().copy_(d.tensor(e.getKey()));
        }
        jllm.nn.LoadChecks.warnNonFinite(expected, d.dir());
    }

    // ------------------------------------------------------------------------------- modules

    /** Embedding, decoder layers, final norm and the rotary embedding whose cos/sin all layers share. */
    public static class LlamaModel extends Module {
        public final Embedding embedTokens;
        public final ModuleList layers;
        public final LlamaRotaryEmbedding rotaryEmb;

        LlamaModel(LlamaConfig c) {
            embedTokens = registerModule("embed_tokens", new Embedding(c.vocabSize(), c.hiddenSize()));
            LlamaDecoderLayer[] ls = new LlamaDecoderLayer[c.numHiddenLayers()];
            for (int i = 0; i < ls.length; i++) ls[i] = new LlamaDecoderLayer(c, i);
            layers = registerModule("layers", new ModuleList(ls));
            registerModule("norm", new LlamaRMSNorm(c.hiddenSize(), c.rmsNormEps()));
            rotaryEmb = registerModule("rotary_emb", new LlamaRotaryEmbedding(c));
        }

        /** Hidden states [B, T, C] after the final norm; positions continue at the cache's length. */
        public Tensor forward(Tensor idx, KVCache cache) {
            int past = cache == null ? 0 : cache.length();
            Tensor x = forwardChild("embed_tokens", idx);
            Tensor[] cs = rotaryEmb.cosSin(past, idx.size(1), x.device());
            int i = 0;
            for (Module l : layers) x = ((LlamaDecoderLayer) l).forward(x, cs[0], cs[1], cache, i++, past);
            return forwardChild("norm", x);
        }
    }

    /** Pre-norm block: x + self_attn(input_layernorm(x)), then x + mlp(post_attention_layernorm(x)). */
    public static class LlamaDecoderLayer extends Module {
        public final LlamaAttention selfAttn;
        public final LlamaMLP mlp;
        public final int layerIdx;

        LlamaDecoderLayer(LlamaConfig c, int layerIdx) {
            this.layerIdx = layerIdx;
            selfAttn = registerModule("self_attn", new LlamaAttention(c));
            mlp = registerModule("mlp", new LlamaMLP(c));
            registerModule("input_layernorm", new LlamaRMSNorm(c.hiddenSize(), c.rmsNormEps()));
            registerModule("post_attention_layernorm", new LlamaRMSNorm(c.hiddenSize(), c.rmsNormEps()));
        }

        public Tensor forward(Tensor x, Tensor cos, Tensor sin, KVCache cache, int layer, int past) {
            x = x.add(selfAttn.forward(forwardChild("input_layernorm", x), cos, sin, cache, layer, past));
            return x.add(forwardChild("mlp", forwardChild("post_attention_layernorm", x)));
        }
    }

    /**
     * Grouped-query attention: num_attention_heads query heads share num_key_value_heads key/value
     * heads; q and k are rotated by RoPE before the (causal) scaled dot-product attention.
     */
    public static class LlamaAttention extends Module {
        private final int nHeads, nKv, headDim;

        LlamaAttention(LlamaConfig c) {
            nHeads = c.numAttentionHeads();
            nKv = c.numKeyValueHeads();
            headDim = c.headDim();
            boolean b = c.attentionBias();
            registerModule("q_proj", new Linear(c.hiddenSize(), nHeads * headDim, b));
            registerModule("k_proj", new Linear(c.hiddenSize(), nKv * headDim, b));
            registerModule("v_proj", new Linear(c.hiddenSize(), nKv * headDim, b));
            registerModule("o_proj", new Linear(nHeads * headDim, c.hiddenSize(), b));
            // transformers 4.4x keeps a (deprecated, unused) rotary_emb per attention; kept so the tree prints alike
            registerModule("rotary_emb", new LlamaRotaryEmbedding(c));
        }

        /** transformers 4.4x runs this class as LlamaSdpaAttention (the default attn_implementation) and prints that name. */
        @Override
        public String typeName() { return "LlamaSdpaAttention"; }

        public Tensor forward(Tensor x, Tensor cos, Tensor sin, KVCache cache, int layer, int past) {
            int b = x.size(0), t = x.size(1);
            Tensor q = forwardChild("q_proj", x).view(b, t, nHeads, headDim).transpose(1, 2);
            Tensor k = forwardChild("k_proj", x).view(b, t, nKv, headDim).transpose(1, 2);
            Tensor v = forwardChild("v_proj", x).view(b, t, nKv, headDim).transpose(1, 2);
            q = applyRotary(q, cos, sin);
            k = applyRotary(k, cos, sin);
            Tensor y;
            if (cache == null) {
                y = F.scaledDotProductAttention(q, k, v, null, 0.0, true, null, true);
            } else {
                Tensor[] kv = cache.update(layer, k, v);
                y = KVCache.attention(q, kv[0], kv[1], past, true);
            }
            y = y.transpose(1, 2).contiguous().view(b, t, nHeads * headDim);
            return forwardChild("o_proj", y);
        }

        /** apply_rotary_pos_emb: x * cos + rotate_half(x) * sin, rotate_half(x) = cat(-x2, x1). */
        static Tensor applyRotary(Tensor x, Tensor cos, Tensor sin) {
            int h = x.size(3) / 2;
            Tensor rot = Tensor.cat(3, x.narrow(3, h, h).neg(), x.narrow(3, 0, h));
            return x.mul(cos).add(rot.mul(sin));
        }
    }

    /** SwiGLU: down_proj(act_fn(gate_proj(x)) * up_proj(x)). */
    public static class LlamaMLP extends Module implements UnaryModule {
        LlamaMLP(LlamaConfig c) {
            registerModule("gate_proj", new Linear(c.hiddenSize(), c.intermediateSize(), c.mlpBias()));
            registerModule("up_proj", new Linear(c.hiddenSize(), c.intermediateSize(), c.mlpBias()));
            registerModule("down_proj", new Linear(c.intermediateSize(), c.hiddenSize(), c.mlpBias()));
            registerModule("act_fn", new SiLU());
        }

        @Override
        public Tensor forward(Tensor x) {
            return forwardChild("down_proj", forwardChild("act_fn", forwardChild("gate_proj", x)).mul(forwardChild("up_proj", x)));
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

    /** Rotary position embedding: cos/sin of position * inv_freq; inv_freq is a non-persistent buffer as in transformers. */
    public static class LlamaRotaryEmbedding extends Module {
        LlamaRotaryEmbedding(LlamaConfig c) {
            float[] inv = c.ropeInvFreq();
            registerBuffer("inv_freq", Tensor.of(inv, inv.length), false);
        }

        /**
         * cos, sin [T, head_dim] for positions start .. start+T-1: freqs = position * inv_freq in
         * float32 (one rounding, like transformers' float32 matmul), emb = cat(freqs, freqs).
         */
        public Tensor[] cosSin(int start, int t, jllm.tensor.Device device) {
            float[] inv = buffer("inv_freq").toFloatArray();
            int half = inv.length, d = 2 * half;
            float[] cos = new float[t * d], sin = new float[t * d];
            for (int p = 0; p < t; p++) {
                float pos = start + p;
                for (int j = 0; j < half; j++) {
                    float f = pos * inv[j];
                    float c = (float) Math.cos(f), s = (float) Math.sin(f);
                    cos[p * d + j] = c;
                    cos[p * d + half + j] = c;
                    sin[p * d + j] = s;
                    sin[p * d + half + j] = s;
                }
            }
            return new Tensor[] {Tensor.of(cos, t, d).to(device), Tensor.of(sin, t, d).to(device)};
        }
    }
}
