package jllm.io.hf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import java.util.Arrays;

/**
 * Resolves a model reference to a local directory without any network access: an existing path,
 * else a hub name ({@code org/name} or {@code name}) in the local Hugging Face cache laid out as
 * huggingface_hub does: {@code <cache>/models--ORG--NAME/snapshots/<commit>/}, with
 * {@code refs/main} holding the commit to use.
 */
public final class HfHub {
    /** A system property that overrides the cache root (tests; the environment cannot be set from Java). */
    public static final String CACHE_PROPERTY = "jllm.hf.hub.cache";

    private HfHub() {}

    /**
     * The hub cache root as huggingface_hub finds it: {@code $HF_HUB_CACHE}, else {@code $HF_HOME/hub},
     * else {@code ~/.cache/huggingface/hub} (the system property {@value #CACHE_PROPERTY} wins over all).
     */
    public static Path defaultCacheRoot() {
        String p = System.getProperty(CACHE_PROPERTY);
        if (p != null && !p.isEmpty()) return Path.of(p);
        String hubCache = System.getenv("HF_HUB_CACHE");
        if (hubCache != null && !hubCache.isEmpty()) return Path.of(hubCache);
        String home = System.getenv("HF_HOME");
        if (home != null && !home.isEmpty()) return Path.of(home, "hub");
        return Path.of(System.getProperty("user.home"), ".cache", "huggingface", "hub");
    }

    /** {@link #resolve(String, Path)} with the {@link #defaultCacheRoot()}. */
    public static Path resolve(String ref) { return resolve(ref, defaultCacheRoot()); }

    /** A local directory for ref: the path itself when it is a directory, else the cached snapshot of the hub name ref. */
    public static Path resolve(String ref, Path cacheRoot) {
        if (ref == null || ref.isBlank()) throw new HfException("empty model reference (give a directory or an org/name on the Hugging Face hub)");
        Path local = Path.of(ref);
        if (Files.isDirectory(local)) return local;
        if (Files.exists(local)) throw new HfException(ref + " is a file; a model is a directory holding config.json and the weights");
        String[] parts = ref.split("/", -1);
        boolean hubName = parts.length <= 2 && !ref.startsWith(".") && !ref.startsWith("~")
                && Arrays.stream(parts).allMatch(s -> s.matches("[A-Za-z0-9][A-Za-z0-9._-]*"));
        if (!hubName) throw new HfException("model directory " + local.toAbsolutePath() + " does not exist");
        Path repo = cacheRoot.resolve("models--" + String.join("--", parts));
        String where = "looked for the directory " + local.toAbsolutePath() + " and for the Hugging Face cache entry " + repo
                + " (cache root: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub)";
        if (!Files.isDirectory(repo)) {
            throw new HfException("model '" + ref + "' not found locally: " + where + ". jllm never downloads; fetch it first, e.g."
                    + " `huggingface-cli download " + ref + "`");
        }
        Path snapshots = repo.resolve("snapshots");
        Path refMain = repo.resolve("refs").resolve("main");
        try {
            if (Files.isRegularFile(refMain)) {
                String commit = jllm.io.TextFiles.readUtf8(refMain).trim();
                // a commit hash, nothing else: a path here would lead outside the cache
                if (!commit.matches("[0-9a-f]{40}|[0-9a-f]{64}")) {
                    throw new HfException(refMain + ": expected a commit hash (40 hex digits), got '"
                            + (commit.length() > 80 ? commit.substring(0, 80) + "..." : commit) + "'");
                }
                Path snap = snapshots.resolve(commit);
                if (!commit.isEmpty() && Files.isDirectory(snap)) return snap;
            }
            List<Path> snaps = new ArrayList<>();
            if (Files.isDirectory(snapshots)) {
                try (Stream<Path> s = Files.list(snapshots)) {
                    s.filter(Files::isDirectory).forEach(snaps::add);
                }
            }
            if (snaps.isEmpty()) throw new HfException("model '" + ref + "': the cache entry " + repo + " has no snapshot under " + snapshots);
            // no usable refs/main: the most recently written snapshot
            snaps.sort(Comparator.comparing(HfHub::mtime).reversed().thenComparing(Path::toString));
            return snaps.get(0);
        } catch (IOException e) {
            throw new HfException("model '" + ref + "': cannot read the cache entry " + repo + ": " + e.getMessage(), e);
        }
    }

    private static FileTime mtime(Path p) {
        try {
            return Files.getLastModifiedTime(p);
        } catch (IOException e) {
            return FileTime.fromMillis(0);
        }
    }
}
