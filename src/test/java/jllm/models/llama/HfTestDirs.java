package jllm.models.llama;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.stream.Stream;

/** The tiny Hugging Face model directories of tools/fixtures/make_hf_fixtures.py (src/test/resources/hf/NAME). */
public final class HfTestDirs {
    private HfTestDirs() {}

    public static Path dir(String name) {
        try {
            return Path.of(HfTestDirs.class.getResource("/hf/" + name + "/config.json").toURI()).getParent();
        } catch (URISyntaxException | NullPointerException e) {
            throw new IllegalStateException("test resource hf/" + name + " missing (run tools/fixtures/make_hf_fixtures.py)", e);
        }
    }

    /** A writable copy of hf/NAME under parent. */
    public static Path copy(String name, Path parent) {
        Path dst = parent.resolve(name);
        try (Stream<Path> s = Files.list(dir(name))) {
            Files.createDirectories(dst);
            for (Path p : (Iterable<Path>) s::iterator) Files.copy(p, dst.resolve(p.getFileName().toString()), StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return dst;
    }
}
