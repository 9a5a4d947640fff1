package jllm.models;

import com.fasterxml.jackson.databind.JsonNode;
import jllm.models.gpt.CharGPTConfig;
import jllm.models.gemma.Gemma2Config;
import jllm.models.gemma.GemmaConfig;
import jllm.models.gpt.GPTConfig;
import jllm.models.llama.LlamaConfig;
import jllm.models.mistral.MistralConfig;
import jllm.models.phi3.Phi3Config;
import jllm.models.qwen2.Qwen2Config;
import jllm.models.qwen3.Qwen3Config;

import java.util.Map;

/**
 * What a decoder needs in memory, from its config alone (nothing is allocated): its parameters,
 * the activations a training forward saves for backward, and its KV cache per position. The
 * launcher sizes the JVM heap from it ({@code jllm heap}), so the per-layer counts below are those
 * of jllm's own autograd graphs, found by summing the distinct storages the nodes save
 * (MemoryFootprintTest checks them against the real graphs). N is batch x sequence, C the width:
 * <ul>
 *   <li>gpt: 17 NC floats per layer (ln_1 and ln_2 inputs, the four matmul inputs with c_fc's 4C
 *       output kept by GELU and GELU's 4C output by c_proj, q/k/v and the fused attention's output);
 *       with dropout the attention is not fused: 19.5 NC plus 3 B H T^2 (scores, softmax, mask);</li>
 *   <li>char_gpt (seed 003's model, per-head Linears, bias-free keys): 14 NC, with dropout 15 NC
 *       plus 3 B H T^2;</li>
 *   <li>Llama and the other Hugging Face families: 4.25 C + 3 Q + 2 KV + 4 I floats per token and
 *       layer (two RMSNorms and the q/k/v and gate/up inputs, the attention's q, k, v and output and
 *       o's input, SiLU and the gate product), Q the query width (heads x head_dim, Gemma's differs
 *       from C), KV the key/value width, I the MLP width; plus the family's own: Qwen3's q/k norms and
 *       Phi-3's split fused q/k/v save Q + KV more, Gemma 2's extra norms 2 C, and its soft-capped
 *       attention (not fused) two B H T^2 score tensors; with LoRA the frozen projections save less,
 *       so this bounds it from above;</li>
 *   <li>and the head: N V for the cross-entropy's log-softmax (twice with Gemma 2's final soft-cap), plus 2 NC.</li>
 * </ul>
 */
