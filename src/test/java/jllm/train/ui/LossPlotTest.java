package jllm.train.ui;

import static org.junit.jupiter.api.Assertions.*;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LossPlotTest {

    @TempDir Path dir;

    static List<Map<String, Object>> fakeRun(int iters) {
        List<Map<String, Object>> recs = new ArrayList<>();
        java.util.Random rnd = new java.util.Random(1);
        for (int i = 0; i <= iters; i += 10) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("iter", i);
            m.put("train_loss", 1.5 + 9.5 * Math.exp(-i / 300.0) + 0.08 * rnd.nextGaussian());
            if (i % 250 == 0) m.put("val_loss", 1.7 + 9.3 * Math.exp(-i / 300.0));
            m.put("lr", 6e-4);
            recs.add(m);
        }
        return recs;
    }

    @Test
    void writesADecodablePngOfTheRequestedSize() throws IOException {
        Path png = dir.resolve("plots/loss.png");
        LossPlot.write(png, fakeRun(2000), 900, 450);
        assertTrue(Files.size(png) > 1000);
        BufferedImage img = ImageIO.read(png.toFile());
        assertNotNull(img, "ImageIO decodes the PNG");
        assertEquals(900, img.getWidth());
        assertEquals(450, img.getHeight());
        assertEquals("true", System.getProperty("java.awt.headless"));
        try (var files = Files.list(png.getParent())) {
            assertEquals(List.of(png), files.toList(), "no temp file left behind");
        }
        if (System.getProperty("jllm.plot.keep") != null) {
            Files.copy(png, Path.of(System.getProperty("jllm.plot.keep")),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @Test
    void defaultSizeOverwriteAndMetricsLogRoundTrip() throws IOException {
        Path jsonl = dir.resolve("m.jsonl");
        try (var log = MetricsLog.create(jsonl)) {
            for (var r : fakeRun(500)) log.log(r);
            log.log(Map.of("iter", 510, "train_loss", Double.NaN)); // diverged point is skipped
        }
        Path png = dir.resolve("loss.png");
        Files.writeString(png, "old");
        LossPlot.write(png, MetricsLog.read(jsonl));
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(LossPlot.DEFAULT_WIDTH, img.getWidth());
        assertEquals(LossPlot.DEFAULT_HEIGHT, img.getHeight());
    }

    @Test
    void seriesFromRecords() {
        List<Map<String, Object>> recs = List.of(
                Map.of("iter", 0, "loss", 3.0, "val_loss", 3.1),
                Map.of("iter", 10, "train_loss", 2.0),
                Map.of("note", "no iter"));
        var s = LossPlot.seriesFrom(recs);
        assertEquals(2, s.size());
        assertEquals("train loss", s.get(0).name());
        assertArrayEquals(new double[] {0, 10}, s.get(0).x());
        assertArrayEquals(new double[] {3.0, 2.0}, s.get(0).y());
        assertArrayEquals(new double[] {3.1}, s.get(1).y());
    }

    @Test
    void explicitSeriesAndLogScale() throws IOException {
        Path png = dir.resolve("custom.png");
        var a = new LossPlot.Series("train", new double[] {1, 2, 3}, new double[] {4, 2, 1});
        LossPlot.writeSeries(png, List.of(a), LossPlot.Options.defaults().title("custom").logY(true).size(300, 200));
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(300, img.getWidth());
        assertEquals(200, img.getHeight());
        Path log = dir.resolve("log.png");
        LossPlot.write(log, fakeRun(2000), LossPlot.Options.defaults().logY(true).title("log scale"));
        assertNotNull(ImageIO.read(log.toFile()));
        if (System.getProperty("jllm.plot.keep") != null) {
            Files.copy(log, Path.of(System.getProperty("jllm.plot.keep") + ".log.png"),
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        }
    }

    @Test
    void clearErrors() {
        Path png = dir.resolve("x.png");
        assertThrows(IllegalArgumentException.class, () -> LossPlot.write(png, List.of()));
        assertThrows(IllegalArgumentException.class,
                () -> LossPlot.write(png, List.of(Map.of("iter", 1, "train_loss", Double.NaN))));
        assertThrows(IllegalArgumentException.class, () -> LossPlot.write(png, fakeRun(10), 10, 10));
        assertThrows(IllegalArgumentException.class,
                () -> new LossPlot.Series("s", new double[2], new double[3]));
        assertFalse(Files.exists(png));
    }
}
