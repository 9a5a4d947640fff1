package jllm.io.llama2c;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jllm.tokenizer.Tokenizer;

/**
 * The tokenizer of llama2.c's {@code tokenizer.bin}: a sentencepiece BPE vocabulary exported as
 * raw UTF-8 pieces (with {@code ▁} turned into a space) and one score per piece. Encoding and
 * decoding follow run.c's {@code encode} and {@code decode} exactly, so ids match what run.c feeds
 * its model: a dummy-prefix space, one token per code point (or {@code <0xXX>} byte tokens at id
 * {@code byte + 3} when the code point is not a piece), then repeatedly merging the adjacent pair
 * whose concatenation is the best-scoring piece (leftmost on ties).
 *
 * <p>File layout: int32 max_token_length, then per token float32 score, int32 byte length, bytes.
 * The file does not record the vocabulary size (run.c takes it from the model), so {@link #read(Path)}
 * reads to the end and {@link #read(Path, int)} also checks the count against the model's.
 */
public final class Llama2cTokenizer implements Tokenizer {

    public static final int UNK = 0;
    public static final int BOS = 1;
    public static final int EOS = 2;
    /** run.c's starting best score: a merge must beat it. */
    private static final float NO_MERGE = -1e10f;

    private final int maxTokenLength;
    // Pieces as ISO-8859-1 strings: one char per byte, so concatenation and lookup are byte-exact
    // (run.c compares with strcmp) while still hashing fast.
    private final String[] pieces;
    private final float[] scores;
    private final Map<String, Integer> ids;

    private Llama2cTokenizer(int maxTokenLength, String[] pieces, float[] scores) {
        this.maxTokenLength = maxTokenLength;
        this.pieces = pieces;
        this.scores = scores;
        this.ids = new HashMap<>(pieces.length * 2);
        for (int i = 0; i < pieces.length; i++) {
            ids.putIfAbsent(pieces[i], i); // run.c's bsearch picks any duplicate; the lowest id is deterministic
        }
    }

    /** Reads every token up to the end of {@code file}. */
    public static Llama2cTokenizer read(Path file) throws IOException {
        return read(file, -1);
    }

