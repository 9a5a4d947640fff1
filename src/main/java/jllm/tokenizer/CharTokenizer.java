package jllm.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Character-level tokenizer: one token per Unicode code point, id = position in the vocabulary.
 *
 * <p>{@link #fromText(String)} builds the vocabulary the way the seeds and nanoGPT do
 * ({@code sorted(list(set(text)))}): the distinct code points in ascending order, so the ids agree
 * with a Python run on the same text. For Tiny Shakespeare that is 65 characters, {@code '\n'}
 * first.
 */
public final class CharTokenizer implements Tokenizer {

    public static final String TYPE = "char";

    private static final ObjectMapper JSON = jllm.io.StrictJson.files();
    // Vocabularies whose code points all fit in the BMP use a flat lookup table.
    private static final int TABLE_LIMIT = 1 << 16;

    private final int[] codePoints;        // id -> code point
    private final int[] table;             // code point -> id (or -1), when every code point < TABLE_LIMIT
    private final Map<Integer, Integer> map; // otherwise

    private CharTokenizer(int[] codePoints) {
        this.codePoints = codePoints;
        int max = -1;
        for (int cp : codePoints) max = Math.max(max, cp);
        if (max < TABLE_LIMIT) {
            table = new int[max + 1];
            Arrays.fill(table, -1);
            for (int i = 0; i < codePoints.length; i++) {
                if (table[codePoints[i]] >= 0) throw duplicate(codePoints[i]);
                table[codePoints[i]] = i;
            }
            map = null;
        } else {
            table = null;
            map = new HashMap<>();
            for (int i = 0; i < codePoints.length; i++) {
                if (map.putIfAbsent(codePoints[i], i) != null) throw duplicate(codePoints[i]);
            }
        }
    }

    private static IllegalArgumentException duplicate(int cp) {
        return new IllegalArgumentException("character vocabulary lists " + describe(cp) + " more than once");
    }

    /** The vocabulary of {@code text}: its distinct code points, sorted ascending. */
    public static CharTokenizer fromText(String text) {
        int[] cps = text.codePoints().distinct().sorted().toArray();
        if (cps.length == 0) throw new IllegalArgumentException("cannot build a character vocabulary from empty text");
        return new CharTokenizer(cps);
    }

    /**
     * A vocabulary given explicitly, id = list index (order is kept, not sorted).
     *
     * @throws IllegalArgumentException if an entry is not exactly one code point or occurs twice
     */
    public static CharTokenizer fromChars(List<String> chars) {
        if (chars.isEmpty()) throw new IllegalArgumentException("character vocabulary is empty");
        int[] cps = new int[chars.size()];
        for (int i = 0; i < cps.length; i++) {
            String c = chars.get(i);
            if (c == null || c.isEmpty() || c.codePointCount(0, c.length()) != 1) {
                throw new IllegalArgumentException("character vocabulary entry " + i
                        + " must be exactly one character (code point), got " + (c == null ? "null" : "\"" + c + "\""));
            }
            cps[i] = c.codePointAt(0);
        }
        return new CharTokenizer(cps);
    }

    /** The id of one code point, or -1. */
    public int id(int codePoint) {
        if (table != null) return codePoint >= 0 && codePoint < table.length ? table[codePoint] : -1;
        Integer id = map.get(codePoint);
        return id == null ? -1 : id;
    }

    /**
     * One id per code point of {@code text}.
     *
     * @throws IllegalArgumentException naming the character and its index (a {@code String} index)
     *     when a character is not in the vocabulary
     */
    @Override
    public int[] encode(String text) {
        int[] out = new int[text.codePointCount(0, text.length())];
        int n = 0;
        for (int i = 0; i < text.length(); ) {
            int cp = text.codePointAt(i);
            int id = id(cp);
            if (id < 0) {
                throw new IllegalArgumentException("character " + describe(cp) + " at index " + i
                        + " is not in the vocabulary of " + codePoints.length + " characters");
            }
            out[n++] = id;
            i += Character.charCount(cp);
        }
        return out;
    }

    @Override
    public String decode(int[] ids) {
        StringBuilder sb = new StringBuilder(ids.length);
        for (int i = 0; i < ids.length; i++) {
            int id = ids[i];
            if (id < 0 || id >= codePoints.length) {
                throw new IllegalArgumentException("token id " + id + " at index " + i
                        + " is out of range for a character vocabulary of size " + codePoints.length);
            }
            sb.appendCodePoint(codePoints[id]);
        }
        return sb.toString();
    }

    @Override
    public int vocabSize() {
        return codePoints.length;
    }

    @Override
    public String name() {
        return TYPE;
    }

    @Override
    public Integer eotToken() {
        return null;
    }

    /** The vocabulary, id order, one string (code point) per id. */
    public List<String> chars() {
        List<String> out = new ArrayList<>(codePoints.length);
        for (int cp : codePoints) out.add(Character.toString(cp));
        return out;
    }

    /** {@code {"type":"char","chars":[...]}}. */
    public ObjectNode toJsonNode() {
        ObjectNode node = JSON.createObjectNode();
        node.put("type", TYPE);
        ArrayNode arr = node.putArray("chars");
        for (String c : chars()) arr.add(c);
        return node;
    }

    /**
     * A Hugging Face {@code tokenizer.json} with the same ids: every character is split off on its
     * own ({@code Split} on {@code [\s\S]}, isolated) and looked up in a BPE vocabulary of the
     * characters with no merges (so each stays one token), and decoding fuses the pieces back
     * without separators; so the HF tokenizers library (and transformers' PreTrainedTokenizerFast)
     * encodes and decodes as this tokenizer does. Characters outside the vocabulary have no id there
     * either.
     */
    public ObjectNode toHuggingFaceJson() {
        ObjectNode root = com.fasterxml.jackson.databind.node.JsonNodeFactory.instance.objectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.putArray("added_tokens");
        root.putNull("normalizer");
        ObjectNode pre = root.putObject("pre_tokenizer");
        pre.put("type", "Split");
        pre.putObject("pattern").put("Regex", "[\\s\\S]");
        pre.put("behavior", "Isolated");
        pre.put("invert", false);
        root.putNull("post_processor");
        root.putObject("decoder").put("type", "Fuse");
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.putNull("continuing_subword_prefix");
        model.putNull("end_of_word_suffix");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        ObjectNode vocab = model.putObject("vocab");
        List<String> cs = chars();
        for (int i = 0; i < cs.size(); i++) vocab.put(cs.get(i), i);
        model.putArray("merges");
        return root;
    }

    /** {@code {"type":"char","chars":[...]}} as a string. */
    public String toJson() {
        try {
            return JSON.writeValueAsString(toJsonNode());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads {@link #toJson()} output. */
    public static CharTokenizer fromJson(String json) {
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("char tokenizer JSON is not valid JSON: " + e.getOriginalMessage(), e);
        }
        return fromJson(node);
    }

    /**
     * Reads a node holding a {@code "chars"} array; a {@code "type"} field, when present, must be
     * {@code "char"} (so nanoGPT-style meta objects without it are accepted too).
     */
    public static CharTokenizer fromJson(JsonNode node) {
        if (node == null || !node.isObject()) {
            throw new IllegalArgumentException("char tokenizer JSON must be an object, got " + node);
        }
        JsonNode type = node.get("type");
        if (type != null && !TYPE.equals(type.asText())) {
            throw new IllegalArgumentException("char tokenizer JSON has \"type\": " + type + ", expected \"char\"");
        }
        JsonNode arr = node.get("chars");
        if (arr == null || !arr.isArray()) {
            throw new IllegalArgumentException("char tokenizer JSON needs a \"chars\" array, got " + arr);
        }
        List<String> chars = new ArrayList<>(arr.size());
        for (int i = 0; i < arr.size(); i++) {
            JsonNode c = arr.get(i);
            if (!c.isTextual()) throw new IllegalArgumentException("\"chars\"[" + i + "] must be a string, got " + c);
            chars.add(c.asText());
        }
        return fromChars(chars);
    }

    static String describe(int cp) {
        String shown = switch (cp) {
            case '\n' -> "\\n";
            case '\r' -> "\\r";
            case '\t' -> "\\t";
            default -> Character.isISOControl(cp) ? "" : Character.toString(cp);
        };
        return (shown.isEmpty() ? "" : "'" + shown + "' ") + String.format("(U+%04X)", cp);
    }

    @Override
    public String toString() {
        return "CharTokenizer(vocabSize=" + codePoints.length + ")";
    }
}
