package jllm.generate;

import jllm.models.PretrainedModel;
import jllm.tokenizer.HfTokenizer;
import jllm.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.List;

/**
 * Which special tokens start and end text for a model and its tokenizer, decided once for every
 * command: config.json's bos/eos win (as transformers' generate reads generation settings from the
 * model's config), the tokenizer's fill in what the config lacks.
 *
 * @param bos the beginning-of-sequence id, or null
 * @param eos the end-of-sequence ids (generation stops at any of them); empty when none
 */
public record SpecialTokens(Integer bos, List<Integer> eos) {
    public SpecialTokens {
        eos = List.copyOf(eos);
    }

    /** A Hugging Face model and its tokenizer. */
    public static SpecialTokens of(PretrainedModel model, HfTokenizer tok) {
        Integer bos = model.bosTokenId() != null ? model.bosTokenId() : tok.bosTokenId();
        List<Integer> eos = !model.eosTokenIds().isEmpty() ? model.eosTokenIds()
                : tok.eosTokenId() != null ? List.of(tok.eosTokenId()) : List.of();
        return new SpecialTokens(bos, eos);
    }

    /** A checkpoint's tokenizer (char or GPT-2): its end-of-text token, GPT-2's <|endoftext|>, is both. */
    public static SpecialTokens of(Tokenizer tok) {
        Integer eot = tok.eotToken();
        return new SpecialTokens(eot, eot == null ? List.of() : List.of(eot));
    }

    /** The prompt, or for an empty one the token text starts from: bos, else the first eos. */
    public int[] startIfEmpty(int[] prompt) {
        if (prompt.length > 0) return prompt;
        Integer start = bos != null ? bos : eos.isEmpty() ? null : eos.get(0);
        if (start == null) throw new IllegalArgumentException("the prompt is empty and there is no bos or eos token to start from");
        return new int[] {start};
    }

    /** Generation's stop tokens. */
    public List<Long> stopTokens() {
        List<Long> out = new ArrayList<>();
        for (int e : eos) out.add((long) e);
        return out;
    }

    /** The token appended after a fine-tuning response so that the model learns to stop; null when none. */
    public Integer responseEos() {
        return eos.isEmpty() ? null : eos.get(0);
    }
}
