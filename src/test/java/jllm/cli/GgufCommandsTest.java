package jllm.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import jllm.io.gguf.GgufFile;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static jllm.cli.ExamplesCommandTest.assertHas;
import static jllm.cli.ExamplesCommandTest.run;
import static org.junit.jupiter.api.Assertions.*;

/** convert gguf, then generate and convert hf from the GGUF file, on the trained aidreams260K model. */
class GgufCommandsTest {
    private static final Path LLAMA2C = Path.of("src/test/resources/llama2c");
    @TempDir
    static Path shared;
    private static Path model;

    @BeforeAll
    static void convert() {
        model = shared.resolve("aidreams");
        var r = run("convert", "llama2c", "--checkpoint", LLAMA2C.resolve("aidreams260K.bin").toString(),
                "--tokenizer", LLAMA2C.resolve("tok512.bin").toString(), "--out", model.toString());
        assertEquals(0, r.rc(), r.err() + r.out());
    }

    @Test
    void convertGgufThenGenerateFromTheFile(@TempDir Path dir) throws Exception {
        String want = new ObjectMapper().readTree(LLAMA2C.resolve("aidreams260K.expected.json").toFile()).get("greedy_text").asText();
        for (String dtype : new String[] {"f32", "q8_0"}) {
            Path gguf = dir.resolve("aidreams-" + dtype + ".gguf");
            var c = run("convert", "gguf", "--model", model.toString(), "--out", gguf.toString(), "--dtype", dtype);
            assertEquals(0, c.rc(), c.err());
            assertHas(c.out(), "wrote " + gguf + " (llama, 230,976 parameters, " + dtype + " matrices, "
                    + String.format(java.util.Locale.ROOT, "%,d", Files.size(gguf)) + " bytes)");
            GgufFile f = GgufFile.open(gguf);
            assertEquals("llama", f.string("general.architecture", ""));
            assertEquals("aidreams", f.string("general.name", ""));
            assertEquals(dtype.equals("f32") ? 0 : 7, f.integer("general.file_type", "", 0, 100));
            var g = run("generate", "--model", gguf.toString(), "--temperature", "0", "--max-new-tokens", "128");
            assertEquals(0, g.rc(), g.err());
            assertHas(g.err(), "loaded " + gguf + " (llama, ", "1 prompt tokens, 128 generated in ");
            if (dtype.equals("f32")) assertEquals(want.strip(), g.out().strip(), "the GGUF file generates the reference text");
            else assertTrue(g.out().startsWith(" \"Echoes of vectors unfold"), g.out());
        }
        // back to a Hugging Face directory, with tokenizer files made from the metadata
        Path hf = dir.resolve("back");
        var back = run("convert", "hf", "--model", dir.resolve("aidreams-f32.gguf").toString(), "--out", hf.toString());
        assertEquals(0, back.rc(), back.err());
        assertTrue(Files.isRegularFile(hf.resolve("tokenizer.json")) && Files.isRegularFile(hf.resolve("tokenizer_config.json")));
        var g = run("generate", "--model", hf.toString(), "--temperature", "0", "--max-new-tokens", "128");
        assertEquals(0, g.rc(), g.err());
        assertEquals(want.strip(), g.out().strip());
    }

    @Test
    void badUsageAndBadFiles(@TempDir Path dir) throws Exception {
        var dt = run("convert", "gguf", "--model", model.toString(), "--out", dir.resolve("x.gguf").toString(), "--dtype", "q5_k");
        assertEquals(2, dt.rc());
        assertHas(dt.err(), "jllm convert gguf: --dtype must be one of [f32, f16, bf16, q8_0, q4_0], got 'q5_k'");
        var toDir = run("convert", "gguf", "--model", model.toString(), "--out", dir.toString());
        assertEquals(2, toDir.rc());
        assertHas(toDir.err(), "jllm convert gguf: --out " + dir + " is a directory; give the GGUF file to write");
        Path junk = dir.resolve("junk.gguf");
        Files.write(junk, new byte[] {'G', 'G', 'U', 'F', 3, 0, 0, 0, 1});
        var bad = run("generate", "--model", junk.toString());
        assertEquals(1, bad.rc());
        assertHas(bad.err(), "jllm generate: " + junk + ": file truncated: the tensor count needs 8 bytes, only 1 remain (at byte 8)");
        var notGguf = run("generate", "--model", LLAMA2C.resolve("tok512.bin").toString());
        assertEquals(1, notGguf.rc());
        assertTrue(notGguf.err().contains("is a file but not a GGUF file"), notGguf.err());
    }
}
