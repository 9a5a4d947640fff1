package jllm.train;

import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Named training recipes bundled as JSON in {@code jllm/presets/} (the same format
 * {@code jllm train --config FILE} reads). {@code shakespeare-char-cpu} is the default.
 */
public final class Presets {
    private Presets() {}

    public static final String DEFAULT = "shakespeare-char-cpu";
    public static final List<String> NAMES = List.of("shakespeare-char-cpu", "shakespeare-char", "seed003", "gpt2-shakespeare");
    private static final ObjectMapper JSON = jllm.io.StrictJson.files();

    public static TrainConfig load(String name) {
        return TrainConfig.fromJson(tree(name), TrainConfig.defaults());
    }

    /** Preset name -> its one-line description (the "_about" entry). */
    public static Map<String, String> descriptions() {
        Map<String, String> m = new LinkedHashMap<>();
        for (String n : NAMES) m.put(n, tree(n).path("_about").asText(""));
        return m;
    }

    private static com.fasterxml.jackson.databind.JsonNode tree(String name) {
        if (!NAMES.contains(name)) {
            throw new IllegalArgumentException("unknown preset '" + name + "'; presets: " + String.join(", ", NAMES));
        }
        try (InputStream in = Presets.class.getResourceAsStream("/jllm/presets/" + name + ".json")) {
            if (in == null) throw new IllegalStateException("preset resource jllm/presets/" + name + ".json is missing from the jar");
            return JSON.readTree(in);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read preset " + name, e);
        }
    }
}
