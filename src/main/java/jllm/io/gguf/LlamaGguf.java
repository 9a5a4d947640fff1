package jllm.io.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * GGUF's {@code llama} architecture against transformers' LlamaForCausalLM, as llama.cpp's
 * convert_hf_to_gguf.py (LlamaModel) maps them: config.json fields to {@code llama.*} keys, tensor
 * names ({@code model.layers.N.self_attn.q_proj.weight} is {@code blk.N.attn_q.weight}), and the
 * one change of layout: q and k rows are permuted per head from HF's rotate-half RoPE to ggml's
 * interleaved pairs ({@code permute(w, n_head)}: HF row {@code j * d/2 + i} of a head is GGUF row
 * {@code 2i + j}). Mistral files use this architecture too.
 */
final class LlamaGguf {
    static final String ARCH = "llama";

    private LlamaGguf() {}

    private static final Map<String, String> TOP = Map.of(
            "model.embed_tokens.weight", "token_embd.weight",
            "model.norm.weight", "output_norm.weight",
            "lm_head.weight", "output.weight");

    private static final Map<String, String> LAYER = Map.ofEntries(
            Map.entry("input_layernorm", "attn_norm"),
            Map.entry("self_attn.q_proj", "attn_q"),
            Map.entry("self_attn.k_proj", "attn_k"),
            Map.entry("self_attn.v_proj", "attn_v"),
            Map.entry("self_attn.o_proj", "attn_output"),
            Map.entry("post_attention_layernorm", "ffn_norm"),
            Map.entry("mlp.gate_proj", "ffn_gate"),
            Map.entry("mlp.up_proj", "ffn_up"),
            Map.entry("mlp.down_proj", "ffn_down"));

