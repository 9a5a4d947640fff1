package jllm.tokenizer;

import java.nio.charset.StandardCharsets;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;

/**
 * GPT-2's byte-level BPE (tiktoken's {@code gpt2} = {@code r50k_base}), through JTokkit.
 *
 * <p>{@link #encode(String)} treats all text as ordinary, like tiktoken's {@code encode_ordinary}:
 * the text {@code <|endoftext|>} becomes ordinary tokens. {@link #encodeWithSpecial(String)}
 * turns it into {@link #EOT} (tiktoken's {@code allowed_special="all"}).
 */
public final class Gpt2Tokenizer implements Tokenizer {

    public static final String TYPE = "gpt2";
    public static final int VOCAB_SIZE = 50257;
    public static final int EOT = 50256;
    public static final String EOT_TEXT = "<|endoftext|>";

    private static final Gpt2Tokenizer INSTANCE = new Gpt2Tokenizer();

    private static final class Holder {
        // Loading the BPE ranks takes a moment; do it on first use, once per JVM.
        static final Encoding ENCODING = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    }

    private Gpt2Tokenizer() {}

    /** The shared instance (the tokenizer is stateless). */
    public static Gpt2Tokenizer get() {
        return INSTANCE;
    }

    @Override
    public int[] encode(String text) {
        return Holder.ENCODING.encodeOrdinary(text).toArray();
    }

    /** Like {@link #encode(String)} but each {@code <|endoftext|>} becomes the single token {@link #EOT}. */
    public int[] encodeWithSpecial(String text) {
        IntArrayList out = new IntArrayList();
        int from = 0;
        while (true) {
            int at = text.indexOf(EOT_TEXT, from);
            String piece = at < 0 ? text.substring(from) : text.substring(from, at);
            if (!piece.isEmpty()) {
                IntArrayList ids = Holder.ENCODING.encodeOrdinary(piece);
                for (int i = 0; i < ids.size(); i++) out.add(ids.get(i));
            }
            if (at < 0) break;
            out.add(EOT);
            from = at + EOT_TEXT.length();
        }
        return out.toArray();
    }

    /** Invalid UTF-8 (a character split across the ids' boundary) decodes to U+FFFD, as in tiktoken. */
    @Override
    public String decode(int[] ids) {
        return new String(decodeBytes(ids), StandardCharsets.UTF_8);
    }

    @Override
    public byte[] decodeBytes(int[] ids) {
        IntArrayList list = new IntArrayList(ids.length);
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || ids[i] >= VOCAB_SIZE) {
                throw new IllegalArgumentException("token id " + ids[i] + " at index " + i
                        + " is out of range for the GPT-2 vocabulary of size " + VOCAB_SIZE);
            }
            list.add(ids[i]);
        }
        return Holder.ENCODING.decodeBytes(list);
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public String name() {
        return TYPE;
    }

    @Override
    public Integer eotToken() {
        return EOT;
    }

    @Override
    public String toString() {
        return "Gpt2Tokenizer(r50k_base, vocabSize=" + VOCAB_SIZE + ")";
    }
}
