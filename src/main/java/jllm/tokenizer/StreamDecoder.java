package jllm.tokenizer;

import java.util.Arrays;

/**
 * Turns generated ids into printable text one token at a time, emitting only complete characters.
 *
 * <p>A byte-level or byte-fallback tokenizer can split one character over several tokens; decoding
 * such a token alone gives U+FFFD. Decoding each token alone also loses context-dependent text (a
 * sentencepiece decoder strips the leading space of the first token it sees). So, like Hugging
 * Face's text-generation-inference and transformers' {@code TextStreamer}, each step decodes a
 * short window that starts at the previous emitted token and prints what the new token added,
 * holding it back while the text ends in U+FFFD. The concatenated output equals
 * {@code decode(allIds)}.
 *
 * <p>Not thread-safe: one per generation.
 */
public final class StreamDecoder {

    private final Tokenizer tokenizer;
    private int[] ids = new int[16];
    private int size;
    private int prefixOffset; // start of the context window
    private int readOffset;   // ids before this are already printed

    public StreamDecoder(Tokenizer tokenizer) {
        this.tokenizer = tokenizer;
    }

    /**
     * A decoder continuing after context (the prompt's ids, already printed): the first generated
     * token is decoded next to the context's last few tokens, so a sentencepiece "▁word" keeps its
     * space and a character split between prompt and output comes out whole.
     */
    public StreamDecoder(Tokenizer tokenizer, int[] context) {
        this.tokenizer = tokenizer;
        ids = Arrays.copyOf(context, Math.max(16, context.length * 2));
        size = readOffset = context.length;
        prefixOffset = Math.max(0, context.length - 6);
    }

    /** Adds one generated id and returns the text it completes (often "", never a partial character). */
    public String push(int id) {
        if (size == ids.length) ids = Arrays.copyOf(ids, size * 2);
        ids[size++] = id;
        String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
        String full = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size));
        if (full.length() > prefix.length() && !full.endsWith("\uFFFD") && full.startsWith(prefix)) {
            prefixOffset = readOffset;
            readOffset = size;
            return full.substring(prefix.length());
        }
        return "";
    }

    /**
     * Given all ids generated so far (a prefix of which was passed before), returns the new text.
     */
    public String next(int[] idsSoFar) {
        if (idsSoFar.length < size) throw new IllegalArgumentException("ids so far (" + idsSoFar.length
                + ") are fewer than those already seen (" + size + ")");
        StringBuilder sb = new StringBuilder();
        for (int i = size; i < idsSoFar.length; i++) sb.append(push(idsSoFar[i]));
        return sb.toString();
    }

    /** At the end of generation: whatever is still held back (possibly ending in U+FFFD). */
    public String flush() {
        String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset));
        String full = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, size));
        prefixOffset = readOffset = size;
        return full.startsWith(prefix) ? full.substring(prefix.length()) : full;
    }
}
