package jllm.models.gemma;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.SlidingWindows;

import java.util.ArrayList;
import java.util.List;

/**
 * transformers' Gemma2Config: Gemma's decoder sizes plus query_pre_attn_scalar, the attention and
 * final logit soft-caps (null: off) and the sliding window of the layers layer_types marks
 * sliding (by default the even ones: 0, 2, ...).
 */
public record Gemma2Config(LlamaConfig decoder, double queryPreAttnScalar, Double attnLogitSoftcapping, Double finalLogitSoftcapping,
                           Integer slidingWindow, List<String> layerTypes) {

    public static final LlamaConfig.Family GEMMA2 = new LlamaConfig.Family("gemma2", "Gemma2ForCausalLM", 8192, 2, List.of(1), 4, 256,
            true, "hidden_activation", "gelu_pytorch_tanh");

    public Gemma2Config {
        layerTypes = List.copyOf(layerTypes);
        if (layerTypes.size() != decoder.numHiddenLayers()) {
            throw new IllegalArgumentException("layer_types lists " + layerTypes.size() + " layers, the model has " + decoder.numHiddenLayers());
        }
        for (String t : layerTypes) {
            if (!t.equals(SlidingWindows.SLIDING) && !t.equals(SlidingWindows.FULL)) {
                throw new IllegalArgumentException("layer_types holds '" + t + "' (known: " + SlidingWindows.FULL + ", " + SlidingWindows.SLIDING + ")");
            }
        }
        if (!(queryPreAttnScalar > 0)) throw new IllegalArgumentException("query_pre_attn_scalar must be positive, got " + queryPreAttnScalar);
        for (Double cap : new Double[] {attnLogitSoftcapping, finalLogitSoftcapping}) {
            if (cap != null && !(cap > 0)) throw new IllegalArgumentException("soft-capping must be positive or null, got " + cap);
        }
        if (slidingWindow != null && slidingWindow <= 0) throw new IllegalArgumentException("sliding_window must be positive, got " + slidingWindow);
    }

    public static Gemma2Config fromJson(JsonNode n, Object source) {
        LlamaConfig d = LlamaConfig.fromJson(n, source, GEMMA2);
        try {
            List<String> types = new ArrayList<>();
            JsonNode t = n.get("layer_types");
            if (t != null && !t.isNull()) {
                if (!t.isArray()) throw new IllegalArgumentException("layer_types must be a list, got " + t);
                t.forEach(x -> types.add(x.asText()));
            } else {
                for (int i = 0; i < d.numHiddenLayers(); i++) types.add((i + 1) % 2 == 1 ? SlidingWindows.SLIDING : SlidingWindows.FULL);
            }
            return new Gemma2Config(d, number(n, "query_pre_attn_scalar", 256.0), optional(n, "attn_logit_softcapping", 50.0),
                    optional(n, "final_logit_softcapping", 30.0),
                    n.has("sliding_window") && n.get("sliding_window").isNull() ? null : jllm.io.ConfigFields.integer(n, "sliding_window", 4096), types);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
        }
    }

    private static double number(JsonNode n, String key, double dflt) {
        Double v = optional(n, key, dflt);
        if (v == null) throw new IllegalArgumentException(key + " must be a number, got null");
        return v;
    }

    /** A number, its default when absent, null when the file says null. */
    private static Double optional(JsonNode n, String key, double dflt) {
        JsonNode v = n.get(key);
        if (v == null) return dflt;
        if (v.isNull()) return null;
        if (!v.isNumber()) throw new IllegalArgumentException(key + " must be a number or null, got " + v);
        return v.asDouble();
    }

    /** Each layer's window for the decoder (0 = full attention). */
    public int[] windows() {
        int[] w = new int[layerTypes.size()];
        for (int i = 0; i < w.length; i++) w[i] = slidingWindow != null && layerTypes.get(i).equals(SlidingWindows.SLIDING) ? slidingWindow : 0;
        return w;
    }

    public ObjectNode toJson() {
        ObjectNode o = GemmaConfig.write(decoder, GEMMA2);
        o.put("query_pre_attn_scalar", queryPreAttnScalar);
        if (attnLogitSoftcapping == null) o.putNull("attn_logit_softcapping");
        else o.put("attn_logit_softcapping", attnLogitSoftcapping);
        if (finalLogitSoftcapping == null) o.putNull("final_logit_softcapping");
        else o.put("final_logit_softcapping", finalLogitSoftcapping);
        if (slidingWindow == null) o.putNull("sliding_window");
        else o.put("sliding_window", slidingWindow);
        ArrayNode a = o.putArray("layer_types");
        layerTypes.forEach(a::add);
        return o;
    }

    /** Gemma's count plus the two feed-forward norms of every layer. */
    public long numParameters() {
        return decoder.numParameters() + 2L * decoder.numHiddenLayers() * decoder.hiddenSize();
    }
}
