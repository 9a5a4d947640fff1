package jllm.train.ui;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Locale;

/**
 * Writes a PNG line chart of training curves (loss vs iteration) with XChart.
 *
 * <p>Rendering is headless: {@code java.awt.headless=true} is set, unless the user set it,
 * before any AWT class loads, so plotting works on servers without a display. Files are written
 * atomically (temp file in the same directory, then rename), so a viewer refreshing the PNG
 * during training never sees half a file.
 */
public final class LossPlot {

    static {
        if (System.getProperty("java.awt.headless") == null) System.setProperty("java.awt.headless", "true");
    }

    public static final int DEFAULT_WIDTH = 800;
    public static final int DEFAULT_HEIGHT = 500;

    private LossPlot() {}

    /**
     * One curve: {@code y[i]} at {@code x[i]}. Points whose x or y is not finite are skipped when
     * drawn (a diverged loss would otherwise flatten the rest of the chart).
     */
    public record Series(String name, double[] x, double[] y) {
        public Series {
            Objects.requireNonNull(name, "series name");
            Objects.requireNonNull(x, "series x");
            Objects.requireNonNull(y, "series y");
            if (x.length != y.length) {
                throw new IllegalArgumentException("series '" + name + "': x has " + x.length
                        + " points but y has " + y.length);
            }
        }
    }

    /** Chart text and size. */
    public record Options(String title, String xLabel, String yLabel, int width, int height, boolean logY) {
        public Options {
            if (width < 100 || height < 100 || width > 16384 || height > 16384) {
                throw new IllegalArgumentException("plot size must be within 100..16384 pixels, got "
                        + width + "x" + height);
            }
        }

        public static Options defaults() {
            return new Options("Training loss", "iteration", "loss", DEFAULT_WIDTH, DEFAULT_HEIGHT, false);
        }

        public Options size(int w, int h) {
            return new Options(title, xLabel, yLabel, w, h, logY);
        }

        public Options title(String t) {
            return new Options(t, xLabel, yLabel, width, height, logY);
        }

        public Options logY(boolean on) {
            return new Options(title, xLabel, yLabel, width, height, on);
        }
    }

    /** Plots train and val loss from metrics records (see {@link #seriesFrom}) at the default size. */
    public static void write(Path png, List<Map<String, Object>> records) throws IOException {
        write(png, records, Options.defaults());
    }

    /** Plots train and val loss from metrics records at {@code width x height} pixels. */
    public static void write(Path png, List<Map<String, Object>> records, int width, int height) throws IOException {
        write(png, records, Options.defaults().size(width, height));
    }

    /** Plots train and val loss from metrics records. */
    public static void write(Path png, List<Map<String, Object>> records, Options options) throws IOException {
        writeSeries(png, seriesFrom(records), options);
    }

    /**
     * The "train loss" and "val loss" curves of metrics records (as {@link MetricsLog#read}
     * returns): x is {@code iter}, train loss is {@code train_loss} (or {@code loss}), val loss
     * is {@code val_loss}. Records lacking {@code iter} or a numeric value are skipped; a curve
     * with no points is left out.
     */
    public static List<Series> seriesFrom(List<Map<String, Object>> records) {
        List<Series> out = new ArrayList<>(2);
        Series train = column(records, "train loss", "train_loss", "loss");
        Series val = column(records, "val loss", "val_loss", null);
        if (train.x().length > 0) out.add(train);
        if (val.x().length > 0) out.add(val);
        return out;
    }

    /**
     * Plots the given curves. Curves with few points (an eval every few hundred steps) get
     * markers so single points stay visible.
     *
     * @throws IllegalArgumentException if there is no finite point to plot
     */
    public static void writeSeries(Path png, List<Series> series, Options options) throws IOException {
        Objects.requireNonNull(png, "png path");
        List<Series> finite = new ArrayList<>();
        for (Series s : series) {
            Series f = finiteOnly(s, options.logY());
            if (f.x().length > 0) finite.add(f);
        }
        if (finite.isEmpty()) {
            throw new IllegalArgumentException("nothing to plot into " + png
                    + ": no finite points in series " + series.stream().map(Series::name).toList());
        }
        jllm.io.AtomicFiles.write(png, Render.png(finite, options));
    }

    private static Series column(List<Map<String, Object>> records, String name, String key, String altKey) {
        double[] xs = new double[records.size()];
        double[] ys = new double[records.size()];
        int n = 0;
        for (Map<String, Object> r : records) {
            if (!(r.get(MetricsLog.ITER) instanceof Number it)) continue;
            Object v = r.get(key);
            if (v == null && altKey != null) v = r.get(altKey);
            if (!(v instanceof Number num)) continue;
            xs[n] = it.doubleValue();
            ys[n] = num.doubleValue();
            n++;
        }
        return new Series(name, Arrays.copyOf(xs, n), Arrays.copyOf(ys, n));
    }

    private static Series finiteOnly(Series s, boolean positiveOnly) {
        double[] xs = new double[s.x().length];
        double[] ys = new double[s.y().length];
        int n = 0;
        for (int i = 0; i < xs.length; i++) {
            double x = s.x()[i], y = s.y()[i];
            if (!Double.isFinite(x) || !Double.isFinite(y) || (positiveOnly && y <= 0)) continue;
            xs[n] = x;
            ys[n] = y;
            n++;
        }
        return new Series(s.name(), Arrays.copyOf(xs, n), Arrays.copyOf(ys, n));
    }

    // Keeps XChart (and so AWT) out of LossPlot's own class initialisation: the headless
    // property above must be set before any AWT class is loaded.
    private static final class Render {
        static byte[] png(List<Series> series, Options o) throws IOException {
            var chart = new org.knowm.xchart.XYChartBuilder()
                    .width(o.width()).height(o.height())
                    .title(o.title() == null ? "" : o.title())
                    .xAxisTitle(o.xLabel() == null ? "" : o.xLabel())
                    .yAxisTitle(o.yLabel() == null ? "" : o.yLabel())
                    .build();
            var st = chart.getStyler();
            st.setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.InsideNE);
            st.setYAxisLogarithmic(o.logY());
            st.setYAxisLogarithmicDecadeOnly(false); // losses rarely span a decade: label 2, 3, 4...
            st.setChartBackgroundColor(java.awt.Color.WHITE);
            st.setPlotGridLinesVisible(true);
            st.setAntiAlias(true);
            st.setYAxisDecimalPattern("0.###");
            st.setXAxisDecimalPattern("0");
            st.setLocale(Locale.ROOT); // same tick labels on every machine
            for (Series s : series) {
                var xs = chart.addSeries(s.name(), s.x(), s.y());
                xs.setXYSeriesRenderStyle(org.knowm.xchart.XYSeries.XYSeriesRenderStyle.Line);
                if (s.x().length > 60) {
                    xs.setMarker(org.knowm.xchart.style.markers.SeriesMarkers.NONE);
                } else {
                    xs.setMarker(org.knowm.xchart.style.markers.SeriesMarkers.CIRCLE);
                }
            }
            var bytes = new java.io.ByteArrayOutputStream();
            org.knowm.xchart.BitmapEncoder.saveBitmap(chart, bytes,
                    org.knowm.xchart.BitmapEncoder.BitmapFormat.PNG);
            return bytes.toByteArray();
        }
    }
}
