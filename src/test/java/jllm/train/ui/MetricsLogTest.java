package jllm.train.ui;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetricsLogTest {

    @TempDir Path dir;

    private static Map<String, Object> rec(long iter, double loss) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("iter", iter);
        m.put("train_loss", loss);
        return m;
    }

    @Test
    void writesOneFlushedJsonObjectPerLine() throws IOException {
        Path p = dir.resolve("sub/metrics.jsonl");
        try (var log = MetricsLog.create(p)) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("train_loss", 2.31);
            m.put("val_loss", 2.35);
            m.put("lr", 0.001);
            m.put("tokens_per_sec", 12345);
            m.put("time_s", 12.3);
            log.log(100, m);
            // flushed before close: a crash keeps it, tail -f sees it
            assertEquals("{\"iter\":100,\"train_loss\":2.31,\"val_loss\":2.35,\"lr\":0.001,"
                    + "\"tokens_per_sec\":12345,\"time_s\":12.3}\n", Files.readString(p));
            log.log(Map.of("iter", 200, "note", "checkpoint"));
        }
        List<Map<String, Object>> r = MetricsLog.read(p);
        assertEquals(2, r.size());
        assertEquals(100, ((Number) r.get(0).get("iter")).intValue());
        assertEquals(2.31, (Double) r.get(0).get("train_loss"));
        assertEquals(List.of("iter", "train_loss", "val_loss", "lr", "tokens_per_sec", "time_s"),
                List.copyOf(r.get(0).keySet()), "key order is kept");
        assertEquals("checkpoint", r.get(1).get("note"));
    }

    @Test
    void createReplacesAndAppendKeeps() throws IOException {
        Path p = dir.resolve("m.jsonl");
        try (var log = MetricsLog.create(p)) { log.log(rec(1, 3.0)); }
        try (var log = MetricsLog.append(p)) { log.log(rec(2, 2.9)); }
        assertEquals(2, MetricsLog.read(p).size());
        try (var log = MetricsLog.create(p)) { log.log(rec(1, 3.1)); }
        assertEquals(1, MetricsLog.read(p).size());
    }

    @Test
    void resumeDropsLinesAfterTheCheckpoint() throws IOException {
        Path p = dir.resolve("m.jsonl");
        try (var log = MetricsLog.create(p)) {
            log.log(Map.of("run", "gpt-tiny")); // no iter: kept
            for (int i = 0; i <= 500; i += 100) log.log(rec(i, 3.0 - i / 1000.0));
        }
        try (var log = MetricsLog.resume(p, 300)) {
            log.log(rec(400, 2.5));
        }
        List<Map<String, Object>> r = MetricsLog.read(p);
        assertEquals(List.of(0, 100, 200, 300, 400),
                r.stream().skip(1).map(m -> ((Number) m.get("iter")).intValue()).toList());
        assertEquals("gpt-tiny", r.get(0).get("run"));
        assertEquals(2.5, (Double) r.get(5).get("train_loss"));
        try (var dirs = Files.list(dir)) {
            assertEquals(1, dirs.count(), "no temp files left behind");
        }
    }

    @Test
    void resumeOnMissingFileCreatesIt() throws IOException {
        Path p = dir.resolve("new.jsonl");
        try (var log = MetricsLog.resume(p, 1000)) { log.log(rec(1001, 1.0)); }
        assertEquals(1, MetricsLog.read(p).size());
    }

    @Test
    void tornLastLineIsIgnoredAndRepaired() throws IOException {
        Path p = dir.resolve("m.jsonl");
        Files.writeString(p, "{\"iter\":1,\"train_loss\":3.0}\n{\"iter\":2,\"train_lo");
        assertEquals(1, MetricsLog.read(p).size());
        try (var log = MetricsLog.append(p)) { log.log(rec(2, 2.9)); }
        List<Map<String, Object>> r = MetricsLog.read(p);
        assertEquals(2, r.size());
        assertEquals(2, ((Number) r.get(1).get("iter")).intValue());

        Files.writeString(p, "{\"iter\":1}\n{\"iter\":2}\n{\"ite");
        try (var log = MetricsLog.resume(p, 5)) { log.log(rec(3, 1.0)); }
        assertEquals(3, MetricsLog.read(p).size());

        // a complete last record without its newline must not get the next one glued on
        Files.writeString(p, "{\"iter\":1}");
        try (var log = MetricsLog.append(p)) { log.log(rec(2, 1.0)); }
        assertEquals(2, MetricsLog.read(p).size());
    }

    @Test
    void nonFiniteNumbersRoundTrip() throws IOException {
        Path p = dir.resolve("m.jsonl");
        try (var log = MetricsLog.create(p)) {
            log.log(rec(1, Double.NaN));
            log.log(rec(2, Double.POSITIVE_INFINITY));
        }
        assertTrue(Files.readString(p).contains("\"train_loss\":NaN"), "bare NaN, as Python's json writes");
        List<Map<String, Object>> r = MetricsLog.read(p);
        assertTrue(Double.isNaN((Double) r.get(0).get("train_loss")));
        assertEquals(Double.POSITIVE_INFINITY, (Double) r.get(1).get("train_loss"));
    }

    @Test
    void clearErrors() throws IOException {
        Path p = dir.resolve("bad.jsonl");
        Files.writeString(p, "{\"iter\":1}\nnot json\n{\"iter\":3}\n", StandardCharsets.UTF_8);
        IOException e = assertThrows(IOException.class, () -> MetricsLog.read(p));
        assertTrue(e.getMessage().contains("bad.jsonl:2"), e.getMessage());
        assertThrows(IOException.class, () -> MetricsLog.resume(p, 10));
        assertThrows(NoSuchFileException.class, () -> MetricsLog.read(dir.resolve("missing.jsonl")));

        var log = MetricsLog.create(dir.resolve("c.jsonl"));
        log.close();
        log.close(); // idempotent
        assertThrows(IllegalStateException.class, () -> log.log(rec(1, 1.0)));
        try (var l2 = MetricsLog.create(dir.resolve("d.jsonl"))) {
            assertThrows(IllegalArgumentException.class, () -> l2.log(Map.of("x", new Object())));
        }
    }
}
