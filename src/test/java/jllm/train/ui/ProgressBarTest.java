package jllm.train.ui;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class ProgressBarTest {

    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    private String text() {
        return bytes.toString(StandardCharsets.UTF_8);
    }

    private void advance(double seconds) {
        now.addAndGet((long) (seconds * 1e9));
    }

    @Test
    void plainModePrintsEveryKIterationsAndAtTheEnd() {
        try (var pb = ProgressBar.builder(100).out(out).mode(ProgressBar.Mode.PLAIN)
                .plainEveryIters(25).plainEverySeconds(0).clock(now::get).build()) {
            for (int i = 1; i <= 100; i++) {
                advance(0.03);
                pb.update(i, ProgressBar.Metrics.loss(3.0 - i * 0.01));
            }
        }
        String[] lines = text().split("\n");
        // first update, then 26, 51, 76 (k after the last print), and the final 100
        assertEquals(5, lines.length, text());
        assertFalse(text().contains("\r"), "plain mode must not use carriage returns");
        assertFalse(text().contains("\u001b"), "plain mode must not emit ANSI escapes");
        assertTrue(lines[0].startsWith("iter   1/100"), lines[0]);
        assertTrue(lines[4].startsWith("iter 100/100"), lines[4]);
        assertTrue(lines[4].contains("100%"), lines[4]);
        assertTrue(lines[4].contains("loss 2.0000"), lines[4]);
        assertFalse(lines[4].contains("<"), "no ETA once finished: " + lines[4]);
    }

    @Test
    void plainModePrintsByTime() {
        try (var pb = ProgressBar.builder(1000).out(out).mode(ProgressBar.Mode.PLAIN)
                .plainEverySeconds(1).clock(now::get).build()) {
            for (int i = 1; i <= 100; i++) { // 100 steps of 30 ms = 3 s
                advance(0.03);
                pb.update(i, 2.5);
            }
        }
        // first, about one per second, and the closing line
        int n = text().split("\n").length;
        assertTrue(n >= 4 && n <= 5, text());
    }

    @Test
    void showsMetricsRateAndEta() {
        var pb = ProgressBar.builder(1000).out(out).mode(ProgressBar.Mode.PLAIN).clock(now::get).build();
        advance(10);
        pb.update(100, new ProgressBar.Metrics(2.31, 2.35, 6e-4, 12345));
        String line = text().strip();
        assertTrue(line.contains("loss 2.3100"), line);
        assertTrue(line.contains("val 2.3500"), line);
        assertTrue(line.contains("lr 6.00e-04"), line);
        assertTrue(line.contains("12.3k tok/s"), line);
        assertTrue(line.contains(" 10%"), line);
        // 100 it in 10 s -> 900 left take 90 s
        assertTrue(line.contains("00:10<01:30"), line);
    }

    @Test
    void tokensPerSecFromTokensPerIterAndResumeStart() {
        var pb = ProgressBar.builder(2000).out(out).mode(ProgressBar.Mode.PLAIN)
                .startIter(1000).tokensPerIter(1024).clock(now::get).build();
        advance(2);
        pb.update(1020, 1.5); // 20 it in 2 s = 10 it/s = 10240 tok/s
        String line = text().strip();
        assertTrue(line.contains("10.2k tok/s"), line);
        assertTrue(line.contains("00:02<01:38"), line); // 980 left at 10 it/s
    }

    @Test
    void mapMetricsAndValLossSticks() {
        var pb = ProgressBar.builder(10).out(out).mode(ProgressBar.Mode.PLAIN)
                .plainEveryIters(1).plainEverySeconds(0).clock(now::get).build();
        Map<String, Number> m = new LinkedHashMap<>();
        m.put("train_loss", 2.0);
        m.put("val_loss", 2.2);
        m.put("lr", 1e-3);
        m.put("grad_norm", 0.75);
        pb.update(1, m);
        pb.update(2, Map.of("loss", 1.9)); // no val this step: the last one stays shown
        String[] lines = text().split("\n");
        assertTrue(lines[0].contains("loss 2.0000 | val 2.2000 | lr 1.00e-03 | grad_norm 0.7500"), lines[0]);
        assertTrue(lines[1].contains("loss 1.9000 | val 2.2000"), lines[1]);
        assertFalse(lines[1].contains("lr"), lines[1]);
    }

    @Test
    void terminalModeRedrawsOneLineRateLimited() {
        try (var pb = ProgressBar.builder(50).out(out).mode(ProgressBar.Mode.TERMINAL)
                .width(100).unicode(false).redrawMillis(100).clock(now::get).build()) {
            for (int i = 1; i <= 50; i++) {
                advance(0.03);
                pb.update(i, 2.0);
            }
        }
        String t = text();
        assertEquals(1, t.chars().filter(c -> c == '\n').count(), "one newline, at close: " + t);
        assertTrue(t.endsWith("\n"));
        long redraws = t.chars().filter(c -> c == '\r').count();
        // 1.5 s at most every 100 ms: ~15 draws plus first/last, not 50
        assertTrue(redraws >= 10 && redraws <= 20, "redraws " + redraws);
        String last = t.substring(t.lastIndexOf('\r') + 1).strip();
        assertTrue(last.startsWith("iter 50/50 [" + "#".repeat(20) + "] 100%"), last);
        for (String seg : t.split("\r")) assertTrue(seg.length() <= 99, "line wider than terminal: " + seg);
    }

    @Test
    void terminalShorterLineErasesLongerOne() {
        var pb = ProgressBar.builder(10).out(out).mode(ProgressBar.Mode.TERMINAL)
                .width(200).redrawMillis(0).clock(now::get).build();
        pb.update(1, Map.of("train_loss", 1.0, "some_long_metric_name", 12345.678));
        pb.update(2, Map.of("train_loss", 1.0));
        String[] segs = text().split("\r");
        assertEquals(segs[1].length(), segs[2].length(), "second draw is padded over the first");
    }

    @Test
    void unicodeBarHasEighthBlocks() {
        var pb = ProgressBar.builder(80).out(out).mode(ProgressBar.Mode.TERMINAL)
                .width(100).unicode(true).clock(now::get).build();
        pb.update(1, 2.0); // 1/80 of 20 cells = 2/8 of a cell
        String t = text();
        assertTrue(t.contains("[\u258E" + " ".repeat(19) + "]"), t);
    }

    @Test
    void printlnKeepsBarIntact() {
        var pb = ProgressBar.builder(10).out(out).mode(ProgressBar.Mode.TERMINAL)
                .width(80).unicode(false).redrawMillis(1000).clock(now::get).build();
        pb.update(1, 2.0);
        pb.println("step 1: val loss 2.1");
        pb.close();
        String[] lines = text().split("\n");
        assertEquals(2, lines.length, text());
        String msg = lines[0].substring(lines[0].lastIndexOf('\r') + 1);
        assertEquals("step 1: val loss 2.1", msg.strip(), lines[0]);
        assertTrue(msg.length() >= lines[0].indexOf('\r', 1) - 1, "message is padded over the bar");
        assertTrue(lines[1].startsWith("\riter  1/10"), lines[1]);
    }

    @Test
    void offModePrintsNothing() {
        try (var pb = ProgressBar.builder(10).out(out).mode(ProgressBar.Mode.OFF).build()) {
            for (int i = 1; i <= 10; i++) pb.update(i, 1.0);
        }
        assertEquals("", text());
    }

    @Test
    void autoOnAForeignStreamIsPlain() {
        assertEquals(ProgressBar.Mode.PLAIN, ProgressBar.builder(10).out(out).build().mode());
    }

    @Test
    void neverThrowsOnBrokenOutputOrOddValues() {
        OutputStream broken = new OutputStream() {
            @Override public void write(int b) { throw new IllegalStateException("terminal gone"); }
            @Override public void write(byte[] b, int off, int len) { throw new IllegalStateException("terminal gone"); }
        };
        var bad = new PrintStream(broken, true);
        for (var mode : new ProgressBar.Mode[] {ProgressBar.Mode.TERMINAL, ProgressBar.Mode.PLAIN}) {
            assertDoesNotThrow(() -> {
                try (var pb = ProgressBar.builder(5).out(bad).mode(mode).redrawMillis(0).build()) {
                    pb.update(1, Double.NaN);
                    pb.update(9, new ProgressBar.Metrics(Double.POSITIVE_INFINITY, Double.NaN, -1, 1e30));
                    pb.println("x");
                }
            });
        }
        // odd values on a working stream render, and iter > total clamps the bar
        try (var pb = ProgressBar.builder(0).out(out).mode(ProgressBar.Mode.TERMINAL).unicode(false)
                .width(100).clock(now::get).build()) {
            pb.update(3, new ProgressBar.Metrics(Double.NaN, Double.POSITIVE_INFINITY, 0, Double.NaN));
        }
        assertTrue(text().contains("val inf"), text());
        assertTrue(text().contains("100%"), text());
    }

    @Test
    void badConfigurationIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> ProgressBar.builder(-1));
        assertThrows(IllegalArgumentException.class, () -> ProgressBar.builder(10).startIter(-2));
        assertThrows(IllegalArgumentException.class, () -> ProgressBar.builder(10).width(3));
    }

    @Test
    void updateIsCheapWhenNotDrawing() {
        var pb = ProgressBar.builder(10_000_000).out(out).mode(ProgressBar.Mode.TERMINAL).build();
        var metrics = new ProgressBar.Metrics(2.0, Double.NaN, 1e-3, Double.NaN);
        long t = System.nanoTime();
        for (int i = 1; i <= 1_000_000; i++) pb.update(i, metrics);
        double nsPerUpdate = (System.nanoTime() - t) / 1e6;
        assertTrue(nsPerUpdate < 2_000, "update costs " + nsPerUpdate + " ns");
    }

    @Test
    void formats() {
        assertEquals("00:05", ProgressBar.duration(5));
        assertEquals("01:30", ProgressBar.duration(90));
        assertEquals("1:00:01", ProgressBar.duration(3601));
        assertEquals("2d 00:00:00", ProgressBar.duration(172800));
        assertEquals("?", ProgressBar.duration(Double.NaN));
        assertEquals("12.3k", ProgressBar.si(12345));
        assertEquals("2.50M", ProgressBar.si(2.5e6));
        assertEquals("512", ProgressBar.si(512));
        assertEquals("nan", ProgressBar.fmt(Double.NaN, 4));
    }
}
