package jllm.bench;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The probes the benchmarks report against measure something plausible and print it. */
class MachineLimitsTest {
    @Test
    void probesMeasureThePeakAndTheBandwidth() {
        MachineLimits m = MachineLimits.measure(2, 3);
        // a vector FMA unit does at least a few GFLOP/s on any machine that runs the Vector API; DRAM streams GB/s
        assertTrue(m.peakGflops(1) > 5 && m.peakGflops(1) < 10_000, m.toString());
        assertTrue(m.peakGflops(2) >= 0.5 * m.peakGflops(1), m.toString());
        assertTrue(m.bandwidthGBs(1) > 0.5 && m.bandwidthGBs(2) > 0.5, m.toString());
        for (MachineLimits.Stats s : m.fmaGflops()) assertTrue(s.min() <= s.median() && s.median() <= s.max(), s.toString());
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        m.print(new PrintStream(b, true, StandardCharsets.UTF_8));
        String line = b.toString(StandardCharsets.UTF_8);
        assertTrue(line.startsWith("machine: FMA peak ") && line.contains("GFLOP/s on 1 thread") && line.contains("memory bandwidth (triad)"), line);
    }

    @Test
    void trainFlopsCountsAsNanoGptDoes() {
        // GPT-2 124M at B=4, T=64: (6 * 123,653,376 + 12 * 12 * 768 * 64) * 256 tokens
        double want = (6.0 * 123_653_376L + 12.0 * 12 * 768 * 64) * 4 * 64;
        assertTrue(Math.abs(ModelBench.trainFlops(ModelBench.CASES.get("gpt2")) - want) < 1, "" + ModelBench.trainFlops(ModelBench.CASES.get("gpt2")));
    }
}
