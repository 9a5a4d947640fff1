package jllm.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Small corpora bundled in the jar, so examples and tests run offline. */
public final class Datasets {

    /** SHA-256 of Karpathy's char-rnn {@code tinyshakespeare/input.txt}. */
    public static final String TINY_SHAKESPEARE_SHA256 =
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed";

    static final String TINY_SHAKESPEARE_RESOURCE = "/jllm/data/tinyshakespeare.txt";

    private static volatile String tinyShakespeare;

    private Datasets() {}

    /**
     * Tiny Shakespeare (1,115,394 bytes, 65 distinct characters), read from the classpath and
     * checked against {@link #TINY_SHAKESPEARE_SHA256}, so a damaged copy (say, line endings
     * rewritten by a checkout) fails loudly instead of silently changing every result.
     *
     * @throws IllegalStateException if the resource is missing or its hash differs
     */
    public static String tinyShakespeare() {
        String s = tinyShakespeare;
        if (s == null) {
            s = load(TINY_SHAKESPEARE_RESOURCE, TINY_SHAKESPEARE_SHA256);
            tinyShakespeare = s;
        }
        return s;
    }

    static String load(String resource, String sha256) {
        byte[] bytes;
        try (InputStream in = Datasets.class.getResourceAsStream(resource)) {
            if (in == null) throw new IllegalStateException("bundled dataset " + resource + " is missing from the classpath");
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read bundled dataset " + resource, e);
        }
        String actual = sha256(bytes);
        if (!actual.equals(sha256)) {
            throw new IllegalStateException("bundled dataset " + resource + " is corrupt: SHA-256 is " + actual
                    + ", expected " + sha256 + " (" + bytes.length + " bytes)");
        }
        try {
            return StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(java.nio.ByteBuffer.wrap(bytes))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new IllegalStateException("bundled dataset " + resource + " is not valid UTF-8", e);
        }
    }

    static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
