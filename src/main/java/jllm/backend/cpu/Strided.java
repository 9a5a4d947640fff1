package jllm.backend.cpu;

/**
 * Walks the rows of up to three strided operands that share one (broadcast) shape: dims that are
 * laid out back to back in every operand are merged first, then the body is called once per
 * innermost row, so per-element work stays in tight loops and the body is called per row only.
 */
final class Strided {
    private Strided() {}

    /** Called once per row: n elements, and for each operand its offset and inner stride. */
    @FunctionalInterface
    interface Row {
        void run(int n, int o0, int s0, int o1, int s1, int o2, int s2);
    }

    /** Elements at which a walk is split over the worker pool. */
    static final int PARALLEL_GRAIN = 1 << 15;

    static void forEach(int[] shape, int[] st0, int off0, int[] st1, int off1, int[] st2, int off2, Row body) {
        int rank = shape.length;
        long total = 1;
        for (int s : shape) total *= s;
        if (total == 0) return;
        // merge dims: dim i-1 and i merge when for every operand stride[i-1] == stride[i]*shape[i]
        int[] shp = new int[Math.max(rank, 1)];
        int[] a = new int[shp.length], b = new int[shp.length], c = new int[shp.length];
        int r = 0;
        for (int i = 0; i < rank; i++) {
            if (shape[i] == 1) continue;
            int sa = st0[i], sb = st1 == null ? 0 : st1[i], sc = st2 == null ? 0 : st2[i];
            if (r > 0 && a[r - 1] == sa * shape[i] && b[r - 1] == sb * shape[i] && c[r - 1] == sc * shape[i]) {
                shp[r - 1] *= shape[i];
                a[r - 1] = sa;
                b[r - 1] = sb;
                c[r - 1] = sc;
            } else {
                shp[r] = shape[i];
                a[r] = sa;
                b[r] = sb;
                c[r] = sc;
                r++;
            }
        }
        if (r == 0) {
            body.run(1, off0, 0, off1, 0, off2, 0);
            return;
        }
        int inner = shp[r - 1];
        int ia = a[r - 1], ib = b[r - 1], ic = c[r - 1];
        int outerRank = r - 1;
        int rows = (int) (total / inner);
        if (rows == 1) {
            if (inner >= 2 * PARALLEL_GRAIN) {
                Parallel.forRange(inner, PARALLEL_GRAIN, (s, e) ->
                        body.run(e - s, off0 + s * ia, ia, off1 + s * ib, ib, off2 + s * ic, ic));
            } else {
                body.run(inner, off0, ia, off1, ib, off2, ic);
            }
            return;
        }
        final int[] fs = shp, fa = a, fb = b, fc = c;
        Parallel.RangeBody walk = (start, end) -> {
            int[] idx = new int[Math.max(outerRank, 1)];
            int rem = start;
            int o0 = off0, o1 = off1, o2 = off2;
            for (int d = outerRank - 1; d >= 0; d--) {
                idx[d] = rem % fs[d];
                rem /= fs[d];
                o0 += idx[d] * fa[d];
                o1 += idx[d] * fb[d];
                o2 += idx[d] * fc[d];
            }
            for (int row = start; row < end; row++) {
                body.run(inner, o0, ia, o1, ib, o2, ic);
                for (int d = outerRank - 1; d >= 0; d--) {
                    idx[d]++;
                    o0 += fa[d];
                    o1 += fb[d];
                    o2 += fc[d];
                    if (idx[d] < fs[d]) break;
                    o0 -= fa[d] * fs[d];
                    o1 -= fb[d] * fs[d];
                    o2 -= fc[d] * fs[d];
                    idx[d] = 0;
                }
            }
        };
        if (total >= 2L * PARALLEL_GRAIN) {
            Parallel.forRange(rows, Math.max(1, PARALLEL_GRAIN / inner), walk);
        } else {
            walk.run(0, rows);
        }
    }
}
