package jllm.io.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.tokenizer.HfTokenizer;
import jllm.tokenizer.TokenizerJson;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The tokenizer of a GGUF file ({@code tokenizer.ggml.*}, {@code tokenizer.chat_template}) to and
 * from Hugging Face's tokenizer.json + tokenizer_config.json, so that {@link HfTokenizer} runs it.
 *
 * <p>Two tokenizer models, as llama.cpp's llama-vocab.cpp reads them:
 * <ul>
 *   <li>{@code llama}: sentencepiece (Llama 2): tokens, scores, token types; llama.cpp merges the
 *       adjacent pair whose joined piece has the highest score. Read, it becomes a byte-fallback BPE
 *       whose merges are derived from the scores (transformers' LlamaConverter, as its GGUF loader
 *       does); written from such a BPE, each piece's score is minus the rank of the first merge that
 *       makes it, so llama.cpp's choice by score is the BPE's choice by rank.</li>
 *   <li>{@code gpt2}: byte-level BPE (GPT-2, Llama 3, Qwen2): tokens and merges as they are in
 *       tokenizer.json, and the pre-tokenizer named by {@code tokenizer.ggml.pre}.</li>
 * </ul>
 * Token types (1 normal, 2 unknown, 3 control, 4 user defined, 6 byte) map to tokenizer.json's
 * added tokens: unknown and control ones are special, user-defined ones are added but not special.
 */
public final class GgufTokenizer {
    public static final int NORMAL = 1, UNKNOWN = 2, CONTROL = 3, USER_DEFINED = 4, BYTE = 6;

    /** llama.cpp's pre-tokenizer names (tokenizer.ggml.pre) jllm reads, with tokenizer.json's Split regex (null: GPT-2's ByteLevel regex). */
    private static final Map<String, String> PRE_REGEX = new HashMap<>();

    static {
        String llama3 = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
        PRE_REGEX.put("default", null);
        PRE_REGEX.put("gpt-2", null);
        PRE_REGEX.put("llama-bpe", llama3);
        PRE_REGEX.put("qwen2", llama3.replace("\\p{N}{1,3}", "\\p{N}"));
    }

    private static final Pattern BYTE_PIECE = Pattern.compile("<0x[0-9A-F]{2}>");

    private GgufTokenizer() {}

    /** The tokenizer.json text and the tokenizer_config.json object made from a file's metadata. */
    public record HfFiles(String tokenizerJson, ObjectNode tokenizerConfig) {}

    /** The model's tokenizer, run by the tokenizers library; messages name the GGUF file. */
    public static HfTokenizer tokenizer(GgufFile f) {
        HfFiles h = hfFiles(f);
        return HfTokenizer.fromJson(h.tokenizerJson(), h.tokenizerConfig(), f.path());
    }

    // ------------------------------------------------------------------------------- reading

