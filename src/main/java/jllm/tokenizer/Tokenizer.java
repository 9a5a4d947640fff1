package jllm.tokenizer;

import java.nio.charset.StandardCharsets;

/**
 * Maps text to token ids and back.
 *
 * <p>Implementations are immutable and thread-safe.
 */
public interface Tokenizer {

    /** The token ids of {@code text}; special-token text is encoded as ordinary text. */
    int[] encode(String text);

    /**
     * The text of {@code ids}.
     *
     * @throws IllegalArgumentException if an id is outside {@code [0, vocabSize())}
     */
    String decode(int[] ids);

    /**
     * The text of one token, for printing tokens as they are generated. A byte-level tokenizer may
     * split a multi-byte character across tokens; such a piece decodes to U+FFFD here, so streaming
     * code that must be byte-exact should collect {@link #decodeBytes(int[])} instead.
     */
    default String decode(int id) {
        return decode(new int[] {id});
    }

    /** The UTF-8 bytes of {@code ids}; byte-level tokenizers override this to return the raw bytes. */
    default byte[] decodeBytes(int[] ids) {
        return decode(ids).getBytes(StandardCharsets.UTF_8);
    }

    /** Number of distinct token ids: every id is in {@code [0, vocabSize())}. */
    int vocabSize();

    /** Short name of the scheme, as accepted by {@link Tokenizers#fromName}: {@code char} or {@code gpt2}. */
    String name();

    /** The end-of-text token id, or {@code null} when the vocabulary has none. */
    Integer eotToken();
}
