package jllm.train.ui;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * A one-line training progress display:
 * <pre>
 * iter  420/5000 [███▍              ]   8% | loss 2.3104 | val 2.3511 | lr 6.00e-04 | 12.3k tok/s | 00:12<02:11
 * </pre>
 *
 * <p>In a terminal ({@link Mode#TERMINAL}) the line is redrawn in place with {@code '\r'}, at
 * most every {@code redrawMillis}. When the output is not a terminal ({@link Mode#PLAIN}: CI,
 * a redirected log) one plain line is printed every {@code plainEveryIters} iterations or every
 * {@code plainEverySeconds} seconds, whichever comes first, so logs stay short and readable.
 * {@link Mode#AUTO} picks between the two ({@code System.console().isTerminal()}, and not
 * {@code TERM=dumb}); the system property {@code jllm.progress=terminal|plain|off} overrides it.
 *
 * <p>{@link #update} is cheap when it does not draw (a clock read and a few field writes), so it
 * can be called every step. Output problems never throw: the bar writes to a {@link PrintStream}
 * (which records errors instead of throwing) and turns itself off if formatting ever fails.
 * Not thread-safe: call it from the training loop's thread.
 *
 * <p>Iterations are counted as completed steps: {@code update(i, ...)} after step {@code i} of
 * {@code total} has finished; a resumed run passes its first iteration as {@code startIter} so
 * speed and ETA only count the steps this process ran.
 */
public final class ProgressBar implements AutoCloseable {

    /** How progress is shown. */
    public enum Mode { AUTO, TERMINAL, PLAIN, OFF }

    /**
     * The numbers shown next to the bar; {@code NaN} means "not shown". {@code tokensPerSec} NaN
     * falls back to the rate computed from {@link Builder#tokensPerIter}, if set.
     */
    public record Metrics(double trainLoss, double valLoss, double lr, double tokensPerSec) {
        public static Metrics loss(double trainLoss) {
            return new Metrics(trainLoss, Double.NaN, Double.NaN, Double.NaN);
        }
    }

    private final PrintStream out;
    private final Mode mode;
    private final long total;
    private final long startIter;
    private final String label;
    private final int width;
    private final boolean unicode;
    private final long redrawNanos;
    private final long plainEveryIters;
    private final long plainEveryNanos;
    private final long tokensPerIter;
    private final LongSupplier clock;
    private final long t0;

    private long iter;
    private double trainLoss = Double.NaN, valLoss = Double.NaN, lr = Double.NaN, tokPerSec = Double.NaN;
    private Map<String, ? extends Number> extra;
    private long lastDrawNanos;
    private long lastDrawIter;
    private boolean drawnOnce;
    private int lastLen;
    private boolean lineOpen; // terminal mode: a bar is on the current line, no newline yet
    private boolean dead;
    private boolean closed;

    private ProgressBar(Builder b) {
        this.out = b.out;
        this.total = b.total;
        this.startIter = b.startIter;
        this.label = b.label;
        this.width = b.width > 0 ? b.width : terminalWidth();
        this.unicode = b.unicode != null ? b.unicode : isUtf8(b.out);
        this.redrawNanos = b.redrawMillis * 1_000_000L;
        this.plainEveryIters = b.plainEveryIters;
        this.plainEveryNanos = (long) (b.plainEverySeconds * 1e9);
        this.tokensPerIter = b.tokensPerIter;
        this.clock = b.clock;
        this.mode = resolve(b.mode, b.out);
        this.t0 = clock.getAsLong();
        this.iter = startIter;
        this.lastDrawIter = startIter;
    }

    /** A bar over {@code total} iterations. */
    public static Builder builder(long total) {
        return new Builder(total);
    }

    /** A bar over {@code total} iterations on {@code System.out}, mode chosen automatically. */
    public static ProgressBar of(long total) {
        return builder(total).build();
    }

    /** The mode in effect after AUTO was resolved. */
    public Mode mode() {
        return mode;
    }

    /** Records progress after iteration {@code iter}; draws if it is time to. */
    public void update(long iter, Metrics m) {
        if (m != null) {
            trainLoss = m.trainLoss();
            if (!Double.isNaN(m.valLoss())) valLoss = m.valLoss(); // evals are sparse: keep the last one
            lr = m.lr();
            tokPerSec = m.tokensPerSec();
        }
        advance(iter);
    }

    /** Records progress with only a training loss. */
    public void update(long iter, double trainLoss) {
        this.trainLoss = trainLoss;
        advance(iter);
    }

    /**
     * Records progress with metrics by name: {@code train_loss} (or {@code loss}), {@code val_loss},
     * {@code lr} and {@code tokens_per_sec} get their usual places; other entries are appended as
     * {@code name value}. The map is kept (not copied) until the next update.
     */
    public void update(long iter, Map<String, ? extends Number> metrics) {
        if (metrics != null) {
            Number tl = metrics.get("train_loss");
            if (tl == null) tl = metrics.get("loss");
            trainLoss = tl == null ? Double.NaN : tl.doubleValue();
            Number vl = metrics.get("val_loss");
            if (vl != null && !Double.isNaN(vl.doubleValue())) valLoss = vl.doubleValue();
            Number l = metrics.get("lr");
            lr = l == null ? Double.NaN : l.doubleValue();
            Number t = metrics.get("tokens_per_sec");
            tokPerSec = t == null ? Double.NaN : t.doubleValue();
            extra = metrics;
        }
        advance(iter);
    }

    /**
     * Prints a line of its own (an eval result, a checkpoint note) without breaking the bar: in
     * a terminal the bar is cleared, the message printed, and the bar redrawn below it.
     */
    public void println(String message) {
        if (dead || mode != Mode.TERMINAL || !lineOpen || closed) {
            safePrintln(message);
            return;
        }
        try {
            StringBuilder sb = new StringBuilder(lastLen + message.length() + 2);
            sb.append('\r').append(message);
            for (int i = message.length(); i < lastLen; i++) sb.append(' ');
            out.print(sb.append('\n'));
            lineOpen = false;
            lastLen = 0;
            draw(clock.getAsLong());
        } catch (RuntimeException e) {
            dead = true;
        }
    }

    /** Draws the final state and ends the line. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        try {
            if (!dead && mode != Mode.OFF) {
                if (mode == Mode.TERMINAL) {
                    draw(clock.getAsLong());
                    out.print('\n');
                } else if (!drawnOnce || lastDrawIter != iter) {
                    draw(clock.getAsLong());
                }
                out.flush();
            }
        } catch (RuntimeException e) {
            dead = true;
        } finally {
            closed = true;
            lineOpen = false;
        }
    }

    private void advance(long iter) {
        this.iter = iter;
        if (dead || closed || mode == Mode.OFF) return;
        long now = clock.getAsLong();
        boolean due;
        if (mode == Mode.TERMINAL) {
            due = !drawnOnce || now - lastDrawNanos >= redrawNanos || iter >= total;
        } else {
            due = !drawnOnce
                    || (plainEveryIters > 0 && iter - lastDrawIter >= plainEveryIters)
                    || (plainEveryNanos > 0 && now - lastDrawNanos >= plainEveryNanos)
                    || (iter >= total && lastDrawIter < total);
        }
        if (!due) return;
        try {
            draw(now);
        } catch (RuntimeException e) {
            dead = true; // a progress display must never take a training run down
        }
    }

    private void draw(long now) {
        String line = render(now);
        if (mode == Mode.TERMINAL) {
            if (line.length() > width - 1) line = line.substring(0, Math.max(0, width - 1));
            StringBuilder sb = new StringBuilder(Math.max(line.length(), lastLen) + 1);
            sb.append('\r').append(line);
            for (int i = line.length(); i < lastLen; i++) sb.append(' '); // erase a longer previous line
            out.print(sb);
            out.flush();
            lastLen = line.length();
            lineOpen = true;
        } else {
            out.println(line);
            out.flush();
        }
        drawnOnce = true;
        lastDrawNanos = now;
        lastDrawIter = iter;
    }

    /** The status line for the current state (exposed for tests). */
    String render(long now) {
        double elapsed = (now - t0) / 1e9;
        long done = iter - startIter;
        double itPerSec = elapsed > 0 && done > 0 ? done / elapsed : Double.NaN;

        StringBuilder sb = new StringBuilder(160);
        if (!label.isEmpty()) sb.append(label).append(' ');
        String tot = Long.toString(total);
        String cur = Long.toString(iter);
        for (int i = cur.length(); i < tot.length(); i++) sb.append(' ');
        sb.append(cur).append('/').append(tot).append(' ');

        double frac = total > 0 ? Math.min(1.0, Math.max(0.0, (double) iter / total)) : 1.0;
        if (mode == Mode.TERMINAL) bar(sb, frac, Math.max(10, Math.min(30, width / 5)));
        sb.append(String.format(Locale.ROOT, " %3d%%", (int) Math.floor(frac * 100)));

        if (!Double.isNaN(trainLoss)) sb.append(" | loss ").append(fmt(trainLoss, 4));
        if (!Double.isNaN(valLoss)) sb.append(" | val ").append(fmt(valLoss, 4));
        if (!Double.isNaN(lr)) sb.append(" | lr ").append(String.format(Locale.ROOT, "%.2e", lr));
        if (extra != null) {
            for (Map.Entry<String, ? extends Number> e : extra.entrySet()) {
                String k = e.getKey();
                if (k == null || e.getValue() == null || k.equals("train_loss") || k.equals("loss")
                        || k.equals("val_loss") || k.equals("lr") || k.equals("tokens_per_sec") || k.equals("iter")) {
                    continue;
                }
                sb.append(" | ").append(k).append(' ').append(fmtAny(e.getValue()));
            }
        }
        double tps = tokPerSec;
        if (Double.isNaN(tps) && tokensPerIter > 0 && !Double.isNaN(itPerSec)) tps = itPerSec * tokensPerIter;
        if (!Double.isNaN(tps)) sb.append(" | ").append(si(tps)).append(" tok/s");
        else if (!Double.isNaN(itPerSec)) {
            sb.append(" | ").append(itPerSec >= 1 || itPerSec == 0
                    ? String.format(Locale.ROOT, "%.2f it/s", itPerSec)
                    : String.format(Locale.ROOT, "%.2f s/it", 1 / itPerSec));
        }

        sb.append(" | ").append(duration(elapsed));
        if (iter < total) {
            double eta = Double.isNaN(itPerSec) ? Double.NaN : (total - iter) / itPerSec;
            sb.append('<').append(Double.isNaN(eta) ? "?" : duration(eta));
        }
        return sb.toString();
    }

    private void bar(StringBuilder sb, double frac, int cells) {
        sb.append('[');
        if (unicode) {
            // eighth blocks give sub-cell resolution on long runs
            int eighths = (int) Math.floor(frac * cells * 8);
            int full = eighths / 8, part = eighths % 8;
            for (int i = 0; i < full; i++) sb.append('\u2588');
            int used = full;
            if (full < cells && part > 0) {
                sb.append((char) ('\u2590' - part)); // U+258F (1/8) .. U+2589 (7/8)
                used++;
            }
            for (int i = used; i < cells; i++) sb.append(' ');
        } else {
            int full = (int) Math.floor(frac * cells);
            for (int i = 0; i < full; i++) sb.append('#');
            for (int i = full; i < cells; i++) sb.append('.');
        }
        sb.append(']');
    }

    static String fmt(double v, int decimals) {
        if (Double.isNaN(v)) return "nan";
        if (Double.isInfinite(v)) return v > 0 ? "inf" : "-inf";
        return String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    private static String fmtAny(Number n) {
        if (n instanceof Integer || n instanceof Long || n instanceof Short || n instanceof Byte) return n.toString();
        double v = n.doubleValue();
        double a = Math.abs(v);
        if (a != 0 && (a < 1e-3 || a >= 1e6)) return String.format(Locale.ROOT, "%.2e", v);
        return fmt(v, 4);
    }

    /** 12345 -> "12.3k", 2.5e6 -> "2.50M". */
    static String si(double v) {
        if (!Double.isFinite(v)) return fmt(v, 0);
        double a = Math.abs(v);
        if (a >= 1e9) return String.format(Locale.ROOT, "%.2fG", v / 1e9);
        if (a >= 1e6) return String.format(Locale.ROOT, "%.2fM", v / 1e6);
        if (a >= 1e4) return String.format(Locale.ROOT, "%.1fk", v / 1e3);
        if (a >= 100) return String.format(Locale.ROOT, "%.0f", v);
        return String.format(Locale.ROOT, "%.1f", v);
    }

    /** Seconds as mm:ss, or h:mm:ss from an hour, or Nd hh:mm:ss from a day. */
    static String duration(double seconds) {
        if (!Double.isFinite(seconds) || seconds < 0) return "?";
        if (seconds > 100L * 365 * 86400) return ">100y";
        long s = Math.round(seconds);
        long d = s / 86400, h = (s / 3600) % 24, m = (s / 60) % 60, sec = s % 60;
        if (d > 0) return String.format(Locale.ROOT, "%dd %02d:%02d:%02d", d, h, m, sec);
        if (h > 0) return String.format(Locale.ROOT, "%d:%02d:%02d", h, m, sec);
        return String.format(Locale.ROOT, "%02d:%02d", m, sec);
    }

    private void safePrintln(String message) {
        try {
            out.println(message);
            out.flush();
        } catch (RuntimeException ignored) {
            // never let progress output fail a run
        }
    }

    private static Mode resolve(Mode requested, PrintStream out) {
        String prop = System.getProperty("jllm.progress");
        if (prop != null) {
            switch (prop.trim().toLowerCase(Locale.ROOT)) {
                case "terminal", "tty" -> { return Mode.TERMINAL; }
                case "plain" -> { return Mode.PLAIN; }
                case "off", "none", "false" -> { return Mode.OFF; }
                default -> { } // unknown value: fall through to the requested mode
            }
        }
        if (requested != Mode.AUTO) return requested;
        return out == System.out && stdoutIsTerminal() ? Mode.TERMINAL : Mode.PLAIN;
    }

    private static boolean stdoutIsTerminal() {
        try {
            String term = System.getenv("TERM");
            if (term != null && term.equalsIgnoreCase("dumb")) return false;
            var console = System.console();
            return console != null && console.isTerminal();
        } catch (RuntimeException | Error e) {
            return false;
        }
    }

    private static int terminalWidth() {
        try {
            String cols = System.getenv("COLUMNS");
            if (cols != null) {
                int c = Integer.parseInt(cols.trim());
                if (c >= 20 && c <= 1000) return c;
            }
        } catch (RuntimeException ignored) {
            // fall through to the default
        }
        return 120;
    }

    private static boolean isUtf8(PrintStream out) {
        try {
            return out.charset().equals(StandardCharsets.UTF_8);
        } catch (RuntimeException e) {
            return false;
        }
    }

    /** Options for a {@link ProgressBar}. */
    public static final class Builder {
        private final long total;
        private PrintStream out = System.out;
        private Mode mode = Mode.AUTO;
        private long startIter;
        private String label = "iter";
        private int width;
        private Boolean unicode;
        private long redrawMillis = 100;
        private long plainEveryIters = 0;
        private double plainEverySeconds = 10;
        private long tokensPerIter;
        private LongSupplier clock = System::nanoTime;

        private Builder(long total) {
            if (total < 0) throw new IllegalArgumentException("progress total must be >= 0, got " + total);
            this.total = total;
        }

        /** Where to draw (default {@code System.out}). AUTO mode only uses TERMINAL for {@code System.out}. */
        public Builder out(PrintStream out) {
            this.out = Objects.requireNonNull(out, "out");
            return this;
        }

        public Builder mode(Mode mode) {
            this.mode = Objects.requireNonNull(mode, "mode");
            return this;
        }

        /** The iteration a resumed run starts from (default 0). */
        public Builder startIter(long startIter) {
            if (startIter < 0) throw new IllegalArgumentException("startIter must be >= 0, got " + startIter);
            this.startIter = startIter;
            return this;
        }

        /** Text before the counter (default "iter"). */
        public Builder label(String label) {
            this.label = label == null ? "" : label;
            return this;
        }

        /** Terminal width in columns (default: $COLUMNS, else 120); the line is cut to fit. */
        public Builder width(int columns) {
            if (columns < 20) throw new IllegalArgumentException("width must be >= 20 columns, got " + columns);
            this.width = columns;
            return this;
        }

        /** Unicode block characters for the bar (default: when the stream's charset is UTF-8). */
        public Builder unicode(boolean unicode) {
            this.unicode = unicode;
            return this;
        }

        /** Terminal mode: minimum time between redraws (default 100 ms). */
        public Builder redrawMillis(long millis) {
            if (millis < 0) throw new IllegalArgumentException("redrawMillis must be >= 0, got " + millis);
            this.redrawMillis = millis;
            return this;
        }

        /** Plain mode: print a line every {@code k} iterations (default 0 = by time only). */
        public Builder plainEveryIters(long k) {
            if (k < 0) throw new IllegalArgumentException("plainEveryIters must be >= 0, got " + k);
            this.plainEveryIters = k;
            return this;
        }

        /** Plain mode: print a line at least every {@code s} seconds (default 10; 0 = by iterations only). */
        public Builder plainEverySeconds(double s) {
            if (!(s >= 0)) throw new IllegalArgumentException("plainEverySeconds must be >= 0, got " + s);
            this.plainEverySeconds = s;
            return this;
        }

        /** Tokens per iteration (batch x block), to show tokens/s when updates do not supply it. */
        public Builder tokensPerIter(long tokens) {
            if (tokens < 0) throw new IllegalArgumentException("tokensPerIter must be >= 0, got " + tokens);
            this.tokensPerIter = tokens;
            return this;
        }

        /** The nanosecond clock (tests use a fake one). */
        public Builder clock(LongSupplier nanoClock) {
            this.clock = Objects.requireNonNull(nanoClock, "clock");
            return this;
        }

        public ProgressBar build() {
            return new ProgressBar(this);
        }
    }
}
