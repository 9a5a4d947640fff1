package jllm.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Typed reads of a request body's fields: a field of the wrong type or out of range is a 400 that
 * names it; an absent or null field takes its default. Fields the server does not know are ignored,
 * as OpenAI-compatible servers do (clients send options a server may not have).
 */
final class Fields {
    private final ObjectNode body;

    Fields(JsonNode body) {
        if (!(body instanceof ObjectNode o)) throw ApiError.badRequest("the request body must be a JSON object");
        this.body = o;
    }

    boolean has(String name) { return body.hasNonNull(name); }

    JsonNode node(String name) { return body.get(name); }

    String string(String name) {
        JsonNode n = body.get(name);
        if (n == null || n.isNull()) throw ApiError.badField(name, "'" + name + "' is required");
        if (!n.isTextual()) throw ApiError.badField(name, "'" + name + "' must be a string, got " + kind(n));
        return n.asText();
    }

    boolean bool(String name, boolean dflt) {
        JsonNode n = body.get(name);
        if (n == null || n.isNull()) return dflt;
        if (!n.isBoolean()) throw ApiError.badField(name, "'" + name + "' must be a boolean, got " + kind(n));
        return n.asBoolean();
    }

    double number(String name, double dflt, double min, double max) {
        JsonNode n = body.get(name);
        if (n == null || n.isNull()) return dflt;
        if (!n.isNumber()) throw ApiError.badField(name, "'" + name + "' must be a number, got " + kind(n));
        double v = n.asDouble();
        if (!(v >= min && v <= max)) throw ApiError.badField(name, "'" + name + "' must be in [" + min + ", " + max + "], got " + n);
        return v;
    }

    /** An integer in [min, max], or null when absent. */
    Long integer(String name, long min, long max) {
        JsonNode n = body.get(name);
        if (n == null || n.isNull()) return null;
        if (!n.isIntegralNumber() || !n.canConvertToLong()) throw ApiError.badField(name, "'" + name + "' must be an integer, got " + kind(n));
        long v = n.asLong();
        if (v < min || v > max) throw ApiError.badField(name, "'" + name + "' must be in [" + min + ", " + max + "], got " + v);
        return v;
    }

    /** OpenAI's stop: a string or an array of up to 4 non-empty strings. */
    List<String> stop() {
        JsonNode n = body.get("stop");
        List<String> out = new ArrayList<>();
        if (n == null || n.isNull()) return out;
        if (n.isTextual()) {
            out.add(n.asText());
        } else if (n.isArray()) {
            for (JsonNode s : n) {
                if (!s.isTextual()) throw ApiError.badField("stop", "'stop' must be a string or an array of strings, found " + kind(s));
                out.add(s.asText());
            }
        } else {
            throw ApiError.badField("stop", "'stop' must be a string or an array of strings, got " + kind(n));
        }
        if (out.size() > 4) throw ApiError.badField("stop", "'stop' may hold at most 4 sequences, got " + out.size());
        if (out.stream().anyMatch(String::isEmpty)) throw ApiError.badField("stop", "'stop' sequences must not be empty");
        return out;
    }

    static String kind(JsonNode n) {
        return switch (n.getNodeType()) {
            case STRING -> "a string";
            case NUMBER -> "a number";
            case BOOLEAN -> "a boolean";
            case ARRAY -> "an array";
            case OBJECT -> "an object";
            case NULL -> "null";
            default -> n.getNodeType().name().toLowerCase(java.util.Locale.ROOT);
        };
    }
}
