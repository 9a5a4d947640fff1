package jllm.train.ui;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.core.json.JsonWriteFeature;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A JSON-lines metrics log: one JSON object per line, e.g.
 * {@code {"iter":100,"train_loss":2.31,"val_loss":2.35,"lr":0.001,"tokens_per_sec":12345,"time_s":12.3}}.
 *
 * <p>Each line is flushed as soon as it is written, so a crashed run keeps everything it logged
 * and {@code tail -f} shows progress live. Non-finite numbers are written as bare {@code NaN} /
 * {@code Infinity}, as Python's {@code json} module does (a diverged loss should be visible, not
 * dropped); {@link #read} accepts them.
 *
 * <p>Open with {@link #create} (new file), {@link #append} (keep all lines) or {@link #resume}
 * (keep lines up to a checkpoint's iteration, drop the rest, then append).
 */
public final class MetricsLog implements AutoCloseable {

    /** The key holding the iteration number. */
    public static final String ITER = "iter";

    private static final JsonMapper JSON = JsonMapper.builder()
            .disable(JsonWriteFeature.WRITE_NAN_AS_STRINGS)
            .enable(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS)
            .build();
    private static final TypeReference<LinkedHashMap<String, Object>> RECORD = new TypeReference<>() {};

    private final Path path;
    private final BufferedWriter out;
    private boolean closed;

    private MetricsLog(Path path, boolean truncate) throws IOException {
        this.path = path;
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) Files.createDirectories(parent);
        this.out = Files.newBufferedWriter(path, StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                truncate ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND);
    }

    /** Starts a new log at {@code path}, replacing any file there. Parent directories are created. */
    public static MetricsLog create(Path path) throws IOException {
        return new MetricsLog(path, true);
    }

    /** Opens {@code path} for appending, keeping every existing line (creates the file if absent). */
    public static MetricsLog append(Path path) throws IOException {
        repairTornTail(path);
        return new MetricsLog(path, false);
    }

    /**
     * Opens {@code path} to continue a run resumed from a checkpoint taken at {@code resumeIter}:
     * records with {@code iter > resumeIter} (logged after that checkpoint, and about to be logged
     * again) are removed, as is a torn last line left by a crash; then new lines are appended.
     * Records without an {@code iter} key are kept. The rewrite is atomic (temp file + rename).
     * A missing file is created.
     *
     * @throws IOException if the file has a malformed line other than a torn last one
     */
    public static MetricsLog resume(Path path, long resumeIter) throws IOException {
        if (Files.exists(path)) {
            StringBuilder kept = new StringBuilder();
            for (Line l : parse(path, Files.readAllLines(path, StandardCharsets.UTF_8))) {
                if (l.record().get(ITER) instanceof Number n && n.doubleValue() > resumeIter) continue;
                kept.append(l.text()).append('\n');
            }
            jllm.io.AtomicFiles.writeString(path, kept.toString());
        }
        return new MetricsLog(path, false);
    }

    /** The file this log writes to. */
    public Path path() {
        return path;
    }

    /**
     * Writes {@code record} as one JSON line and flushes it. Values may be numbers, strings,
     * booleans, null, or nested lists/maps of those.
     */
    public synchronized void log(Map<String, ?> record) {
        if (closed) throw new IllegalStateException("metrics log " + path + " is closed");
        String line;
        try {
            line = JSON.writeValueAsString(record);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("metrics record for " + path + " is not JSON-serialisable: "
                    + e.getOriginalMessage(), e);
        }
        try {
            out.write(line);
            out.write('\n');
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write metrics to " + path, e);
        }
    }

    /** Writes {@code {"iter": iter, ...metrics}} as one line ({@code iter} first) and flushes it. */
    public void log(long iter, Map<String, ?> metrics) {
        LinkedHashMap<String, Object> rec = new LinkedHashMap<>();
        rec.put(ITER, iter);
        for (Map.Entry<String, ?> e : metrics.entrySet()) {
            if (!ITER.equals(e.getKey())) rec.put(e.getKey(), e.getValue());
        }
        log(rec);
    }

    @Override
    public synchronized void close() throws IOException {
        if (closed) return;
        closed = true;
        out.close();
    }

    /**
     * Reads every record of a metrics log, in file order. Blank lines are skipped; a torn last
     * line (an interrupted write) is ignored. Numbers come back as {@link Integer}, {@link Long}
     * or {@link Double}.
     *
     * @throws NoSuchFileException if the file does not exist
     * @throws IOException if a line other than the last is not a JSON object (the message names
     *     the file and line number)
     */
    public static List<Map<String, Object>> read(Path path) throws IOException {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Line l : parse(path, Files.readAllLines(path, StandardCharsets.UTF_8))) out.add(l.record());
        return out;
    }

    private record Line(String text, Map<String, Object> record) {}

    // Records parsed from non-blank lines; a malformed last non-blank line is treated as torn.
    private static List<Line> parse(Path path, List<String> lines) throws IOException {
        int last = lines.size() - 1;
        while (last >= 0 && lines.get(last).isBlank()) last--;
        List<Line> out = new ArrayList<>();
        for (int i = 0; i <= last; i++) {
            String line = lines.get(i);
            if (line.isBlank()) continue;
            try {
                out.add(new Line(line, JSON.readValue(line, RECORD)));
            } catch (JsonProcessingException e) {
                if (i == last) break; // torn write at a crash
                throw new IOException(path + ":" + (i + 1) + ": not a JSON object: " + e.getOriginalMessage(), e);
            }
        }
        return out;
    }

    // Appending after a torn or unterminated last line would glue the new record onto it.
    private static void repairTornTail(Path path) throws IOException {
        if (!Files.exists(path) || Files.size(path) == 0) return;
        byte[] bytes = Files.readAllBytes(path);
        if (bytes[bytes.length - 1] == '\n') {
            List<String> lines = Files.readAllLines(path, StandardCharsets.UTF_8);
            int last = lines.size() - 1;
            while (last >= 0 && lines.get(last).isBlank()) last--;
            if (last < 0 || isJson(lines.get(last))) return;
        }
        StringBuilder kept = new StringBuilder();
        for (Line l : parse(path, Files.readAllLines(path, StandardCharsets.UTF_8))) kept.append(l.text()).append('\n');
        jllm.io.AtomicFiles.writeString(path, kept.toString());
    }

    private static boolean isJson(String line) {
        try {
            JSON.readValue(line, RECORD);
            return true;
        } catch (JsonProcessingException e) {
            return false;
        }
    }

}
