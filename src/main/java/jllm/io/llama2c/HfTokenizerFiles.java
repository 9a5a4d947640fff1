package jllm.io.llama2c;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Hugging Face tokenizer files for a llama2.c tokenizer, as transformers' {@code LlamaConverter}
 * builds them from the sentencepiece model that tokenizer.bin was exported from (Llama 2, legacy
 * mode, BOS added): a BPE model with byte fallback whose merges come from the piece scores, the
 * normalizer {@code Prepend("▁") + Replace(" ", "▁")}, the decoder
 * {@code Replace("▁", " ") + ByteFallback + Fuse + Strip(" ", 1, 0)} and a template adding {@code <s>}.
 */
public final class HfTokenizerFiles {

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    private static final String[] SPECIALS = {"<unk>", "<s>", "</s>"};

    private HfTokenizerFiles() {}

    /**
     * Token {@code id} as a sentencepiece piece: tokenizer.bin's export wrote {@code ▁} as a space
     * and {@code <s>}/{@code </s>} as {@code "\n<s>\n"}/{@code "\n</s>\n"}, so both are undone.
     */
    public static String hfPiece(Llama2cTokenizer tok, int id) {
        if (id < SPECIALS.length) {
            return SPECIALS[id];
        }
        try {
            String s = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(tok.piece(id))).toString();
            return s.replace(' ', '\u2581');
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("token " + id + " is not valid UTF-8, so it cannot be a tokenizer.json piece", e);
        }
    }

    /** The vocabulary as tokenizer.json's {@code model.vocab}: piece to id, in id order. */
    public static LinkedHashMap<String, Integer> vocab(Llama2cTokenizer tok) {
        LinkedHashMap<String, Integer> vocab = new LinkedHashMap<>();
        for (int id = 0; id < tok.vocabSize(); id++) {
            Integer dup = vocab.putIfAbsent(hfPiece(tok, id), id);
            if (dup != null) {
                throw new IllegalArgumentException("tokens " + dup + " and " + id + " are the same piece '"
                        + hfPiece(tok, id) + "'; a tokenizer.json vocabulary needs distinct pieces");
            }
        }
        return vocab;
    }

    /**
     * BPE merges as transformers' {@code SentencePieceExtractor.extract(vocab_scores)} derives them:
     * every split of every piece into two pieces, pairs of one piece ordered by the ids of their
     * halves, then all pairs stably sorted by the merged piece's score, best first (so a merge's
     * rank follows the score run.c uses to pick it). Specials count with score 0, as in LlamaConverter.
     */
    public static List<String[]> merges(Llama2cTokenizer tok) {
        LinkedHashMap<String, Integer> vocab = vocab(tok);
        record Merge(String left, String right, float score) {}
        List<Merge> all = new ArrayList<>();
        for (Map.Entry<String, Integer> e : vocab.entrySet()) {
            String piece = e.getKey();
            float score = e.getValue() < SPECIALS.length ? 0f : tok.score(e.getValue());
            List<Merge> local = new ArrayList<>();
            // Split at code point boundaries, as Python's str slicing does.
            for (int i = piece.offsetByCodePoints(0, 1) ; i < piece.length(); i = piece.offsetByCodePoints(i, 1)) {
                String l = piece.substring(0, i);
                String r = piece.substring(i);
                if (vocab.containsKey(l) && vocab.containsKey(r)) {
                    local.add(new Merge(l, r, score));
                }
            }
            local.sort(Comparator.<Merge>comparingInt(m -> vocab.get(m.left())).thenComparingInt(m -> vocab.get(m.right())));
            all.addAll(local);
        }
        // List.sort is stable, as Python's sorted; compare with < as Python does, so -0.0 ties 0.0.
        all.sort((a, b) -> a.score() > b.score() ? -1 : a.score() < b.score() ? 1 : 0);
        List<String[]> out = new ArrayList<>(all.size());
        for (Merge m : all) {
            out.add(new String[] {m.left(), m.right()});
        }
        return out;
    }

    /** tokenizer.json. */
    public static String tokenizerJson(Llama2cTokenizer tok) {
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("version", "1.0");
        root.put("truncation", null);
        root.put("padding", null);
        List<Object> added = new ArrayList<>();
        for (int id = 0; id < SPECIALS.length; id++) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("id", id);
            t.put("content", SPECIALS[id]);
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
            added.add(t);
        }
        root.put("added_tokens", added);
        root.put("normalizer", Map.of("type", "Sequence", "normalizers", List.of(
                ordered("type", "Prepend", "prepend", "\u2581"),
                ordered("type", "Replace", "pattern", Map.of("String", " "), "content", "\u2581"))));
        root.put("pre_tokenizer", null);
        Map<String, Object> bosSpecial = Map.of("SpecialToken", ordered("id", "<s>", "type_id", 0));
        root.put("post_processor", ordered(
                "type", "TemplateProcessing",
                "single", List.of(bosSpecial, Map.of("Sequence", ordered("id", "A", "type_id", 0))),
                "pair", List.of(bosSpecial, Map.of("Sequence", ordered("id", "A", "type_id", 0)),
                        Map.of("SpecialToken", ordered("id", "<s>", "type_id", 1)),
                        Map.of("Sequence", ordered("id", "B", "type_id", 1))),
                "special_tokens", Map.of("<s>", ordered("id", "<s>", "ids", List.of(Llama2cTokenizer.BOS), "tokens", List.of("<s>")))));
        root.put("decoder", ordered("type", "Sequence", "decoders", List.of(
                ordered("type", "Replace", "pattern", Map.of("String", "\u2581"), "content", " "),
                Map.of("type", "ByteFallback"),
                Map.of("type", "Fuse"),
                ordered("type", "Strip", "content", " ", "start", 1, "stop", 0))));
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("dropout", null);
        model.put("unk_token", "<unk>");
        model.put("continuing_subword_prefix", null);
        model.put("end_of_word_suffix", null);
        model.put("fuse_unk", true);
        model.put("byte_fallback", true);
        model.put("vocab", vocab(tok));
        // "left right" strings: the form every tokenizers version reads (pieces hold no ASCII space).
        List<String> merges = new ArrayList<>();
        for (String[] m : merges(tok)) {
            merges.add(m[0] + " " + m[1]);
        }
        model.put("merges", merges);
        root.put("model", model);
        return write(root);
    }

    /** tokenizer_config.json for {@code LlamaTokenizerFast}, adding BOS and not EOS, as Llama 2. */
    public static String tokenizerConfigJson(int modelMaxLength) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("tokenizer_class", "LlamaTokenizerFast");
        c.put("add_bos_token", true);
        c.put("add_eos_token", false);
        c.put("bos_token", "<s>");
        c.put("eos_token", "</s>");
        c.put("unk_token", "<unk>");
        c.put("pad_token", null);
        c.put("legacy", true);
        c.put("clean_up_tokenization_spaces", false);
        c.put("model_max_length", modelMaxLength);
        return write(c);
    }

    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return m;
    }

    static String write(Object json) {
        try {
            return JSON.writeValueAsString(json) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
