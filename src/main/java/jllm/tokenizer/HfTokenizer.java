package jllm.tokenizer;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * A Hugging Face {@code tokenizer.json} (plus {@code tokenizer_config.json} when present), run by
 * the Rust {@code tokenizers} library through DJL's JNI binding, so ids are those of transformers'
 * fast tokenizers.
 *
 * <p>Only BPE models are accepted: GPT-2 style byte-level BPE, Llama 3 style (tiktoken regex
 * {@code Split} + byte-level) and Llama 2 style sentencepiece BPE with byte fallback; see
 * {@link #family()}.
 *
 * <p>How {@link Tokenizer#encode(String)} maps: {@link #encode(String)} is transformers'
 * {@code tokenizer(text, add_special_tokens=False)}: nothing is added, but the text of an added
 * special token (e.g. {@code <|eot_id|>}) still becomes its single id, because the Rust library
 * always matches added tokens. {@link #encode(String, boolean)} with {@code true} adds what the
 * post-processor adds (BOS for Llama), as {@code tokenizer(text)} does; use it (or
 * {@link #encodePrompt(String)}) for a plain generation prompt, and {@link #encodeChat} for a chat.
 *
 * <p>Holds a native handle: {@link #close()} frees it early (a cleaner frees it otherwise).
 */
public final class HfTokenizer implements Tokenizer, AutoCloseable {

    /** The tokenizer families this class recognises, from the model and pre-tokenizer of the file. */
    public enum Family {
        /** GPT-2: ByteLevel pre-tokenizer with its own regex. */
        GPT2_BYTE_LEVEL("gpt2"),
        /** Llama 3 (and cl100k-like): Split on the tiktoken regex, then ByteLevel without regex. */
        TIKTOKEN_BYTE_LEVEL("llama3"),
        /** Llama 2: sentencepiece BPE, "▁" for spaces (Metaspace or Prepend+Replace), byte fallback. */
        SENTENCEPIECE_BPE("llama2"),
        /** Some other BPE arrangement; still run by the library, without family-specific claims. */
        OTHER_BPE("bpe");

        public final String id;

        Family(String id) {
            this.id = id;
        }
    }

    private static final ObjectMapper JSON = jllm.io.StrictJson.files();

    static {
        // DJL pings a usage tracker on first load unless opted out; a library must not phone home.
        if (System.getProperty("OPT_OUT_TRACKING") == null) System.setProperty("OPT_OUT_TRACKING", "true");
    }

    private final Path file;
    private final HuggingFaceTokenizer hf;
    private final Family family;
    private final Map<String, Integer> tokenToId;
    private final String[] idToToken;
    private final Integer bosId;
    private final Integer eosId;
    private final Boolean addBos; // from tokenizer_config.json; null = as the post-processor does
    private final Boolean addEos;
    private final Map<String, String> specialTokens; // bos_token, eos_token, ... for chat templates
    private final String chatTemplate;
    private final Path chatTemplateFile; // where the template came from, for its errors
    private final int modelMaxLength;

    /**
     * file names the tokenizer in messages; its bytes are tokJson, already parsed as tok. config is
     * tokenizer_config.json's object (read from configFile, named in its errors); a template not in
     * the config comes from templateFile.
     */
    private HfTokenizer(Path file, byte[] tokJson, JsonNode tok, JsonNode config, Path configFile, String chatTemplateOverride,
                        Path templateFile) {
        this.file = file;
        JsonNode model = tok.path("model");
        String type = model.path("type").asText("");
        if (type.isEmpty() && model.has("merges") && model.has("vocab")) type = "BPE"; // old files omit it
        if (!type.equals("BPE")) {
            throw new IllegalArgumentException(file + ": unsupported tokenizer model type \""
                    + (type.isEmpty() ? "(missing)" : type) + "\"; jllm supports BPE tokenizers"
                    + " (GPT-2, Llama 2, Llama 3 style), not WordPiece, Unigram or WordLevel");
        }
        this.family = detectFamily(tok);

        tokenToId = new HashMap<>();
        int max = -1;
        JsonNode vocab = model.path("vocab");
        if (!vocab.isObject()) throw new IllegalArgumentException(file + ": model.vocab is not an object");
        int entries = vocab.size() + tok.path("added_tokens").size();
        for (var it = vocab.properties().iterator(); it.hasNext(); ) {
            var e = it.next();
            int id = tokenId(file, "model.vocab['" + e.getKey() + "']", e.getValue(), entries);
            tokenToId.put(e.getKey(), id);
            max = Math.max(max, id);
        }
        for (JsonNode a : tok.path("added_tokens")) {
            int id = tokenId(file, "added_tokens '" + a.path("content").asText() + "'", a.path("id"), entries);
            tokenToId.put(a.path("content").asText(), id);
            max = Math.max(max, id);
        }
        idToToken = new String[max + 1];
        tokenToId.forEach((t, id) -> {
            if (id >= 0) idToToken[id] = t;
        });

        specialTokens = new HashMap<>();
        for (String key : List.of("bos_token", "eos_token", "unk_token", "pad_token")) {
            String v = tokenString(config.get(key), configFile, key);
            if (v != null) specialTokens.put(key, v);
        }
        if (!config.has("bos_token") && !config.has("eos_token")) guessSpecials(tok);
        for (String key : List.of("bos_token", "eos_token")) {
            String v = specialTokens.get(key);
            if (v != null && !tokenToId.containsKey(v)) {
                throw new IllegalArgumentException(configFile + ": " + key + " '" + v + "' is not a token of " + file);
            }
        }
        bosId = idOf(specialTokens.get("bos_token"));
        eosId = idOf(specialTokens.get("eos_token"));
        try {
            addBos = config.hasNonNull("add_bos_token") ? jllm.io.ConfigFields.bool(config, "add_bos_token", false) : null;
            addEos = config.hasNonNull("add_eos_token") ? jllm.io.ConfigFields.bool(config, "add_eos_token", false) : null;
            chatTemplate = chatTemplateOverride != null ? chatTemplateOverride : chatTemplateOf(config.get("chat_template"));
            chatTemplateFile = chatTemplateOverride != null ? templateFile : configFile;
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(configFile + ": " + e.getMessage(), e);
        }
        // transformers writes a huge sentinel (1e30) for "no limit"; treat anything beyond int as none.
        JsonNode mml = config.get("model_max_length");
        modelMaxLength = mml != null && mml.isNumber() && mml.asDouble() > 0 && mml.asDouble() < Integer.MAX_VALUE
                ? mml.asInt() : -1;

        // DJL would otherwise impose its default truncation (512) and padding; we want neither.
        Map<String, String> options = Map.of("addSpecialTokens", "false", "truncation", "false", "padding", "false");
        try (var in = new java.io.ByteArrayInputStream(tokJson)) {
            hf = HuggingFaceTokenizer.newInstance(in, options);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(file + ": the tokenizers library rejected this tokenizer.json: " + e.getMessage(), e);
        }
    }

    /**
     * {@code dir/tokenizer.json}, with {@code dir/tokenizer_config.json} and
     * {@code dir/chat_template.jinja} (newer transformers save the template there) when present.
     */
    public static HfTokenizer fromDirectory(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException("tokenizer directory " + dir + " does not exist");
        return fromFile(dir.resolve("tokenizer.json"));
    }

    /** A {@code tokenizer.json}; the {@code tokenizer_config.json} beside it is read when present. */
    public static HfTokenizer fromFile(Path tokenizerJson) {
        JsonNode tok = readJson(tokenizerJson, true);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(tokenizerJson);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer file " + tokenizerJson + ": " + e.getMessage(), e);
        }
        Path dir = tokenizerJson.toAbsolutePath().getParent();
        JsonNode config = readJson(dir.resolve("tokenizer_config.json"), false);
        String template = null;
        Path jinja = dir.resolve("chat_template.jinja");
        if (Files.isRegularFile(jinja)) {
            try {
                template = jllm.io.TextFiles.readUtf8(jinja);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot read chat template " + jinja + ": " + e.getMessage(), e);
            }
        }
        return new HfTokenizer(tokenizerJson, bytes, tok, config, tokenizerJson.resolveSibling("tokenizer_config.json"), template,
                tokenizerJson.resolveSibling("chat_template.jinja"));
    }

    /**
     * A tokenizer.json and tokenizer_config.json held in memory, made from another format (a GGUF
     * file's metadata); source is named in every message about them.
     */
    public static HfTokenizer fromJson(String tokenizerJson, JsonNode tokenizerConfig, Path source) {
        JsonNode tok;
        try {
            tok = JSON.readTree(tokenizerJson);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(source + ": the tokenizer.json made from it is not valid JSON: " + e.getOriginalMessage(), e);
        }
        return new HfTokenizer(source, tokenizerJson.getBytes(java.nio.charset.StandardCharsets.UTF_8), tok, tokenizerConfig, source, null, source);
    }

    private static JsonNode readJson(Path p, boolean required) {
        if (!Files.isRegularFile(p)) {
            if (required) throw new IllegalArgumentException("tokenizer file " + p + " does not exist");
            return JSON.createObjectNode();
        }
        try {
            JsonNode n = JSON.readTree(jllm.io.TextFiles.readUtf8(p));
            if (n == null || !n.isObject()) throw new IllegalArgumentException(p + ": expected a JSON object");
            return n;
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(p + " is not valid JSON: " + e.getOriginalMessage(), e);
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException("tokenizer file " + p + " does not exist", e);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read tokenizer file " + p + ": " + e.getMessage(), e);
        }
    }

    /**
     * A token id as the file gives it: a non-negative 32-bit integer, and within reach of the number
     * of entries (ids are dense in real files; a huge one would make the id table the size of the id).
     */
    private static int tokenId(Path file, String where, JsonNode v, int entries) {
        long limit = 4L * entries + 1024;
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < 0 || v.asInt() >= limit) {
            throw new IllegalArgumentException(file + ": " + where + " has id " + v + "; ids must be integers in [0, " + limit
                    + ") for a vocabulary of " + entries + " entries");
        }
        return v.asInt();
    }

    private static Family detectFamily(JsonNode tok) {
        JsonNode pre = tok.path("pre_tokenizer");
        String norm = tok.path("normalizer").toString();
        if (tok.path("model").path("byte_fallback").asBoolean(false) || norm.contains("\u2581")
                || pre.toString().contains("Metaspace")) {
            return Family.SENTENCEPIECE_BPE;
        }
        String preType = pre.path("type").asText("");
        if (preType.equals("ByteLevel") && pre.path("use_regex").asBoolean(true)) return Family.GPT2_BYTE_LEVEL;
        if (preType.equals("Sequence")) {
            boolean split = false, byteLevel = false;
            for (JsonNode p : pre.path("pretokenizers")) {
                split |= p.path("type").asText().equals("Split");
                byteLevel |= p.path("type").asText().equals("ByteLevel");
            }
            if (split && byteLevel) return Family.TIKTOKEN_BYTE_LEVEL;
        }
        return Family.OTHER_BPE;
    }

    /** A bare tokenizer.json names no bos/eos: take the post-processor's leading special and a known eos text. */
    private void guessSpecials(JsonNode tok) {
        JsonNode single = tok.path("post_processor").path("single");
        if (single.isArray() && !single.isEmpty() && single.get(0).has("SpecialToken")) {
            specialTokens.put("bos_token", single.get(0).path("SpecialToken").path("id").asText());
        }
        for (String eos : List.of("<|endoftext|>", "<|end_of_text|>", "</s>")) {
            if (tokenToId.containsKey(eos)) {
                specialTokens.put("eos_token", eos);
                break;
            }
        }
    }

    private static String tokenString(JsonNode n, Path configFile, String key) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        if (n.isObject() && n.path("content").isTextual()) return n.get("content").asText(); // AddedToken form
        throw new IllegalArgumentException(configFile + ": " + key + " must be a string or an AddedToken object with \"content\", got " + n);
    }

    /** A string, or transformers' list of {name, template} (the "default" one, else the first). */
    /**
     * chat_template: one template, or transformers' list of {name, template} of which jllm uses the
     * one named "default" (transformers refuses a list without one when no name is asked for).
     */
    private static String chatTemplateOf(JsonNode n) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        if (n.isArray()) {
            List<String> names = new java.util.ArrayList<>();
            for (JsonNode t : n) {
                if (!t.path("name").isTextual() || !t.path("template").isTextual()) {
                    throw new IllegalArgumentException("chat_template list entries must be {\"name\": ..., \"template\": ...}, got " + t);
                }
                if (t.get("name").asText().equals("default")) return t.get("template").asText();
                names.add(t.get("name").asText());
            }
            throw new IllegalArgumentException("chat_template lists templates " + names + " but none named \"default\"");
        }
        throw new IllegalArgumentException("chat_template must be a string or a list of {name, template}, got " + n.getNodeType());
    }

    private Integer idOf(String token) {
        return token == null ? null : tokenToId.get(token);
    }

    /** Text to ids adding nothing; added special-token text still maps to its single id (see class doc). */
    @Override
    public int[] encode(String text) {
        return encode(text, false);
    }

    /**
     * With {@code addSpecialTokens}, what transformers' {@code tokenizer(text)} adds: the
     * {@code add_bos_token}/{@code add_eos_token} of tokenizer_config.json when given (transformers
     * rebuilds the post-processor from them), otherwise the tokenizer.json post-processor's.
     */
    public int[] encode(String text, boolean addSpecialTokens) {
        if (text == null) throw new IllegalArgumentException("text to encode is null");
        boolean fromConfig = addBos != null || addEos != null;
        long[] ids = hf.encode(text, addSpecialTokens && !fromConfig, false).getIds();
        boolean bos = addSpecialTokens && fromConfig && Boolean.TRUE.equals(addBos) && bosId != null;
        boolean eos = addSpecialTokens && fromConfig && Boolean.TRUE.equals(addEos) && eosId != null;
        int[] out = new int[ids.length + (bos ? 1 : 0) + (eos ? 1 : 0)];
        int n = 0;
        if (bos) out[n++] = bosId;
        for (long id : ids) out[n++] = (int) id;
        if (eos) out[n] = eosId;
        return out;
    }

    /**
     * The bos id when this tokenizer prepends it to a prompt (Llama's do, GPT-2's does not), else
     * null. tokenizer_config.json or, failing that, tokenizer.json's post-processor decides, so it
     * is read off an encoding (which may also append eos).
     */
    public Integer prependedBos() {
        int[] plain = encode("a"), prompt = encodePrompt("a");
        return bosId != null && prompt.length > plain.length && prompt[0] == bosId ? bosId : null;
    }

    /** A plain (non-chat) generation prompt: the text with BOS as the model expects it. */
    public int[] encodePrompt(String prompt) {
        return encode(prompt, true);
    }

    /** Special tokens are kept, as transformers' {@code decode} does by default. */
    @Override
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    /** {@code skipSpecialTokens}: drop added tokens marked special (bos, eos, eot, headers). */
    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= idToToken.length) {
                throw new IllegalArgumentException("token id " + ids[i] + " at index " + i
                        + " is out of range for the vocabulary of size " + idToToken.length + " of " + file);
            }
            l[i] = ids[i];
        }
        return hf.decode(l, skipSpecialTokens);
    }

    /** The id of a token string as stored in the vocabulary (byte-level form, e.g. "Ġthe"), or -1. */
    public int tokenToId(String token) {
        Integer id = tokenToId.get(token);
        return id == null ? -1 : id;
    }

    /** The vocabulary string of an id (byte-level / "▁" form), or null for a hole in the id range. */
    public String idToToken(int id) {
        if (id < 0 || id >= idToToken.length) {
            throw new IllegalArgumentException("token id " + id + " is out of range for vocabulary size " + idToToken.length);
        }
        return idToToken[id];
    }

    /** Base vocabulary plus added tokens (transformers' {@code len(tokenizer)}). */
    @Override
    public int vocabSize() {
        return idToToken.length;
    }

    @Override
    public String name() {
        return "hf-" + family.id;
    }

    public Family family() {
        return family;
    }

    public Path file() {
        return file;
    }

    public Integer bosTokenId() {
        return bosId;
    }

    public Integer eosTokenId() {
        return eosId;
    }

    /** The eos token: generation stops there. */
    @Override
    public Integer eotToken() {
        return eosId;
    }

    /** bos_token, eos_token, unk_token, pad_token as strings (those the config names). */
    public Map<String, String> specialTokens() {
        return Map.copyOf(specialTokens);
    }

    /** tokenizer_config.json's model_max_length, or -1 when absent or "unlimited". */
    public int modelMaxLength() {
        return modelMaxLength;
    }

    public boolean hasChatTemplate() {
        return chatTemplate != null;
    }

    /** The chat template source, or null. */
    public String chatTemplate() {
        return chatTemplate;
    }

    /**
     * transformers' {@code apply_chat_template(messages, tokenize=False, add_generation_prompt=...)}.
     *
     * @throws IllegalStateException when the tokenizer has no chat template
     * @throws ChatTemplate.TemplateException when the template fails or calls raise_exception
     */
    public String applyChatTemplate(List<ChatTemplate.Message> messages, boolean addGenerationPrompt) {
        if (chatTemplate == null) {
            throw new IllegalStateException("tokenizer " + file + " has no chat template (no \"chat_template\" in"
                    + " tokenizer_config.json and no chat_template.jinja); use a plain prompt instead");
        }
        try {
            return new ChatTemplate(chatTemplate).render(messages, addGenerationPrompt, specialTokens);
        } catch (ChatTemplate.TemplateException e) {
            throw new ChatTemplate.TemplateException(chatTemplateFile + ": " + e.getMessage());
        }
    }

    /**
     * The ids of a chat for generation: the rendered template encoded without adding specials again,
     * as apply_chat_template does (the template writes bos itself).
     */
    public int[] encodeChat(List<ChatTemplate.Message> messages, boolean addGenerationPrompt) {
        return encode(applyChatTemplate(messages, addGenerationPrompt), false);
    }

    /** A fresh incremental decoder for printing generated tokens. */
    public StreamDecoder streamDecoder() {
        return new StreamDecoder(this);
    }

    @Override
    public void close() {
        hf.close();
    }

    @Override
    public String toString() {
        return "HfTokenizer(" + family.id + ", vocabSize=" + idToToken.length + ", " + file + ")";
    }
}
