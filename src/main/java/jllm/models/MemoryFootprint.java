package jllm.models;

import com.fasterxml.jackson.databind.JsonNode;
import jllm.models.gpt.CharGPTConfig;
import jllm.models.gpt.GPTConfig;

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
 *   <li>Llama and the other Hugging Face families: 7.25 C + 4 I + 2 KV floats per token and layer
 *       (two RMSNorms, the q/k/v, o, gate/up and down inputs, SiLU and the gate product, the
 *       attention's q, k, v and output), I the MLP width and KV the key/value width; with LoRA the
 *       frozen projections save less, so this bounds it from above;</li>
 *   <li>and the head: N V for the cross-entropy's log-softmax, plus 2 NC.</li>
 * </ul>
 */
public record MemoryFootprint(Kind kind, long parameters, int layers, int width, int heads, int kvWidth, int mlpWidth, int vocab,
                              int context, boolean dropout) {
    /** The graph shape the activation count follows. */
    public enum Kind { GPT, CHAR_GPT, LLAMA }

    public MemoryFootprint {
        if (parameters < 0 || layers < 0 || width <= 0 || heads <= 0 || kvWidth <= 0 || mlpWidth <= 0 || vocab <= 0 || context <= 0) {
            throw new IllegalArgumentException("MemoryFootprint: sizes must be positive, got parameters=" + parameters + ", layers=" + layers
                    + ", width=" + width + ", heads=" + heads + ", kvWidth=" + kvWidth + ", mlpWidth=" + mlpWidth + ", vocab=" + vocab
                    + ", context=" + context);
        }
    }

    /** Seed 002's GPT (and GPT-2's Hugging Face checkpoints, which load into it). */
    public static MemoryFootprint of(GPTConfig c) {
        return new MemoryFootprint(Kind.GPT, c.numParameters(false), c.nLayer(), c.nEmbd(), c.nHead(), c.nEmbd(), 4 * c.nEmbd(),
                c.vocabSize(), c.blockSize(), c.dropout() > 0);
    }

    /** Seed 003's character-level model. */
    public static MemoryFootprint of(CharGPTConfig c) {
        return new MemoryFootprint(Kind.CHAR_GPT, c.numParameters(), c.nLayer(), c.nEmbd(), c.nHead(), c.nEmbd(), 4 * c.nEmbd(),
                c.vocabSize(), c.blockSize(), c.dropout() > 0);
    }

    /**
     * A Hugging Face config.json read by transformers' common names (GPT-2's n_embd, n_layer,
     * n_head, n_inner, n_positions included), with the parameter count of its weight files. The
     * families differ in details (Gemma's head_dim, Phi-3's fused projections) that move these
     * totals by a few percent, which the heap's margin covers.
     *
     * @throws IllegalArgumentException when a size is missing or not a positive integer
     */
    public static MemoryFootprint ofHuggingFace(JsonNode config, long parameters) {
        boolean gpt2 = "gpt2".equals(config.path("model_type").asText());
        int width = size(config, "hidden_size", "n_embd");
        int layers = size(config, "num_hidden_layers", "n_layer");
        int heads = size(config, "num_attention_heads", "n_head");
        int kvHeads = config.hasNonNull("num_key_value_heads") ? size(config, "num_key_value_heads", null) : heads;
        int headDim = config.hasNonNull("head_dim") ? size(config, "head_dim", null) : width / heads;
        int mlp = config.hasNonNull("intermediate_size") || config.hasNonNull("n_inner") ? size(config, "intermediate_size", "n_inner") : 4 * width;
        int context = config.hasNonNull("max_position_embeddings") || config.hasNonNull("n_positions")
                ? size(config, "max_position_embeddings", "n_positions") : 2048;
        return new MemoryFootprint(gpt2 ? Kind.GPT : Kind.LLAMA, parameters, layers, width, heads, kvHeads * headDim, mlp,
                size(config, "vocab_size", null), context, false);
    }

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
            case LLAMA -> n * (7.25 * c + 4.0 * mlpWidth + 2.0 * kvWidth);
        };
        return (long) (4 * (layers * perLayer + n * vocab + 2 * n * c));
    }

    /**
     * Bytes of the largest single activation inside a layer of a training forward over [batch, seq]:
     * the MLP's hidden layer, the fused q/k/v, or (attention not fused, with dropout) the B H T^2
     * scores. The logits (batch x seq x vocab) come on top, at the head.
     */
    public long largestLayerActivationBytes(int batch, int seq) {
        long n = (long) batch * seq;
        long big = n * Math.max(mlpWidth, 3L * width);
        if (dropout) big = Math.max(big, (long) batch * heads * seq * seq);
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
            case LLAMA -> new long[] {c * c, (long) kvWidth * c, (long) kvWidth * c, c * c, (long) mlpWidth * c, (long) mlpWidth * c,
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
