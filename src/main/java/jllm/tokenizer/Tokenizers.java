package jllm.tokenizer;

import java.util.Locale;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Tokenizers by name, and to/from the JSON form that checkpoints and {@code meta.json} store. */
public final class Tokenizers {

    private static final ObjectMapper JSON = jllm.io.StrictJson.files();

    private Tokenizers() {}

    /**
     * {@code "char"}: a {@link CharTokenizer} over the characters of {@code corpus};
     * {@code "gpt2"}: the {@link Gpt2Tokenizer} ({@code corpus} is ignored and may be null).
     */
    public static Tokenizer fromName(String name, String corpus) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case CharTokenizer.TYPE -> {
                if (corpus == null) {
                    throw new IllegalArgumentException("the char tokenizer builds its vocabulary from a text; none was given");
                }
                yield CharTokenizer.fromText(corpus);
            }
            case Gpt2Tokenizer.TYPE, "r50k_base" -> Gpt2Tokenizer.get();
            default -> throw new IllegalArgumentException("unknown tokenizer \"" + name + "\"; expected char or gpt2");
        };
    }

    /** The GPT-2 tokenizer by name; {@code "char"} needs a corpus, see {@link #fromName(String, String)}. */
    public static Tokenizer fromName(String name) {
        return fromName(name, null);
    }

    /** {@code {"type":"char","chars":[...]}} or {@code {"type":"gpt2"}}. */
    public static ObjectNode toJson(Tokenizer tokenizer) {
        return switch (tokenizer) {
            case CharTokenizer c -> c.toJsonNode();
            case Gpt2Tokenizer g -> JSON.createObjectNode().put("type", Gpt2Tokenizer.TYPE);
            default -> throw new IllegalArgumentException("no JSON form for tokenizer " + tokenizer);
        };
    }

    /** Reads {@link #toJson(Tokenizer)} output. */
    public static Tokenizer fromJson(JsonNode node) {
        JsonNode type = node == null ? null : node.get("type");
        if (type == null || !type.isTextual()) {
            throw new IllegalArgumentException("tokenizer JSON needs a \"type\" string (char or gpt2), got " + node);
        }
        return switch (type.asText()) {
            case CharTokenizer.TYPE -> CharTokenizer.fromJson(node);
            case Gpt2Tokenizer.TYPE -> Gpt2Tokenizer.get();
            default -> throw new IllegalArgumentException("unknown tokenizer type " + type + "; expected char or gpt2");
        };
    }
}
