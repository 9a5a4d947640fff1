package jllm.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CoderResult;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reading text files so that a bad byte is reported where it is, not as a bare MalformedInputException. */
public final class TextFiles {
    private TextFiles() {}

    /**
     * The file's text, decoded strictly as UTF-8.
     *
     * @throws IllegalArgumentException naming the file, the line and the byte offset of the first
     *     byte that is not UTF-8
     */
    public static String readUtf8(Path file) throws IOException {
        byte[] bytes = Files.readAllBytes(file);
        CharsetDecoder dec = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        ByteBuffer in = ByteBuffer.wrap(bytes);
        CharBuffer out = CharBuffer.allocate(bytes.length);
        CoderResult r = dec.decode(in, out, true);
        if (!r.isError()) r = dec.flush(out);
        if (r.isError()) {
            int at = in.position(), line = 1;
            for (int i = 0; i < at; i++) if (bytes[i] == '\n') line++;
            throw new IllegalArgumentException(file + " line " + line + ": not valid UTF-8 (byte offset " + at + ", byte 0x"
                    + String.format("%02x", bytes[at] & 0xff) + ")");
        }
        return out.flip().toString();
    }
}