    private static final Pattern HF_LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)\\.(weight|bias)");
    private static final Pattern GGUF_LAYER = Pattern.compile("blk\\.(\\d+)\\.(.+)\\.(weight|bias)");

    /** The GGUF name of a transformers key, or null when the architecture has no such tensor. */
    static String ggufName(String hfKey) {
        if (TOP.containsKey(hfKey)) return TOP.get(hfKey);
        Matcher m = HF_LAYER.matcher(hfKey);
        if (!m.matches() || !LAYER.containsKey(m.group(2))) return null;
        return "blk." + m.group(1) + "." + LAYER.get(m.group(2)) + "." + m.group(3);
    }

    /** The transformers key of a GGUF tensor name, or null for a tensor jllm's Llama does not have. */
    static String hfName(String gguf) {
        for (Map.Entry<String, String> e : TOP.entrySet()) if (e.getValue().equals(gguf)) return e.getKey();
        Matcher m = GGUF_LAYER.matcher(gguf);
        if (!m.matches()) return null;
        for (Map.Entry<String, String> e : LAYER.entrySet()) {
            if (e.getValue().equals(m.group(2))) return "model.layers." + m.group(1) + "." + e.getKey() + "." + m.group(3);
        }
        return null;
    }

    /** The heads whose rows a tensor permutes between the layouts (q: attention heads, k: kv heads), 0 for the others. */
    static int permutedHeads(String hfKey, JsonNode config) {
        if (hfKey.contains(".self_attn.q_proj.")) return config.get("num_attention_heads").asInt();
        if (hfKey.contains(".self_attn.k_proj.")) return config.get("num_key_value_heads").asInt();
        return 0;
    }

    /**
     * config.json of a llama GGUF file; the required keys are llama.cpp's (context, embedding,
     * feed-forward lengths, block and head counts, RMS epsilon) and a missing one is an error naming it.
     */
    static ObjectNode config(GgufFile f) {
        String p = ARCH + ".";
        int hidden = f.positiveInt(p + "embedding_length", "hidden_size");
        int heads = f.positiveInt(p + "attention.head_count", "num_attention_heads");
        int kv = f.has(p + "attention.head_count_kv") ? f.positiveInt(p + "attention.head_count_kv", "num_key_value_heads") : heads;
        int headDim = f.has(p + "attention.key_length") ? f.positiveInt(p + "attention.key_length", "head_dim") : hidden / heads;
        if (f.has(p + "attention.value_length") && f.positiveInt(p + "attention.value_length", "head_dim") != headDim) {
            throw new GgufException(f.path() + ": metadata keys '" + p + "attention.key_length' and '" + p + "attention.value_length' differ;"
                    + " jllm's Llama has one head_dim");
        }
        if (f.has(p + "rope.dimension_count") && f.positiveInt(p + "rope.dimension_count", "the rotary dimensions") != headDim) {
            throw new GgufException(f.path() + ": metadata key '" + p + "rope.dimension_count' is " + f.positiveInt(p + "rope.dimension_count", "")
                    + " but heads have " + headDim + " dimensions; jllm's Llama rotates whole heads");
        }
        if (f.tensors().containsKey("rope_freqs.weight")) {
            throw new GgufException(f.path() + ": tensor 'rope_freqs.weight' (Llama 3.1-style RoPE frequency factors) is not supported by jllm's GGUF reader");
        }
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.putArray("architectures").add("LlamaForCausalLM");
        o.put("model_type", "llama");
        o.put("hidden_size", hidden);
        o.put("intermediate_size", f.positiveInt(p + "feed_forward_length", "intermediate_size"));
        o.put("num_hidden_layers", (int) f.integer(p + "block_count", "num_hidden_layers", 0, Integer.MAX_VALUE));
        o.put("num_attention_heads", heads);
        o.put("num_key_value_heads", kv);
        o.put("head_dim", headDim);
        o.put("rms_norm_eps", f.number(p + "attention.layer_norm_rms_epsilon", "rms_norm_eps"));
        o.put("rope_theta", f.has(p + "rope.freq_base") ? f.number(p + "rope.freq_base", "rope_theta") : 10000.0);
        String scaling = f.string(p + "rope.scaling.type", "the RoPE scaling", "none");
        switch (scaling) {
            case "none" -> o.putNull("rope_scaling");
            case "linear" -> o.putObject("rope_scaling").put("rope_type", "linear").put("factor", f.number(p + "rope.scaling.factor", "the RoPE scaling factor"));
            default -> throw new GgufException(f.path() + ": metadata key '" + p + "rope.scaling.type' is '" + scaling
                    + "'; jllm's Llama reads none and linear");
        }
        o.put("max_position_embeddings", f.positiveInt(p + "context_length", "max_position_embeddings"));
        int vocab;
        if (f.has("tokenizer.ggml.tokens")) vocab = f.strings("tokenizer.ggml.tokens", "the vocabulary").length;
        else if (f.has(p + "vocab_size")) vocab = f.positiveInt(p + "vocab_size", "vocab_size");
        else if (f.tensors().containsKey("token_embd.weight") && f.tensor("token_embd.weight").ne().length == 2) vocab = (int) f.tensor("token_embd.weight").ne()[1];
        else throw new GgufException(f.path() + ": neither 'tokenizer.ggml.tokens' nor '" + p + "vocab_size' gives the vocabulary size");
        o.put("vocab_size", vocab);
        o.put("tie_word_embeddings", !f.tensors().containsKey("output.weight"));
        o.put("attention_bias", f.tensors().containsKey("blk.0.attn_q.bias"));
        o.put("mlp_bias", f.tensors().containsKey("blk.0.ffn_gate.bias"));
        o.put("hidden_act", "silu");
        if (f.has("tokenizer.ggml.bos_token_id")) o.put("bos_token_id", (int) f.integer("tokenizer.ggml.bos_token_id", "bos_token_id", 0, vocab - 1));
        else o.putNull("bos_token_id");
        if (f.has("tokenizer.ggml.eos_token_id")) o.put("eos_token_id", (int) f.integer("tokenizer.ggml.eos_token_id", "eos_token_id", 0, vocab - 1));
        else o.putNull("eos_token_id");
        o.put("torch_dtype", "float32");
        return o;
    }

    /**
     * The llama.* keys for a transformers Llama config.json, with the types llama.cpp reads them
     * as (uint32 sizes, float32 epsilon and base); RoPE scaling other than linear is an error.
     */
    static void putMetadata(GgufWriter w, JsonNode c, String where) {
        String p = ARCH + ".";
        int hidden = c.get("hidden_size").asInt(), heads = c.get("num_attention_heads").asInt();
        int headDim = c.path("head_dim").asInt(hidden / heads);
        w.putUint32(p + "context_length", c.get("max_position_embeddings").asLong());
        w.putUint32(p + "embedding_length", hidden);
        w.putUint32(p + "block_count", c.get("num_hidden_layers").asLong());
        w.putUint32(p + "feed_forward_length", c.get("intermediate_size").asLong());
        w.putUint32(p + "attention.head_count", heads);
        w.putUint32(p + "attention.head_count_kv", c.path("num_key_value_heads").asInt(heads));
        w.putFloat32(p + "rope.freq_base", c.path("rope_theta").asDouble(10000.0));
        w.putFloat32(p + "attention.layer_norm_rms_epsilon", c.get("rms_norm_eps").asDouble());
        if (headDim != hidden / heads) {
            w.putUint32(p + "attention.key_length", headDim);
            w.putUint32(p + "attention.value_length", headDim);
        }
        w.putUint32(p + "vocab_size", c.get("vocab_size").asLong());
        w.putUint32(p + "rope.dimension_count", headDim);
        JsonNode rs = c.path("rope_scaling");
        if (rs.isObject()) {
            String type = rs.path("rope_type").asText(rs.path("type").asText("default"));
            if (type.equals("linear")) {
                w.putString(p + "rope.scaling.type", "linear");
                w.putFloat32(p + "rope.scaling.factor", rs.get("factor").asDouble());
            } else if (!type.equals("default")) {
                throw new GgufException(where + ": rope_scaling '" + type + "' is not written to GGUF by jllm (it writes linear RoPE scaling)");
            }
        }
    }
}
