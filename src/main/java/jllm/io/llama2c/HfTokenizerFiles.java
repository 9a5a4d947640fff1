package jllm.io.llama2c;

import jllm.tokenizer.TokenizerJson;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
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
     * BPE merges as transformers' {@code SentencePieceExtractor.extract(vocab_scores)} derives them
     * ({@link TokenizerJson#sentencePieceMerges}); specials count with score 0, as in LlamaConverter.
     */
    public static List<String[]> merges(Llama2cTokenizer tok) {
        return TokenizerJson.sentencePieceMerges(pieces(tok), scores(tok), "tokenizer.bin");
    }

    private static List<String> pieces(Llama2cTokenizer tok) {
        return new ArrayList<>(vocab(tok).keySet());
    }

    private static float[] scores(Llama2cTokenizer tok) {
        float[] s = new float[tok.vocabSize()];
        for (int id = SPECIALS.length; id < s.length; id++) s[id] = tok.score(id);
        return s;
    }

    /** tokenizer.json. */
    public static String tokenizerJson(Llama2cTokenizer tok) {
        List<TokenizerJson.Added> added = new ArrayList<>();
        for (int id = 0; id < SPECIALS.length; id++) added.add(new TokenizerJson.Added(id, SPECIALS[id], true));
        return TokenizerJson.sentencePiece(pieces(tok), scores(tok), added, "<unk>", "<s>", true, "tokenizer.bin");
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

    static String write(Object json) {
        return TokenizerJson.write(json);
    }
}
