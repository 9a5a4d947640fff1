package jllm.tokenizer;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Builds Hugging Face {@code tokenizer.json} files for vocabularies that come without one: a
 * sentencepiece BPE vocabulary given as pieces and scores (llama2.c's tokenizer.bin, a GGUF file's
 * {@code tokenizer.ggml.*} "llama" model), laid out as transformers' {@code LlamaConverter} does,
 * and a byte-level BPE vocabulary given as tokens and merges (a GGUF "gpt2" model). The result is
 * read by {@link HfTokenizer}, so no second tokenizer implementation exists.
 */
public final class TokenizerJson {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private TokenizerJson() {}

    /** A token outside the BPE model (tokenizer.json's added_tokens): specials are matched in text and skipped by decode(skip). */
    public record Added(int id, String content, boolean special) {}

    /** piece to id, in id order; two equal pieces are an error naming both ids (where names the vocabulary). */
    public static LinkedHashMap<String, Integer> vocab(List<String> pieces, String where) {
        LinkedHashMap<String, Integer> vocab = new LinkedHashMap<>();
        for (int id = 0; id < pieces.size(); id++) {
            Integer dup = vocab.putIfAbsent(pieces.get(id), id);
            if (dup != null) {
                throw new IllegalArgumentException(where + ": tokens " + dup + " and " + id + " are the same piece '" + pieces.get(id)
                        + "'; a tokenizer.json vocabulary needs distinct pieces");
            }
        }
        return vocab;
    }

