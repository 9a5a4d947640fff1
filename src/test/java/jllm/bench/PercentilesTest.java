package jllm.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class PercentilesTest {

    @Test
    void linearInterpolationBetweenClosestRanksLikeNumpy() {
        Percentiles p = new Percentiles();
        for (int i = 100; i >= 1; i--) p.add(i); // unsorted on purpose
        assertEquals(100, p.count());
        assertEquals(50.5, p.percentile(50), 1e-12);   // numpy.percentile(range(1, 101), 50)
        assertEquals(99.01, p.percentile(99), 1e-12);  // numpy.percentile(range(1, 101), 99)
        assertEquals(1, p.percentile(0));
        assertEquals(100, p.percentile(100));
        assertEquals(50.5, p.mean(), 1e-12);

        Percentiles q = new Percentiles();
        for (double x : new double[] {7, 1, 3}) q.add(x);
        assertEquals(3, q.percentile(50));
        assertEquals(6.2, q.percentile(90), 1e-12); // 3 + 0.8 * (7 - 3)
        q.add(2);                                   // adding after a percentile sorts again
        assertEquals(2.5, q.percentile(50), 1e-12);
    }

    @Test
    void emptySingleMergedAndBadInput() {
        Percentiles e = new Percentiles();
        assertTrue(Double.isNaN(e.percentile(50)));
        assertTrue(Double.isNaN(e.mean()));
        Percentiles one = new Percentiles();
        one.add(4.5);
        assertEquals(4.5, one.percentile(1));
        assertEquals(4.5, one.percentile(99));
        Percentiles a = new Percentiles(), b = new Percentiles();
        for (int i = 0; i < 20; i++) a.add(i);
        for (int i = 20; i < 40; i++) b.add(i);
        a.addAll(b);
        assertEquals(40, a.count());
        assertEquals(19.5, a.percentile(50), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> a.percentile(101));
        assertThrows(IllegalArgumentException.class, () -> a.add(Double.NaN));
    }
}