public record MemoryFootprint(Kind kind, long parameters, int layers, int width, int heads, int kvWidth, int mlpWidth, int vocab,
                              int context, boolean dropout, FamilyTerms terms) {
    /**
     * What a Hugging Face family's graph saves beyond Llama's (see the class comment).
     *
     * @param qWidth      the query width, heads x head_dim
     * @param extra       floats per token and layer
     * @param scores      B H T^2 tensors per layer (an attention that is not fused)
     * @param logitCopies N V tensors at the head beyond the log-softmax's
     */
    public record FamilyTerms(int qWidth, int extra, int scores, int logitCopies) {}

    /** The graph shape the activation count follows. */
    public enum Kind { GPT, CHAR_GPT, LLAMA }

    public MemoryFootprint {
        if (terms == null) terms = new FamilyTerms(width, 0, 0, 0);
        if (parameters < 0 || layers < 0 || width <= 0 || heads <= 0 || kvWidth <= 0 || mlpWidth <= 0 || vocab <= 0 || context <= 0) {
            throw new IllegalArgumentException("MemoryFootprint: sizes must be positive, got parameters=" + parameters + ", layers=" + layers
                    + ", width=" + width + ", heads=" + heads + ", kvWidth=" + kvWidth + ", mlpWidth=" + mlpWidth + ", vocab=" + vocab
                    + ", context=" + context);
        }
    }

    /** Seed 002's GPT (and GPT-2's Hugging Face checkpoints, which load into it). */
    public static MemoryFootprint of(GPTConfig c) {
        return new MemoryFootprint(Kind.GPT, c.numParameters(false), c.nLayer(), c.nEmbd(), c.nHead(), c.nEmbd(), 4 * c.nEmbd(),
                c.vocabSize(), c.blockSize(), c.dropout() > 0, null);
    }

    /** Seed 003's character-level model. */
    public static MemoryFootprint of(CharGPTConfig c) {
        return new MemoryFootprint(Kind.CHAR_GPT, c.numParameters(), c.nLayer(), c.nEmbd(), c.nHead(), c.nEmbd(), 4 * c.nEmbd(),
                c.vocabSize(), c.blockSize(), c.dropout() > 0, null);
    }

    /**
     * A Hugging Face config.json read by transformers' common names (GPT-2's n_embd, n_layer,
     * n_head, n_inner, n_positions included), with the parameter count of its weight files, and
     * what the family's graph saves beyond Llama's (MemoryFootprintTest checks every family).
     *
     * @throws IllegalArgumentException when a size is missing or not a positive integer
     */
    public static MemoryFootprint ofHuggingFace(JsonNode config, long parameters) {
        String type = config.path("model_type").asText();
        if ("gpt2".equals(type)) {
            int width = size(config, "hidden_size", "n_embd");
            int mlp = config.hasNonNull("intermediate_size") || config.hasNonNull("n_inner") ? size(config, "intermediate_size", "n_inner") : 4 * width;
            int context = config.hasNonNull("max_position_embeddings") || config.hasNonNull("n_positions")
                    ? size(config, "max_position_embeddings", "n_positions") : 1024;
            return new MemoryFootprint(Kind.GPT, parameters, size(config, "num_hidden_layers", "n_layer"), width,
                    size(config, "num_attention_heads", "n_head"), width, mlp, size(config, "vocab_size", null), context, false, null);
        }
        // the sizes as the family reads them, its defaults included (Qwen3's head_dim 128, Gemma's 256 and 16 KV heads)
        LlamaConfig d = LlamaConfig.fromJson(config, "config.json", DECODERS.getOrDefault(type, LlamaConfig.LLAMA));
        int q = d.numAttentionHeads() * d.headDim(), kv = d.numKeyValueHeads() * d.headDim(), c = d.hiddenSize();
        // Gemma 2's soft-caps are on unless config.json sets them to null (as transformers reads it)
        boolean attnCap = !config.has("attn_logit_softcapping") || !config.get("attn_logit_softcapping").isNull();
        boolean finalCap = !config.has("final_logit_softcapping") || !config.get("final_logit_softcapping").isNull();
        FamilyTerms terms = switch (type) {
            case "qwen3", "phi3" -> new FamilyTerms(q, q + kv, 0, 0);
            case "gemma2" -> new FamilyTerms(q, 2 * c, attnCap ? 2 : 0, finalCap ? 1 : 0);
            default -> new FamilyTerms(q, 0, 0, 0);
        };
        return new MemoryFootprint(Kind.LLAMA, parameters, d.numHiddenLayers(), c, d.numAttentionHeads(), kv, d.intermediateSize(),
                d.vocabSize(), d.maxPositionEmbeddings(), false, terms);
    }

    /** The families built on the Llama decoder, by model_type, for their config defaults. */
    private static final Map<String, LlamaConfig.Family> DECODERS = Map.of("llama", LlamaConfig.LLAMA, "mistral", MistralConfig.MISTRAL,
            "qwen2", Qwen2Config.QWEN2, "qwen3", Qwen3Config.QWEN3, "gemma", GemmaConfig.GEMMA, "gemma2", Gemma2Config.GEMMA2,
            "phi3", Phi3Config.PHI3);

    private static int size(JsonNode config, String key, String alias) {
        JsonNode v = config.hasNonNull(key) || alias == null ? config.path(key) : config.path(alias);
        if (!v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() <= 0) {
            throw new IllegalArgumentException("config.json: '" + key + "'" + (alias == null ? "" : " (or '" + alias + "')")
                    + " must be a positive integer, got " + (v.isMissingNode() ? "nothing" : v.toString()));
        }
        return v.asInt();
    }

    /** Bytes of the activations one training forward over [batch, seq] saves for its backward. */
    public long savedActivationBytes(int batch, int seq) {
        double n = (double) batch * seq, c = width, scores = (double) batch * heads * seq * seq;
        double perLayer = switch (kind) {
            case GPT -> dropout ? 19.5 * n * c + 3 * scores : 17 * n * c;
            case CHAR_GPT -> dropout ? 15 * n * c + 3 * scores : 14 * n * c;
            case LLAMA -> n * (4.25 * c + 3.0 * terms.qWidth() + 2.0 * kvWidth + 4.0 * mlpWidth + terms.extra()) + terms.scores() * scores;
        };
        return (long) (4 * (layers * perLayer + n * vocab * (1 + terms.logitCopies()) + 2 * n * c));
    }

    /**
     * Bytes of the largest single activation inside a layer of a training forward over [batch, seq]:
     * the MLP's hidden layer, the fused q/k/v, or (attention not fused: with dropout, or Gemma 2's soft-cap) the B H T^2
     * scores. The logits (batch x seq x vocab) come on top, at the head.
     */
    public long largestLayerActivationBytes(int batch, int seq) {
        long n = (long) batch * seq;
        long big = n * Math.max(mlpWidth, Math.max(3L * width, terms.qWidth() + 2L * kvWidth));
        if (dropout || terms.scores() > 0) big = Math.max(big, (long) batch * heads * seq * seq);
        return big * Float.BYTES;
    }

    /**
     * The element counts of the model's weight matrices, each one array on the heap (the vectors,
     * biases and norms are left out: they are small). A heap must round each large array up to
     * whole regions, which the caller counts from these.
     */
    public long[] weightMatrices() {
        long c = width, v = (long) vocab * c;
        long[] layer = switch (kind) {
            case GPT, CHAR_GPT -> new long[] {3 * c * c, c * c, (long) mlpWidth * c, (long) mlpWidth * c};
            case LLAMA -> new long[] {terms.qWidth() * c, (long) kvWidth * c, (long) kvWidth * c, terms.qWidth() * c, (long) mlpWidth * c, (long) mlpWidth * c,
                    (long) mlpWidth * c};
        };
        // the embedding, the positions (GPT) or an untied head (char_gpt; Llama's may be either: counted untied)
        long[] out = new long[layers * layer.length + 2];
        for (int l = 0; l < layers; l++) System.arraycopy(layer, 0, out, l * layer.length, layer.length);
        out[out.length - 2] = v;
        out[out.length - 1] = kind == Kind.GPT ? (long) context * c : v;
        return out;
    }

    /** Bytes one position of the KV cache takes for one sequence (keys and values of every layer, float32). */
    public long kvCacheBytesPerPosition() { return 2L * layers * kvWidth * Float.BYTES; }
}
