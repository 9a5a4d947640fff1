package jllm.io;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Fields of a JSON config read exactly: a value of the wrong JSON type is an error naming the key,
 * never coerced ({@code "n_embd": "16"} is not 16, {@code "use_rslora": "yes"} is not false);
 * absent or null takes the default. Callers prefix the file.
 */
public final class ConfigFields {
    private ConfigFields() {}

    public static int integer(JsonNode n, String key, int dflt) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isIntegralNumber()) throw new IllegalArgumentException(key + " must be an integer, got " + v);
        if (!v.canConvertToInt()) throw new IllegalArgumentException(key + " must fit in 32 bits, got " + v);
        return v.asInt();
    }

    public static double number(JsonNode n, String key, double dflt) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isNumber()) throw new IllegalArgumentException(key + " must be a number, got " + v);
        return v.asDouble();
    }

    public static boolean bool(JsonNode n, String key, boolean dflt) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isBoolean()) throw new IllegalArgumentException(key + " must be true or false, got " + v);
        return v.asBoolean();
    }

    public static String text(JsonNode n, String key, String dflt) {
        JsonNode v = n.get(key);
        if (v == null || v.isNull()) return dflt;
        if (!v.isTextual()) throw new IllegalArgumentException(key + " must be a string, got " + v);
        return v.asText();
    }

    /** A token id field holding one int, a list of ints, or null (empty); absent gives dflt. */
    public static java.util.List<Integer> tokenIds(JsonNode n, String key, java.util.List<Integer> dflt) {
        JsonNode v = n.get(key);
        if (v == null) return dflt;
        java.util.List<Integer> out = new java.util.ArrayList<>();
        if (v.isArray()) v.forEach(x -> out.add(tokenId(key, x)));
        else if (v.isIntegralNumber()) out.add(tokenId(key, v));
        else if (!v.isNull()) throw new IllegalArgumentException(key + " must be an int, a list of ints or null, got " + v);
        return java.util.List.copyOf(out);
    }

    private static int tokenId(String key, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0) {
            throw new IllegalArgumentException(key + " must hold non-negative 32-bit integers, got " + v);
        }
        return v.asInt();
    }
}