    /** tokenizer.json and tokenizer_config.json for the GGUF file's tokenizer; a missing or inconsistent key is an error naming it. */
    public static HfFiles hfFiles(GgufFile f) {
        String model = f.string("tokenizer.ggml.model", "the tokenizer model: llama or gpt2");
        List<String> tokens = Arrays.asList(f.strings("tokenizer.ggml.tokens", "the vocabulary"));
        int n = tokens.size();
        if (n == 0) throw new GgufException(f.path() + ": metadata key 'tokenizer.ggml.tokens' is empty");
        long[] types = f.has("tokenizer.ggml.token_type") ? f.integers("tokenizer.ggml.token_type", "token types") : null;
        if (types != null && types.length != n) {
            throw new GgufException(f.path() + ": metadata key 'tokenizer.ggml.token_type' has " + types.length + " entries for " + n + " tokens");
        }
        boolean spm = model.equals("llama");
        if (!spm && !model.equals("gpt2")) {
            throw new GgufException(f.path() + ": metadata key 'tokenizer.ggml.model' is '" + model + "'; jllm reads the llama (sentencepiece)"
                    + " and gpt2 (byte-level BPE) tokenizers");
        }
        // llama.cpp's defaults for a sentencepiece vocabulary: <unk> 0, <s> 1, </s> 2, bos added
        Integer bos = tokenId(f, "tokenizer.ggml.bos_token_id", spm ? 1 : null, n);
        Integer eos = tokenId(f, "tokenizer.ggml.eos_token_id", spm ? 2 : null, n);
        Integer unk = tokenId(f, "tokenizer.ggml.unknown_token_id", spm ? 0 : null, n);
        Integer pad = tokenId(f, "tokenizer.ggml.padding_token_id", null, n);
        boolean addBos = f.bool("tokenizer.ggml.add_bos_token", "whether bos starts a prompt", spm);
        boolean addEos = f.bool("tokenizer.ggml.add_eos_token", "whether eos ends a prompt", false);

        List<TokenizerJson.Added> added = new ArrayList<>();
        for (int id = 0; id < n; id++) {
            int t = types == null ? NORMAL : (int) types[id];
            if (t == UNKNOWN || t == CONTROL || t == USER_DEFINED) added.add(new TokenizerJson.Added(id, tokens.get(id), t != USER_DEFINED));
        }
        String where = f.path() + " (tokenizer.ggml.tokens)";
        String json;
        try {
            if (spm) {
                float[] scores = f.has("tokenizer.ggml.scores") ? f.floats("tokenizer.ggml.scores", "token scores") : new float[n];
                if (scores.length != n) {
                    throw new GgufException(f.path() + ": metadata key 'tokenizer.ggml.scores' has " + scores.length + " entries for " + n + " tokens");
                }
                boolean prefix = f.bool("tokenizer.ggml.add_space_prefix", "whether a space starts the text", true);
                json = TokenizerJson.sentencePiece(tokens, scores, added, unk == null ? null : tokens.get(unk), addBos && bos != null ? tokens.get(bos) : null,
                        prefix, where);
            } else {
                String pre = f.string("tokenizer.ggml.pre", "the pre-tokenizer", "default");
                if (!PRE_REGEX.containsKey(pre)) {
                    throw new GgufException(f.path() + ": metadata key 'tokenizer.ggml.pre' is '" + pre + "'; jllm reads the pre-tokenizers "
                            + String.join(", ", PRE_REGEX.keySet().stream().sorted().toList()));
                }
                List<String> merges = Arrays.asList(f.strings("tokenizer.ggml.merges", "the BPE merges of a gpt2 tokenizer"));
                for (int i = 0; i < merges.size(); i++) {
                    if (merges.get(i).split(" ", -1).length != 2) {
                        throw new GgufException(f.path() + ": metadata key 'tokenizer.ggml.merges' entry " + i + " '" + merges.get(i)
                                + "' is not two tokens separated by one space");
                    }
                }
                json = TokenizerJson.byteLevel(tokens, merges, added, PRE_REGEX.get(pre), addBos && bos != null ? tokens.get(bos) : null, where);
            }
        } catch (IllegalArgumentException e) {
            throw new GgufException(e.getMessage(), e);
        }
        ObjectNode cfg = JsonNodeFactory.instance.objectNode();
        putToken(cfg, "bos_token", bos, tokens);
        putToken(cfg, "eos_token", eos, tokens);
        putToken(cfg, "unk_token", unk, tokens);
        putToken(cfg, "pad_token", pad, tokens);
        cfg.put("add_bos_token", addBos);
        cfg.put("add_eos_token", addEos);
        if (f.has("tokenizer.chat_template")) cfg.put("chat_template", f.string("tokenizer.chat_template", "the chat template"));
        return new HfFiles(json, cfg);
    }

    private static void putToken(ObjectNode cfg, String key, Integer id, List<String> tokens) {
        if (id != null) cfg.put(key, tokens.get(id));
    }

    private static Integer tokenId(GgufFile f, String key, Integer dflt, int n) {
        Integer id = f.has(key) ? Integer.valueOf((int) f.integer(key, "a token id", 0, Integer.MAX_VALUE)) : dflt;
        if (id != null && id >= n) {
            if (!f.has(key)) return null;
            throw new GgufException(f.path() + ": metadata key '" + key + "' is " + id + ", not a token id (the vocabulary has " + n + " tokens)");
        }
        return id;
    }

    // ------------------------------------------------------------------------------- writing

