package jllm.models.llama;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Qwen2/Qwen3's sliding-window fields of config.json, as their configs resolve them:
 * {@code sliding_window} counts only when {@code use_sliding_window}; {@code layer_types} says per
 * layer "sliding_attention" or "full_attention" and defaults to sliding from
 * {@code max_window_layers} on.
 *
 * @param window the window when use_sliding_window is on, else null (as the configs store it)
 */
public record SlidingWindows(boolean use, Integer window, int maxWindowLayers, List<String> layerTypes) {
    public static final String SLIDING = "sliding_attention", FULL = "full_attention";

    public SlidingWindows {
        layerTypes = List.copyOf(layerTypes);
        for (String t : layerTypes) {
            if (!t.equals(SLIDING) && !t.equals(FULL)) throw new IllegalArgumentException("layer_types holds '" + t + "' (known: " + FULL + ", " + SLIDING + ")");
        }
        if (window != null && window <= 0) throw new IllegalArgumentException("sliding_window must be positive, got " + window);
    }

    /** Reads the fields for a model of layers layers; a layer_types list of another length is an error. */
    public static SlidingWindows fromJson(JsonNode n, int layers) {
        boolean use = n.hasNonNull("use_sliding_window") && n.get("use_sliding_window").asBoolean();
        Integer window = use ? jllm.io.ConfigFields.integer(n, "sliding_window", 4096) : null;
        int maxWindowLayers = jllm.io.ConfigFields.integer(n, "max_window_layers", 28);
        List<String> types = new ArrayList<>();
        JsonNode t = n.get("layer_types");
        if (t != null && !t.isNull()) {
            if (!t.isArray() || t.size() != layers) throw new IllegalArgumentException("layer_types must list " + layers + " layer types, got " + t);
            t.forEach(x -> types.add(x.asText()));
        } else {
            for (int i = 0; i < layers; i++) types.add(window != null && i >= maxWindowLayers ? SLIDING : FULL);
        }
        return new SlidingWindows(use, window, maxWindowLayers, types);
    }

    /** None: every layer full attention. */
    public static SlidingWindows none(int layers) {
        return fromJson(com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode(), layers);
    }

    /** Each layer's window for the decoder (0 = full attention). */
    public int[] perLayer() {
        int[] w = new int[layerTypes.size()];
        for (int i = 0; i < w.length; i++) w[i] = window != null && layerTypes.get(i).equals(SLIDING) ? window : 0;
        return w;
    }

    public void writeTo(ObjectNode o) {
        o.put("use_sliding_window", use);
        if (window == null) o.putNull("sliding_window");
        else o.put("sliding_window", window);
        o.put("max_window_layers", maxWindowLayers);
        ArrayNode a = o.putArray("layer_types");
        layerTypes.forEach(a::add);
    }
}
