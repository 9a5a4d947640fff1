package jllm.distributed;

import java.util.List;

/**
 * Start-up agreement check: each rank's description of something that must be equal on every rank
 * (the config, the parameter shapes, the data sizes) is gathered whole, so that a mismatch can be
 * shown, not just detected. Descriptions are short (a few kB at most).
 */
final class Fingerprint {
    private Fingerprint() {}

    static void verify(ProcessGroup pg, String what, String value) {
        List<String> values = pg.allGather(value, "the agreement check of " + what);
        for (int r = 1; r < values.size(); r++) {
            if (!values.get(r).equals(values.get(0))) {
                throw new DistributedException("ranks disagree on " + what + ": rank 0 has " + excerpt(values.get(0), values.get(r))
                        + " but rank " + r + " has " + excerpt(values.get(r), values.get(0)));
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
