package jllm.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * Typed reads of a request body's fields: a field of the wrong type or out of range is a 400 that
 * names it; an absent or null field takes its default. OpenAI parameters that would change the
 * answer and that this server does not implement are refused ({@link #refuseUnsupported}); fields it
 * does not know at all, and known ones that change nothing here (user, metadata, store, ...), are
 * ignored, as OpenAI-compatible servers do.
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

    /**
     * Refuses, with a 400 naming the parameter (code unsupported_parameter), each OpenAI request
     * parameter this server does not implement when it asks for something: a client that asks for
     * log-probabilities, tools, JSON output, penalties or biases must not get an answer that silently
     * lacks them. A parameter at its neutral value (logprobs false, penalties 0, best_of 1, echo false,
     * an empty suffix / logit_bias / tools list, tool_choice "none" or "auto", response_format
     * {"type": "text"}, modalities ["text"]) is accepted, since some clients always send it.
     */
    void refuseUnsupported() {
        for (String p : List.of("presence_penalty", "frequency_penalty")) {
            if (number(p, 0, -2, 2) != 0) throw unsupported(p, "penalties are not implemented; send 0 or leave it out");
        }
        JsonNode n = body.get("logprobs");
        if (n != null && !n.isNull() && !(n.isBoolean() && !n.asBoolean())) throw unsupported("logprobs", "log-probabilities are not returned");
        n = body.get("top_logprobs");
        if (n != null && !n.isNull() && !(n.isIntegralNumber() && n.asLong() == 0)) throw unsupported("top_logprobs", "log-probabilities are not returned");
        Long bestOf = integer("best_of", 1, 20);
        if (bestOf != null && bestOf > 1) throw unsupported("best_of", "only best_of 1 is implemented; use n for several choices");
        if (bool("echo", false)) throw unsupported("echo", "the prompt is not echoed");
        n = body.get("suffix");
        if (n != null && !n.isNull() && !(n.isTextual() && n.asText().isEmpty())) throw unsupported("suffix", "insertion (a suffix) is not implemented");
        n = body.get("logit_bias");
        if (n != null && !n.isNull() && !(n.isObject() && n.isEmpty())) throw unsupported("logit_bias", "logit biases are not implemented");
        for (String p : List.of("tools", "functions")) {
            n = body.get(p);
            if (n != null && !n.isNull() && !(n.isArray() && n.isEmpty())) throw unsupported(p, "tool and function calling are not implemented");
        }
        for (String p : List.of("tool_choice", "function_call")) {
            n = body.get(p);
            if (n != null && !n.isNull() && !(n.isTextual() && (n.asText().equals("none") || n.asText().equals("auto")))) {
                throw unsupported(p, "tool and function calling are not implemented; only \"none\" or \"auto\" (no tools) is accepted");
            }
        }
        n = body.get("response_format");
        if (n != null && !n.isNull() && !(n.isObject() && n.size() == 1 && "text".equals(n.path("type").asText(null)))) {
            throw unsupported("response_format", "only {\"type\": \"text\"} is implemented (no JSON mode or schemas)");
        }
        n = body.get("modalities");
        if (n != null && !n.isNull() && !(n.isArray() && n.size() == 1 && "text".equals(n.get(0).asText(null)))) {
            throw unsupported("modalities", "only [\"text\"] is implemented");
        }
        for (String p : List.of("audio", "prediction", "web_search_options")) {
            if (has(p)) throw unsupported(p, "this server generates plain text only");
        }
    }

    private static ApiError unsupported(String param, String why) {
        return new ApiError(400, "invalid_request_error", param, "unsupported_parameter",
                "Unsupported parameter: '" + param + "' is not supported by jllm serve (" + why + ")");
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
