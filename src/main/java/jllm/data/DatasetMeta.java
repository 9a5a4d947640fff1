package jllm.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import jllm.tokenizer.CharTokenizer;
import jllm.tokenizer.Gpt2Tokenizer;
import jllm.tokenizer.Tokenizer;

/**
 * The {@code meta.json} beside {@code train.bin}/{@code val.bin}: which tokenizer made the ids and,
 * for a character vocabulary, the characters. It plays the part of nanoGPT's {@code meta.pkl}
 * in a format Java can read: {@code {"vocab_size":65,"tokenizer":"char","chars":[...]}} or
 * {@code {"tokenizer":"gpt2","vocab_size":50257}}.
 *
 * @param tokenizer {@code "char"} or {@code "gpt2"}
 * @param vocabSize number of token ids
 * @param chars the character vocabulary in id order, or null for gpt2
 */
public record DatasetMeta(String tokenizer, int vocabSize, List<String> chars) {

    public static final String FILE_NAME = "meta.json";

    private static final ObjectMapper JSON = jllm.io.StrictJson.files().enable(SerializationFeature.INDENT_OUTPUT);

    public DatasetMeta {
        chars = chars == null ? null : List.copyOf(chars);
    }

    /** The meta of data encoded with {@code tok}. */
    public static DatasetMeta of(Tokenizer tok) {
        return switch (tok) {
            case CharTokenizer c -> new DatasetMeta(CharTokenizer.TYPE, c.vocabSize(), c.chars());
            case Gpt2Tokenizer g -> new DatasetMeta(Gpt2Tokenizer.TYPE, g.vocabSize(), null);
            default -> throw new IllegalArgumentException("no meta.json form for tokenizer " + tok);
        };
    }

    /** The tokenizer that reads and writes this data. */
    public Tokenizer toTokenizer() {
        return switch (tokenizer) {
            case CharTokenizer.TYPE -> CharTokenizer.fromChars(chars);
            case Gpt2Tokenizer.TYPE -> Gpt2Tokenizer.get();
            default -> throw new IllegalArgumentException("unknown tokenizer \"" + tokenizer + "\" in meta; expected char or gpt2");
        };
    }

    public ObjectNode toJson() {
        ObjectNode n = JSON.createObjectNode();
        if (chars != null) {
            n.put("vocab_size", vocabSize);
            n.put("tokenizer", tokenizer);
            ArrayNode arr = n.putArray("chars");
            chars.forEach(arr::add);
        } else {
            n.put("tokenizer", tokenizer);
            n.put("vocab_size", vocabSize);
        }
        return n;
    }

    /** Writes {@code dir/meta.json} atomically. */
    public void write(Path dir) throws IOException {
        byte[] bytes;
        try {
            bytes = (JSON.writeValueAsString(toJson()) + "\n").getBytes(StandardCharsets.UTF_8);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        jllm.io.AtomicFiles.write(dir.resolve(FILE_NAME), ch -> {
            ByteBuffer buf = ByteBuffer.wrap(bytes);
            while (buf.hasRemaining()) ch.write(buf);
        });
    }

    /** Reads {@code dir/meta.json}, or {@code meta.json} itself if {@code path} names the file. */
    public static DatasetMeta read(Path path) throws IOException {
        Path file = Files.isDirectory(path) ? path.resolve(FILE_NAME) : path;
        if (!Files.exists(file)) throw new NoSuchFileException(file.toString(), null, "no dataset meta file");
        JsonNode n;
        try {
            n = JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is not valid JSON: " + e.getOriginalMessage(), e);
        }
        try {
            return fromJson(n);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    public static DatasetMeta fromJson(JsonNode n) {
        if (n == null || !n.isObject()) throw new IllegalArgumentException("dataset meta must be a JSON object, got " + n);
        JsonNode tok = n.get("tokenizer");
        JsonNode vs = n.get("vocab_size");
        if (tok == null || !tok.isTextual()) throw new IllegalArgumentException("dataset meta needs a \"tokenizer\" string, got " + tok);
        if (vs == null || !vs.canConvertToInt() || vs.asInt() <= 0) {
            throw new IllegalArgumentException("dataset meta needs a positive integer \"vocab_size\", got " + vs);
        }
        List<String> chars = null;
        if (CharTokenizer.TYPE.equals(tok.asText())) {
            chars = CharTokenizer.fromJson(n).chars();
            if (chars.size() != vs.asInt()) {
                throw new IllegalArgumentException("dataset meta says vocab_size " + vs.asInt() + " but lists "
                        + chars.size() + " chars");
            }
        } else if (Gpt2Tokenizer.TYPE.equals(tok.asText())) {
            if (vs.asInt() != Gpt2Tokenizer.VOCAB_SIZE) {
                throw new IllegalArgumentException("dataset meta says gpt2 with vocab_size " + vs.asInt()
                        + ", expected " + Gpt2Tokenizer.VOCAB_SIZE);
            }
        } else {
            throw new IllegalArgumentException("unknown tokenizer " + tok + " in dataset meta; expected char or gpt2");
        }
        return new DatasetMeta(tok.asText(), vs.asInt(), chars);
    }
}