    /**
     * BPE merges as transformers' {@code SentencePieceExtractor.extract(vocab_scores)} derives them:
     * every split of every piece into two pieces, pairs of one piece ordered by the ids of their
     * halves, then all pairs stably sorted by the merged piece's score, best first (so a merge's
     * rank follows the score sentencepiece uses to pick it).
     */
    public static List<String[]> sentencePieceMerges(List<String> pieces, float[] scores, String where) {
        LinkedHashMap<String, Integer> vocab = vocab(pieces, where);
        record Merge(String left, String right, float score) {}
        List<Merge> all = new ArrayList<>();
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            String piece = e.getKey();
            float score = scores[e.getValue()];
            List<Merge> local = new ArrayList<>();
            // Split at code point boundaries, as Python's str slicing does.
            for (int i = piece.isEmpty() ? 0 : piece.offsetByCodePoints(0, 1); i < piece.length(); i = piece.offsetByCodePoints(i, 1)) {
                String l = piece.substring(0, i);
                String r = piece.substring(i);
                if (vocab.containsKey(l) && vocab.containsKey(r)) local.add(new Merge(l, r, score));
            }
            local.sort(Comparator.<Merge>comparingInt(m -> vocab.get(m.left())).thenComparingInt(m -> vocab.get(m.right())));
            all.addAll(local);
        }
        // List.sort is stable, as Python's sorted; compare with < as Python does, so -0.0 ties 0.0.
        all.sort((a, b) -> a.score() > b.score() ? -1 : a.score() < b.score() ? 1 : 0);
        List<String[]> out = new ArrayList<>(all.size());
        for (Merge m : all) out.add(new String[] {m.left(), m.right()});
        return out;
    }

    /**
     * A Llama 2 style tokenizer.json: a BPE model with byte fallback over the pieces and the merges
     * {@link #sentencePieceMerges} derives from the scores, the normalizer
     * {@code Prepend("▁") + Replace(" ", "▁")} (without the Prepend when prependSpace is false),
     * the decoder {@code Replace("▁", " ") + ByteFallback + Fuse + Strip(" ", 1, 0)} (no Strip
     * without the Prepend) and a template adding bos (none when bos is null).
     */
    public static String sentencePiece(List<String> pieces, float[] scores, List<Added> added, String unk, String bos, boolean prependSpace,
                                       String where) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("truncation", null);
        root.put("padding", null);
        root.put("added_tokens", addedTokens(added));
        Map<String, Object> replace = ordered("type", "Replace", "pattern", Map.of("String", " "), "content", "\u2581");
        root.put("normalizer", prependSpace
                ? Map.of("type", "Sequence", "normalizers", List.of(ordered("type", "Prepend", "prepend", "\u2581"), replace))
                : replace);
        root.put("pre_tokenizer", null);
        if (bos != null) {
            root.put("post_processor", bosTemplate(bos, pieces.indexOf(bos)));
        } else {
            root.put("post_processor", null);
        }
        List<Object> decoders = new ArrayList<>(List.of(
                ordered("type", "Replace", "pattern", Map.of("String", "\u2581"), "content", " "),
                Map.of("type", "ByteFallback"),
                Map.of("type", "Fuse")));
        if (prependSpace) decoders.add(ordered("type", "Strip", "content", " ", "start", 1, "stop", 0));
        root.put("decoder", ordered("type", "Sequence", "decoders", decoders));
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", unk);
        model.put("continuing_subword_prefix", null);
        model.put("end_of_word_suffix", null);
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("vocab", vocab(pieces, where));
        // "left right" strings: the form every tokenizers version reads (pieces hold no ASCII space).
        List<String> merges = new ArrayList<>();
        for (String[] m : sentencePieceMerges(pieces, scores, where)) merges.add(m[0] + " " + m[1]);
        model.put("merges", merges);
        root.put("model", model);
        return write(root);
    }

    /** transformers' TemplateProcessing that puts bos (id bosId) before a sequence, and before each of a pair. */
    private static Map<String, Object> bosTemplate(String bos, int bosId) {
        Map<String, Object> bosSpecial = Map.of("SpecialToken", ordered("id", bos, "type_id", 0));
        return ordered(
                "type", "TemplateProcessing",
                "single", List.of(bosSpecial, Map.of("Sequence", ordered("id", "A", "type_id", 0))),
                "pair", List.of(bosSpecial, Map.of("Sequence", ordered("id", "A", "type_id", 0)),
                        Map.of("SpecialToken", ordered("id", bos, "type_id", 1)),
                        Map.of("Sequence", ordered("id", "B", "type_id", 1))),
                "special_tokens", Map.of(bos, ordered("id", bos, "ids", List.of(bosId), "tokens", List.of(bos))));
    }

    /**
     * A byte-level BPE tokenizer.json (GPT-2, and Llama 3 / Qwen2 with their split regex): the
     * tokens in byte-level form, merges as "left right" pairs, the pre-tokenizer either GPT-2's
     * ByteLevel with its own regex (splitRegex null) or {@code Split(splitRegex, Isolated)} then
     * ByteLevel without regex, the ByteLevel decoder, and a template adding bos when bos is given.
     */
    public static String byteLevel(List<String> tokens, List<String> merges, List<Added> added, String splitRegex, String bos, String where) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("truncation", null);
        root.put("padding", null);
        root.put("added_tokens", addedTokens(added));
        root.put("normalizer", null);
        Map<String, Object> byteLevel = ordered("type", "ByteLevel", "add_prefix_space", false, "trim_offsets", true,
                "use_regex", splitRegex == null);
        root.put("pre_tokenizer", splitRegex == null ? byteLevel : ordered("type", "Sequence", "pretokenizers", List.of(
                ordered("type", "Split", "pattern", Map.of("Regex", splitRegex), "behavior", "Isolated", "invert", false), byteLevel)));
        if (bos != null) {
            root.put("post_processor", bosTemplate(bos, tokens.indexOf(bos)));
        } else {
            root.put("post_processor", ordered("type", "ByteLevel", "add_prefix_space", true, "trim_offsets", false, "use_regex", true));
        }
        root.put("decoder", ordered("type", "ByteLevel", "add_prefix_space", true, "trim_offsets", true, "use_regex", true));
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", null);
        model.put("continuing_subword_prefix", "");
        model.put("end_of_word_suffix", "");
        model.put("fuse_unk", false);
        model.put("byte_fallback", false);
        model.put("vocab", vocab(tokens, where));
        model.put("merges", merges);
        root.put("model", model);
        return write(root);
    }

    private static List<Object> addedTokens(List<Added> added) {
        List<Object> out = new ArrayList<>();
        for (Added a : added) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("id", a.id());
            t.put("content", a.content());
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", a.special());
            out.add(t);
        }
        return out;
    }

    /** A map in the order given: key, value, key, value, ... */
    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** Pretty-printed JSON with a final newline. */
    public static String write(Object json) {
        try {
            return JSON.writeValueAsString(json) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