    /** Reads {@code file}, which must hold exactly {@code vocabSize} tokens (any count if negative). */
    public static Llama2cTokenizer read(Path file, int vocabSize) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (b.remaining() < 4) {
            throw new IOException(file + ": not a llama2.c tokenizer: " + bytes.length + " bytes, too short for the max_token_length header");
        }
        int maxLen = b.getInt();
        if (maxLen <= 0) {
            throw new IOException(file + ": max_token_length " + maxLen + " must be positive");
        }
        List<String> pieces = new ArrayList<>();
        List<Float> scores = new ArrayList<>();
        while (b.hasRemaining()) {
            int id = pieces.size();
            long at = b.position();
            if (b.remaining() < 8) {
                throw new IOException(file + ": token " + id + " at byte " + at + ": needs 8 bytes for score and length, "
                        + b.remaining() + " left");
            }
            float score = b.getFloat();
            int len = b.getInt();
            if (len < 0 || len > maxLen) {
                throw new IOException(file + ": token " + id + " at byte " + at + ": length " + len
                        + " outside [0, max_token_length " + maxLen + "]");
            }
            if (b.remaining() < len) {
                throw new IOException(file + ": token " + id + " at byte " + at + ": needs " + len + " bytes, "
                        + b.remaining() + " left");
            }
            if (Float.isNaN(score)) {
                throw new IOException(file + ": token " + id + " has a NaN score");
            }
            byte[] piece = new byte[len];
            b.get(piece);
            pieces.add(new String(piece, StandardCharsets.ISO_8859_1));
            scores.add(score);
        }
        if (vocabSize >= 0 && pieces.size() != vocabSize) {
            throw new IOException(file + ": holds " + pieces.size() + " tokens but the model's vocab_size is " + vocabSize);
        }
        if (pieces.size() < 3) {
            throw new IOException(file + ": holds " + pieces.size() + " tokens; at least <unk>, <s>, </s> are required");
        }
        float[] s = new float[scores.size()];
        for (int i = 0; i < s.length; i++) {
            s[i] = scores.get(i);
        }
        return new Llama2cTokenizer(maxLen, pieces.toArray(String[]::new), s);
    }

    public int maxTokenLength() {
        return maxTokenLength;
    }

    /** The raw bytes of token {@code id} as stored in the file (spaces, not {@code ▁}). */
    public byte[] piece(int id) {
        checkId(id);
        return pieces[id].getBytes(StandardCharsets.ISO_8859_1);
    }

    public float score(int id) {
        checkId(id);
        return scores[id];
    }

    /** run.c's {@code encode(text, bos=0, eos=0)}: no BOS, as the other jllm tokenizers; see {@link #encode(String, boolean, boolean)}. */
    @Override
    public int[] encode(String text) {
        return encode(text, false, false);
    }

    /** run.c's {@code encode}; run.c prompts with {@code bos = true, eos = false}. */
    public int[] encode(String text, boolean bos, boolean eos) {
        byte[] utf8 = text.getBytes(StandardCharsets.UTF_8);
        int[] tokens = new int[utf8.length + 3];
        int n = 0;
        if (bos) {
            tokens[n++] = BOS;
        }
        if (utf8.length > 0) {
            // sentencepiece's add_dummy_prefix, as run.c approximates it
            Integer space = ids.get(" ");
            tokens[n++] = space != null ? space : byteToken(' ');
        }
        int start = 0;
        for (int i = 0; i < utf8.length; i++) {
            if ((utf8[i] & 0xC0) != 0x80) {
                start = i; // ASCII or a leading byte starts a new code point
            }
            // Gather continuation bytes, at most 4 bytes in all, as run.c does.
            if (i + 1 < utf8.length && (utf8[i + 1] & 0xC0) == 0x80 && i - start + 1 < 4) {
                continue;
            }
            Integer id = ids.get(new String(utf8, start, i - start + 1, StandardCharsets.ISO_8859_1));
            if (id != null) {
                tokens[n++] = id;
            } else {
                for (int j = start; j <= i; j++) {
                    tokens[n++] = byteToken(utf8[j] & 0xFF);
                }
            }
            start = i + 1; // a stray continuation byte after this starts its own group
        }
        while (true) {
            float best = NO_MERGE;
            int bestId = -1;
            int bestIdx = -1;
            for (int i = 0; i < n - 1; i++) {
                Integer id = ids.get(pieces[tokens[i]] + pieces[tokens[i + 1]]);
                if (id != null && scores[id] > best) {
                    best = scores[id];
                    bestId = id;
                    bestIdx = i;
                }
            }
            if (bestIdx < 0) {
                break;
            }
            tokens[bestIdx] = bestId;
            System.arraycopy(tokens, bestIdx + 2, tokens, bestIdx + 1, n - bestIdx - 2);
            n--;
        }
        if (eos) {
            tokens[n++] = EOS;
        }
        return Arrays.copyOf(tokens, n);
    }

    private int byteToken(int b) {
        int id = b + 3; // ids 0..2 are <unk>, <s>, </s>; byte tokens follow
        if (id >= pieces.length) {
            throw new IllegalArgumentException("byte 0x" + Integer.toHexString(b) + " needs byte-fallback token " + id
                    + " but the vocabulary has only " + pieces.length + " tokens");
        }
        return id;
    }

    /**
     * The text of {@code ids}, as run.c prints them: a token right after BOS loses its leading
     * space, {@code <0xXX>} tokens are raw bytes (invalid UTF-8 becomes U+FFFD here; see
     * {@link #decodeBytes(int[])}). BOS and EOS print nothing: run.c never prints them either.
     */
    @Override
    public String decode(int[] ids) {
        return new String(decodeBytes(ids), StandardCharsets.UTF_8);
    }

    @Override
    public byte[] decodeBytes(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int prev = -1;
        for (int id : ids) {
            out.writeBytes(pieceBytes(prev, id));
            prev = id;
        }
        return out.toByteArray();
    }

    /** run.c's {@code decode(prev_token, token)}: the bytes printed for {@code token} after {@code prev}. */
    public byte[] pieceBytes(int prev, int id) {
        checkId(id);
        if (id == BOS || id == EOS) {
            return new byte[0];
        }
        String p = pieces[id];
        if (prev == BOS && !p.isEmpty() && p.charAt(0) == ' ') {
            p = p.substring(1);
        }
        int b = byteValue(p);
        if (b >= 0) {
            return new byte[] {(byte) b};
        }
        return p.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** The byte of a {@code <0xXX>} piece, or -1. */
    static int byteValue(String piece) {
        if (piece.length() != 6 || !piece.startsWith("<0x") || piece.charAt(5) != '>') {
            return -1;
        }
        int hi = Character.digit(piece.charAt(3), 16);
        int lo = Character.digit(piece.charAt(4), 16);
        return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
    }

    private void checkId(int id) {
        if (id < 0 || id >= pieces.length) {
            throw new IllegalArgumentException("token id " + id + " outside [0, " + pieces.length + ")");
        }
    }

    @Override
    public int vocabSize() {
        return pieces.length;
    }

    @Override
    public String name() {
        return "llama2c";
    }

    /** {@code </s>}, as Hugging Face's {@code eos_token_id}; note llama2.c's own sampler stops on BOS instead. */
    @Override
    public Integer eotToken() {
        return EOS;
    }
}
