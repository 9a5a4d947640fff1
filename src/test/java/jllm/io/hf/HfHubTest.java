package jllm.io.hf;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Model references against a fake Hugging Face cache (never the real home directory, never the network). */
class HfHubTest {
    @TempDir
    Path cache;

    @Test
    void localDirectoryWins() {
        assertEquals(cache, HfHub.resolve(cache.toString(), cache.resolve("nowhere")));
    }

    @Test
    void refsMainPicksTheSnapshot() throws Exception {
        Path repo = cache.resolve("models--meta-llama--Llama-3.2-1B");
        String aaa = "a".repeat(40), bbb = "b".repeat(40);
        Files.createDirectories(repo.resolve("snapshots/" + aaa));
        Files.createDirectories(repo.resolve("snapshots/" + bbb));
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), aaa + "\n");
        Files.setLastModifiedTime(repo.resolve("snapshots/" + bbb), FileTime.fromMillis(System.currentTimeMillis() + 100_000));
        assertEquals(repo.resolve("snapshots/" + aaa), HfHub.resolve("meta-llama/Llama-3.2-1B", cache));
        Files.delete(repo.resolve("refs/main"));
        assertEquals(repo.resolve("snapshots/" + bbb), HfHub.resolve("meta-llama/Llama-3.2-1B", cache), "most recent snapshot");
    }

    @Test
    void refsMainMustBeACommitHashNotAPath() throws Exception {
        Path repo = cache.resolve("models--org--m");
        Files.createDirectories(repo.resolve("snapshots/" + "c".repeat(40)));
        Files.createDirectories(repo.resolve("refs"));
        Files.writeString(repo.resolve("refs/main"), "../../..\n");
        String m = assertThrows(HfException.class, () -> HfHub.resolve("org/m", cache)).getMessage();
        assertTrue(m.contains("refs/main: expected a commit hash (40 hex digits), got '../../..'"), m);
    }

    @Test
    void nameWithoutOrg() throws Exception {
        Files.createDirectories(cache.resolve("models--gpt2/snapshots/123"));
        assertEquals(cache.resolve("models--gpt2/snapshots/123"), HfHub.resolve("gpt2", cache));
    }

    @Test
    void missingModelSaysWhereItLooked() {
        String m = assertThrows(HfException.class, () -> HfHub.resolve("org/absent", cache)).getMessage();
        assertTrue(m.contains(cache.resolve("models--org--absent").toString()) && m.contains("never downloads"), m);
        m = assertThrows(HfException.class, () -> HfHub.resolve("./no/such/dir/x", cache)).getMessage();
        assertTrue(m.contains("does not exist"), m);
    }

    @Test
    void systemPropertyOverridesTheCacheRoot() throws Exception {
        Files.createDirectories(cache.resolve("models--a--b/snapshots/1"));
        System.setProperty(HfHub.CACHE_PROPERTY, cache.toString());
        try {
            assertEquals(cache, HfHub.defaultCacheRoot());
            assertEquals(cache.resolve("models--a--b/snapshots/1"), HfHub.resolve("a/b"));
        } finally {
            System.clearProperty(HfHub.CACHE_PROPERTY);
        }
    }
}
