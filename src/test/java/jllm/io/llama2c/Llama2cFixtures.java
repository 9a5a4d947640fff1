package jllm.io.llama2c;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/** The llama2c test files (copies of /work/shared/fixtures/llama2c) and tiny synthetic checkpoints. */
final class Llama2cFixtures {

    private Llama2cFixtures() {}

    static Path resource(String name) {
        try {
            return Path.of(Llama2cFixtures.class.getResource("/llama2c/" + name).toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static Path model() {
        return resource("aidreams260K.bin");
    }

    static Path tokenizer() {
        return resource("tok512.bin");
    }

    static Path expected() {
        return resource("aidreams260K.expected.json");
    }

    /**
     * Writes a legacy (version 0) checkpoint whose float at flat index i (after the header) is i,
     * so every weight's origin can be read off its value.
     */
    static Path writeV0(Path file, int dim, int hidden, int layers, int heads, int kvHeads, int vocab, int seqLen,
                        boolean shared) throws IOException {
        Llama2cConfig c = new Llama2cConfig(0, dim, hidden, layers, heads, kvHeads, vocab, seqLen, shared);
        long size = Llama2cCheckpoint.expectedSize(c);
        ByteBuffer b = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(dim).putInt(hidden).putInt(layers).putInt(heads).putInt(kvHeads).putInt(shared ? vocab : -vocab).putInt(seqLen);
        for (int i = 0; b.hasRemaining(); i++) {
            b.putFloat(i);
        }
        Files.write(file, b.array());
        return file;
    }
}
