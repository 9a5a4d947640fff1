package jllm.models.gpt;

import jllm.autograd.Grad;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.io.ConfigFields;
import jllm.io.hf.HfException;
import jllm.models.PretrainedCausalLM;
import jllm.models.KVCache;
import jllm.models.StepCache;
import jllm.models.PretrainedModel;
import jllm.nn.Dropout;
import jllm.nn.Embedding;
import jllm.nn.GELU;
import jllm.nn.Init;
import jllm.nn.LayerNorm;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.ModuleDict;
import jllm.nn.ModuleList;
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
 * GPT-2 as written in seed 002 (build-nanogpt): token and position embeddings, n_layer pre-norm
 * blocks of causal self-attention and a tanh-GELU MLP, a final LayerNorm and an lm_head tied to
 * the token embedding. Module names are the seed's PyTorch state_dict keys
 * ({@code transformer.h.0.attn.c_attn.weight}, ...), including each block's causal-mask buffer
 * {@code transformer.h.N.attn.bias} (one tensor shared by all layers; attention itself runs the
 * fused causal kernel and never reads it).
 *
 * <p>Dropout follows nanoGPT's model.py (embeddings, attention probabilities, both residual
 * branches); its modules are registered only when {@code config.dropout() > 0}, so the default
 * model prints exactly like the seed's {@code print(model)}.
 */
public class GPT extends PretrainedCausalLM {
    private final GPTConfig config;
    public final ModuleDict transformer;
    public final Embedding wte;
    public final Embedding wpe;
    public final ModuleList h;
    public final LayerNorm lnF;
    public final Dropout drop;
    public final Linear lmHead;
    // GPT-2's <|endoftext|> is both; a loaded config.json may say otherwise
    private Integer bosTokenId;
    private List<Integer> eosTokenIds;

    /** Builds and initialises with the default generator ({@code Generator.manualSeed} makes it reproducible). */
    public GPT(GPTConfig config) { this(config, Generator.defaultGenerator()); }

    /** Builds and initialises from gen: Linear weights N(0, 0.02), residual projections N(0, 0.02/sqrt(2 n_layer)), biases 0, embeddings N(0, 0.02). */
    public GPT(GPTConfig config, Generator gen) {
        this.config = config;
        Tensor mask = Tensor.ones(config.blockSize(), config.blockSize()).tril(0).view(1, 1, config.blockSize(), config.blockSize());
        LinkedHashMap<String, Module> parts = new LinkedHashMap<>();
        parts.put("wte", new Embedding(config.vocabSize(), config.nEmbd()));
        parts.put("wpe", new Embedding(config.blockSize(), config.nEmbd()));
        if (config.dropout() > 0) parts.put("drop", new Dropout(config.dropout()));
        Block[] blocks = new Block[config.nLayer()];
        for (int i = 0; i < blocks.length; i++) blocks[i] = new Block(config, mask);
        parts.put("h", new ModuleList(blocks));
        parts.put("ln_f", new LayerNorm(new int[] {config.nEmbd()}, 1e-5, true, config.bias()));
        transformer = registerModule("transformer", new ModuleDict(parts));
        wte = (Embedding) transformer.get("wte");
        wpe = (Embedding) transformer.get("wpe");
        drop = config.dropout() > 0 ? (Dropout) transformer.get("drop") : null;
        h = (ModuleList) transformer.get("h");
        lnF = (LayerNorm) transformer.get("ln_f");
        // weight sharing scheme: one tensor under both names
        lmHead = registerModule("lm_head", Linear.sharing(wte.weight()));
        if (!Init.skipping()) initWeights(gen);
        bosTokenId = config.vocabSize() > 50256 ? 50256 : null;
        eosTokenIds = config.vocabSize() > 50256 ? List.of(50256) : List.of();
    }

    public GPTConfig config() { return config; }