    /**
     * Puts the tokenizer.ggml.* keys (and the chat template) for a Hugging Face tokenizer:
     * tokenizerJson is its tokenizer.json (for the vocabulary, merges and added tokens), tok the
     * loaded tokenizer (for bos/eos/unk/pad, whether bos and eos are added, the template). A
     * sentencepiece-style BPE (byte fallback) becomes the llama model, a GPT-2 or Llama 3 style
     * byte-level BPE the gpt2 model; anything else is an error naming the file.
     */
    public static void put(GgufWriter w, JsonNode tokenizerJson, HfTokenizer tok) {
        String where = tok.file().toString();
        JsonNode model = tokenizerJson.path("model");
        if (!model.path("type").asText("BPE").equals("BPE") || !model.path("vocab").isObject()) {
            throw new GgufException(where + ": only BPE tokenizers convert to GGUF");
        }
        int n = tok.vocabSize();
        String[] tokens = new String[n];
        model.path("vocab").properties().forEach(e -> tokens[e.getValue().asInt()] = e.getKey());
        int[] types = new int[n];
        Arrays.fill(types, NORMAL);
        for (JsonNode a : tokenizerJson.path("added_tokens")) {
            int id = a.path("id").asInt();
            tokens[id] = a.path("content").asText();
            types[id] = a.path("special").asBoolean(false) ? CONTROL : USER_DEFINED;
        }
        for (int id = 0; id < n; id++) {
            if (tokens[id] == null) throw new GgufException(where + ": no token has id " + id + "; a GGUF vocabulary has every id up to its size");
        }
        List<String> merges = new ArrayList<>();
        for (JsonNode m : model.path("merges")) {
            merges.add(m.isArray() ? m.get(0).asText() + " " + m.get(1).asText() : m.asText());
        }
        String unk = model.path("unk_token").isTextual() ? model.get("unk_token").asText() : tok.specialTokens().get("unk_token");
        Integer unkId = unk == null || tok.tokenToId(unk) < 0 ? null : tok.tokenToId(unk);
        if (model.path("byte_fallback").asBoolean(false)) {
            w.putString("tokenizer.ggml.model", "llama");
            w.putString("tokenizer.ggml.pre", "default");
            w.putStrings("tokenizer.ggml.tokens", List.of(tokens));
            w.putFloat32s("tokenizer.ggml.scores", spmScores(tokens, types, merges));
            for (int id = 0; id < n; id++) {
                if (types[id] == NORMAL && BYTE_PIECE.matcher(tokens[id]).matches()) types[id] = BYTE;
            }
            if (unkId != null) types[unkId] = UNKNOWN;
            w.putInt32s("tokenizer.ggml.token_type", types);
            w.putBool("tokenizer.ggml.add_space_prefix", prependsSpace(tokenizerJson));
        } else if (tok.family() == HfTokenizer.Family.GPT2_BYTE_LEVEL || tok.family() == HfTokenizer.Family.TIKTOKEN_BYTE_LEVEL) {
            w.putString("tokenizer.ggml.model", "gpt2");
            w.putString("tokenizer.ggml.pre", preName(tokenizerJson, where));
            w.putStrings("tokenizer.ggml.tokens", List.of(tokens));
            w.putInt32s("tokenizer.ggml.token_type", types);
            w.putStrings("tokenizer.ggml.merges", merges);
        } else {
            throw new GgufException(where + ": a BPE tokenizer that is neither sentencepiece-style (byte fallback) nor byte-level does not convert to GGUF");
        }
        putId(w, "tokenizer.ggml.bos_token_id", tok.bosTokenId());
        putId(w, "tokenizer.ggml.eos_token_id", tok.eosTokenId());
        putId(w, "tokenizer.ggml.unknown_token_id", unkId);
        String pad = tok.specialTokens().get("pad_token");
        if (pad != null && tok.tokenToId(pad) >= 0) putId(w, "tokenizer.ggml.padding_token_id", tok.tokenToId(pad));
        int[] plain = tok.encode("a"), prompt = tok.encodePrompt("a");
        w.putBool("tokenizer.ggml.add_bos_token", tok.prependedBos() != null);
        w.putBool("tokenizer.ggml.add_eos_token", tok.eosTokenId() != null && prompt.length > plain.length
                && prompt[prompt.length - 1] == tok.eosTokenId());
        if (tok.hasChatTemplate()) w.putString("tokenizer.chat_template", tok.chatTemplate());
    }

    private static void putId(GgufWriter w, String key, Integer id) {
        if (id != null) w.putUint32(key, id);
    }

    /**
     * Scores for llama.cpp's sentencepiece tokenizer: a piece made by merges scores minus the rank of
     * the first merge making it (so the best-scored pair is the lowest-ranked merge); pieces no merge
     * makes score 0 when they are single characters, specials or bytes (their score is never used) and
     * below every merge otherwise (they stay unreachable, as in the BPE).
     */
    private static float[] spmScores(String[] tokens, int[] types, List<String> merges) {
        Map<String, Integer> firstRank = new HashMap<>();
        for (int r = 0; r < merges.size(); r++) {
            firstRank.putIfAbsent(merges.get(r).replace(" ", ""), r);
        }
        float[] scores = new float[tokens.length];
        for (int id = 0; id < tokens.length; id++) {
            Integer r = firstRank.get(tokens[id]);
            if (r != null) scores[id] = -r;
            else if (types[id] == NORMAL && tokens[id].codePointCount(0, tokens[id].length()) > 1) scores[id] = -(merges.size() + id);
        }
        return scores;
    }

    /** Whether the normalizer or pre-tokenizer puts "▁" before the text (llama.cpp's add_space_prefix). */
    private static boolean prependsSpace(JsonNode tokenizerJson) {
        String norm = tokenizerJson.path("normalizer").toString();
        String pre = tokenizerJson.path("pre_tokenizer").toString();
        return norm.contains("\"Prepend\"") || (pre.contains("Metaspace") && !pre.contains("\"never\"") && !pre.contains("\"add_prefix_space\":false"));
    }

    /** llama.cpp's pre-tokenizer name for a byte-level tokenizer.json: its Split regex, or GPT-2's. */
    private static String preName(JsonNode tokenizerJson, String where) {
        JsonNode pre = tokenizerJson.path("pre_tokenizer");
        if (pre.path("type").asText().equals("ByteLevel")) return "gpt-2";
        for (JsonNode p : pre.path("pretokenizers")) {
            String regex = p.path("pattern").path("Regex").asText(null);
            if (regex == null) continue;
            for (Map.Entry<String, String> e : PRE_REGEX.entrySet()) {
                if (regex.equals(e.getValue())) return e.getKey();
            }
            throw new GgufException(where + ": its pre-tokenizer regex is none that llama.cpp names (jllm writes gpt-2, llama-bpe, qwen2)");
        }
        throw new GgufException(where + ": its pre-tokenizer is none that llama.cpp names (jllm writes gpt-2, llama-bpe, qwen2)");
    }
}
