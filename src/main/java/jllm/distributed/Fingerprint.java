package jllm.distributed;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Start-up agreement check: each rank's description of something that must be equal on every rank
 * (the config, the parameter shapes, the data sizes) is gathered, padded to the longest, so that a
 * mismatch can be shown, not just detected. Descriptions are short (a few kB at most).
 */
final class Fingerprint {
    private Fingerprint() {}

    static void verify(ProcessGroup pg, String what, String value) {
        byte[] mine = value.getBytes(StandardCharsets.UTF_8);
        long[] lengths = pg.allGather(mine.length, "agreement check of " + what + " (lengths)");
        int max = (int) Arrays.stream(lengths).max().orElse(0);
        byte[] all = pg.allGatherBytes(Arrays.copyOf(mine, max), "agreement check of " + what);
        int world = pg.worldSize();
        String[] values = new String[world];
        for (int r = 0; r < world; r++) values[r] = new String(all, r * max, (int) lengths[r], StandardCharsets.UTF_8);
        for (int r = 1; r < world; r++) {
            if (!values[r].equals(values[0])) {
                throw new DistributedException("ranks disagree on " + what + ": rank 0 has " + excerpt(values[0], values[r])
                        + " but rank " + r + " has " + excerpt(values[r], values[0]));
            }
        }
    }

    /** The part of {@code a} around its first difference from {@code b}, so long descriptions stay one readable line. */
    static String excerpt(String a, String b) {
        int i = 0;
        while (i < a.length() && i < b.length() && a.charAt(i) == b.charAt(i)) i++;
        int from = Math.max(0, i - 40), to = Math.min(a.length(), i + 60);
        return (from > 0 ? "..." : "") + "'" + a.substring(from, to) + "'" + (to < a.length() ? "..." : "");
    }
}