    /** Re-initialises every weight as the seed's {@code self.apply(self._init_weights)}. */
    public void initWeights(Generator gen) {
        // nanoGPT's NANOGPT_SCALE_INIT: the projections that write into the residual stream
        Set<Module> scaled = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Module b : h) {
            scaled.add(b.getSubmodule("attn.c_proj"));
            scaled.add(b.getSubmodule("mlp.c_proj"));
        }
        double scaledStd = 0.02 * Math.pow(2.0 * config.nLayer(), -0.5);
        // PyTorch initialises the tied wte/lm_head tensor twice (same distribution); once is enough
        Set<Tensor> done = Collections.newSetFromMap(new IdentityHashMap<>());
        apply(m -> {
            if (m instanceof Linear l) {
                if (done.add(l.weight())) Init.normal_(l.weight(), 0.0, scaled.contains(m) ? scaledStd : 0.02, gen);
                if (l.bias() != null) Init.zeros_(l.bias());
            } else if (m instanceof Embedding e && done.add(e.weight())) {
                Init.normal_(e.weight(), 0.0, 0.02, gen);
            }
        });
    }

    public Block block(int i) { return (Block) h.get(i); }

    /** Weights that Hugging Face's GPT-2 stores as Conv1D [in, out] and this model as Linear [out, in]. */
    private static final List<String> CONV1D = List.of("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight");

    /**
     * Loads a Hugging Face GPT2LMHeadModel / GPT2Model state dict (keys with or without the
     * {@code transformer.} prefix, as in {@code model.safetensors}) the way nanoGPT's
     * {@code from_pretrained} does: the causal-mask buffers are skipped, the four Conv1D weights
     * are transposed, and {@code lm_head.weight}, when present, is the tied token embedding.
     */
    public void loadHuggingFace(Map<String, Tensor> hf) {
        loadHf(jllm.io.WeightSource.of(hf, "the Hugging Face GPT-2 state dict"));
    }

    /**
     * nanoGPT's {@code get_num_params}: all parameters, the tied embedding/lm_head weight once;
     * nonEmbedding subtracts the position embedding (the token embedding is kept because it is
     * also the lm_head weight). 124,439,808 (123,653,376 non-embedding) for gpt2. (Named apart
     * from {@link Module#numParameters(boolean)}, whose flag means "only trainable".)
     */
    public long getNumParams(boolean nonEmbedding) {
        long n = numParameters();
        return nonEmbedding ? n - wpe.weight().numel() : n;
    }

    @Override
    protected Geometry geometry() { return config.geometry(); }

    /** Embeddings, blocks and ln_f: hidden states [B, T, C]. */
    @Override
    protected Tensor hiddenStates(Tensor idx, StepCache cache) {
        int t = idx.size(1);
        Tensor pos = cache == null ? Tensor.arange(0, t, 1, idx.device()) : cache.positions(t, idx.device());
        Tensor x = wte.forward(idx).add(wpe.forward(pos));
        if (drop != null) x = drop.forward(x);
        int layer = 0;
        for (Module m : h) x = ((Block) m).forward(x, cache, layer++);
        return lnF.forward(x);
    }

    // ------------------------------------------------------------------ Hugging Face directories

    @Override
    public String modelType() { return "gpt2"; }

    @Override
    public Integer bosTokenId() { return bosTokenId; }

    @Override
    public List<Integer> eosTokenIds() { return eosTokenIds; }

    /** config.json as transformers' GPT2Config writes it (dropout probabilities from config.dropout). */
    @Override
    public ObjectNode configJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("activation_function", "gelu_new");
        o.putArray("architectures").add("GPT2LMHeadModel");
        o.put("attn_pdrop", config.dropout());
        // explicit nulls: GPT2Config's defaults (50256) would point outside a smaller vocabulary
        if (bosTokenId != null) o.put("bos_token_id", bosTokenId);
        else o.putNull("bos_token_id");
        o.put("embd_pdrop", config.dropout());
        if (eosTokenIds.size() == 1) o.put("eos_token_id", eosTokenIds.get(0));
        else if (!eosTokenIds.isEmpty()) eosTokenIds.forEach(o.withArray("eos_token_id")::add);
        else o.putNull("eos_token_id");
        o.put("initializer_range", 0.02);
        o.put("layer_norm_epsilon", 1e-5);
        o.put("model_type", "gpt2");
        o.put("n_ctx", config.blockSize());
        o.put("n_embd", config.nEmbd());
        o.put("n_head", config.nHead());
        o.putNull("n_inner");
        o.put("n_layer", config.nLayer());
        o.put("n_positions", config.blockSize());
        o.put("reorder_and_upcast_attn", false);
        o.put("resid_pdrop", config.dropout());
        o.put("scale_attn_by_inverse_layer_idx", false);
        o.put("scale_attn_weights", true);
        o.put("tie_word_embeddings", true);
        o.put("torch_dtype", "float32");
        o.put("use_cache", true);
        o.put("vocab_size", config.vocabSize());
        return o;
    }

    /**
     * transformers' GPT2LMHeadModel keys: {@code transformer.}-prefixed, the four Conv1D weights
     * [in, out], no lm_head.weight (tied to wte) and no causal-mask buffers (non-persistent in
     * transformers).
     */
    @Override
    protected List<HfTensor> hfTensors() {
        List<HfTensor> out = new ArrayList<>();
        namedParameters().forEach((k, v) -> {
            if (!k.equals("lm_head.weight")) out.add(new HfTensor(k, v, CONV1D.stream().anyMatch(k::endsWith)));
        });
        return out;
    }

    @Override
    public String canonicalHfKey(String fileKey) {
        return fileKey.startsWith("transformer.") || fileKey.equals("lm_head.weight") ? fileKey : "transformer." + fileKey;
    }

    @Override
    protected boolean ignoredHfKey(String k) {
        return k.endsWith(".attn.bias") || k.endsWith(".attn.masked_bias") || k.equals("lm_head.weight");
    }

    /**
     * What save_pretrained writes ({@link #hfTensors}). GPT-2 always has biases; a model trained
     * with bias=false (nanoGPT's option) gets zero biases, which compute exactly the same.
     */
    @Override
    public LinkedHashMap<String, Tensor> hfStateDict() {
        LinkedHashMap<String, Tensor> sd = super.hfStateDict();
        if (config.bias()) return sd;
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        sd.forEach((k, v) -> {
            out.put(k, v);
            if (k.endsWith(".weight") && !k.endsWith("wte.weight") && !k.endsWith("wpe.weight")) {
                // a Linear's bias has its out_features (dim 1 of the Conv1D [in, out] layout); a LayerNorm's its width
                int width = CONV1D.stream().anyMatch(k::endsWith) ? v.shape()[1] : v.shape()[0];
                out.put(k.substring(0, k.length() - ".weight".length()) + ".bias", Tensor.zeros(width));
            }
        });
        return out;
    }

    /**
     * Loads a Hugging Face GPT2LMHeadModel directory (config.json + safetensors, single or sharded)
     * with {@link #loadHuggingFace}'s rules. Settings jllm's GPT does not implement
     * (another activation, layer_norm_epsilon, n_inner, scale_attn_by_inverse_layer_idx) are errors.
     */
    public static GPT fromPretrained(Path dir) throws IOException { return fromPretrained(jllm.io.ModelSource.open(dir)); }

    public static GPT fromPretrained(jllm.io.ModelSource d) {
        ObjectNode c = d.config();
        Path cf = d.configFile();
        GPTConfig cfg;
        Integer bos;
        List<Integer> eos;
        try {
            String type = ConfigFields.text(c, "model_type", "gpt2");
            List<String> arch = new ArrayList<>();
            c.path("architectures").forEach(a -> arch.add(a.asText()));
            if (!type.equals("gpt2") || (!arch.isEmpty() && !arch.contains("GPT2LMHeadModel") && !arch.contains("GPT2Model"))) {
                throw new IllegalArgumentException("unsupported architecture " + arch + " with model_type '" + type + "' (GPT loads GPT2LMHeadModel)");
            }
            String act = ConfigFields.text(c, "activation_function", "gelu_new");
            if (!act.equals("gelu_new") && !act.equals("gelu_pytorch_tanh")) {
                throw new IllegalArgumentException("unsupported activation_function '" + act + "' (GPT uses the tanh GELU, gelu_new)");
            }
            if (ConfigFields.number(c, "layer_norm_epsilon", 1e-5) != 1e-5) {
                throw new IllegalArgumentException("unsupported layer_norm_epsilon " + c.get("layer_norm_epsilon") + " (GPT uses 1e-05)");
            }
            if (ConfigFields.bool(c, "scale_attn_by_inverse_layer_idx", false) || !ConfigFields.bool(c, "scale_attn_weights", true)
                    || ConfigFields.bool(c, "reorder_and_upcast_attn", false)) {
                throw new IllegalArgumentException("unsupported attention scaling (scale_attn_by_inverse_layer_idx / scale_attn_weights / reorder_and_upcast_attn)");
            }
            // the sizes must be given: GPT2Config's defaults would build GPT-2 small, which is never what a file meant
            for (String key : List.of("vocab_size", "n_embd", "n_layer", "n_head")) {
                if (!c.hasNonNull(key)) throw new IllegalArgumentException("missing '" + key + "' (the model's sizes must be given)");
            }
            int nEmbd = ConfigFields.integer(c, "n_embd", 0);
            if (c.hasNonNull("n_inner") && ConfigFields.integer(c, "n_inner", 0) != 4 * nEmbd) {
                throw new IllegalArgumentException("unsupported n_inner " + c.get("n_inner") + " (GPT's MLP is 4 * n_embd = " + 4 * nEmbd + ")");
            }
            int nPos = c.hasNonNull("n_positions") ? ConfigFields.integer(c, "n_positions", 0) : ConfigFields.integer(c, "n_ctx", 1024);
            cfg = new GPTConfig(nPos, ConfigFields.integer(c, "vocab_size", 0), ConfigFields.integer(c, "n_layer", 0),
                    ConfigFields.integer(c, "n_head", 0), nEmbd, 0.0, true);
            bos = c.hasNonNull("bos_token_id") ? ConfigFields.integer(c, "bos_token_id", 0) : null;
            eos = ConfigFields.tokenIds(c, "eos_token_id", List.of());
            jllm.models.MemoryBudget.requireFits(cfg.numParameters(false), cf);
        } catch (IllegalArgumentException e) {
            throw new HfException(cf + ": " + e.getMessage(), e);
        }
        GPTConfig c2 = cfg;
        GPT m = Init.skipInit(() -> new GPT(c2));
        m.loadHf(d);
        m.bosTokenId = bos;
        m.eosTokenIds = eos;
        return m;
    }

    // ------------------------------------------------------------------ modules

    /**
     * Multi-head causal self-attention with the q, k, v projections fused in c_attn. forward runs
     * whatever module is registered as c_attn / c_proj (after LoRA injection, the LoRA layer).
     */
    public static class CausalSelfAttention extends Module {
        public final Dropout residDropout;
        private final int nHead, nEmbd;
        private final double dropout;

        CausalSelfAttention(GPTConfig config, Tensor mask) {
            nHead = config.nHead();
            nEmbd = config.nEmbd();
            dropout = config.dropout();
            registerModule("c_attn", new Linear(nEmbd, 3 * nEmbd, config.bias()));
            registerModule("c_proj", new Linear(nEmbd, nEmbd, config.bias()));
            residDropout = dropout > 0 ? registerModule("resid_dropout", new Dropout(dropout)) : null;
            registerBuffer("bias", mask);
        }

        /** x [B, T, C]; with a cache, the new positions are the cache's. */
        public Tensor forward(Tensor x, StepCache cache, int layer) {
            int b = x.size(0), t = x.size(1), c = x.size(2), hs = c / nHead;
            var qkv = forwardChild("c_attn", x).split(nEmbd, 2);
            Tensor q = qkv.get(0).view(b, t, nHead, hs).transpose(1, 2);
            Tensor k = qkv.get(1).view(b, t, nHead, hs).transpose(1, 2);
            Tensor v = qkv.get(2).view(b, t, nHead, hs).transpose(1, 2);
            Tensor y;
            if (cache == null) {
                double p = isTraining() ? dropout : 0.0;
                y = F.scaledDotProductAttention(q, k, v, null, p, true, null, false);
            } else {
                y = cache.attend(layer, q, k, v, (qq, kk, vv, past) -> KVCache.attention(qq, kk, vv, past, false));
            }
            y = y.transpose(1, 2).contiguous().view(b, t, c);
            y = forwardChild("c_proj", y);
            return residDropout == null ? y : residDropout.forward(y);
        }
    }

    /** c_fc (C -> 4C), tanh-approximated GELU, c_proj (4C -> C). */
    public static class MLP extends Module {
        public final GELU gelu;
        public final Dropout dropout;

        MLP(GPTConfig config) {
            registerModule("c_fc", new Linear(config.nEmbd(), 4 * config.nEmbd(), config.bias()));
            gelu = registerModule("gelu", new GELU("tanh"));
            registerModule("c_proj", new Linear(4 * config.nEmbd(), config.nEmbd(), config.bias()));
            dropout = config.dropout() > 0 ? registerModule("dropout", new Dropout(config.dropout())) : null;
        }

        public Tensor forward(Tensor x) {
            Tensor y = forwardChild("c_proj", gelu.forward(forwardChild("c_fc", x)));
            return dropout == null ? y : dropout.forward(y);
        }
    }

    /** Pre-norm block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
    public static class Block extends Module {
        public final LayerNorm ln1;
        public final CausalSelfAttention attn;
        public final LayerNorm ln2;
        public final MLP mlp;

        Block(GPTConfig config, Tensor mask) {
            ln1 = registerModule("ln_1", new LayerNorm(new int[] {config.nEmbd()}, 1e-5, true, config.bias()));
            attn = registerModule("attn", new CausalSelfAttention(config, mask));
            ln2 = registerModule("ln_2", new LayerNorm(new int[] {config.nEmbd()}, 1e-5, true, config.bias()));
            mlp = registerModule("mlp", new MLP(config));
        }

        public Tensor forward(Tensor x) { return forward(x, null, 0); }

        public Tensor forward(Tensor x, StepCache cache, int layer) {
            x = x.add(attn.forward(ln1.forward(x), cache, layer));
            return x.add(mlp.forward(ln2.forward(x)));
        }
    }
}
