package jllm.testing;

import jllm.io.TensorIO;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A PyTorch reference fixture (tools/fixtures/README.md: make_fixtures.py and make_model_fixtures.py), read from the test
 * classpath ({@code fixtures/NAME.safetensors}) or, when the system property
 * {@code jllm.fixtures.dir} is set, from that directory. {@link #find} returns null when the file
 * is absent so tests can skip with an assumption.
 */
public final class Fixture {
    public final String name;
    public final Map<String, Tensor> tensors;
    public final Map<String, String> meta;

    private Fixture(String name, Map<String, Tensor> tensors, Map<String, String> meta) {
        this.name = name;
        this.tensors = tensors;
        this.meta = meta;
    }

    public static Path locate(String name) {
        String dir = System.getProperty("jllm.fixtures.dir");
        if (dir != null && !dir.isEmpty()) {
            Path p = Path.of(dir, name + ".safetensors");
            return Files.isRegularFile(p) ? p : null;
        }
        URL u = Fixture.class.getResource("/fixtures/" + name + ".safetensors");
        if (u == null || !"file".equals(u.getProtocol())) return null;
        try {
            return Path.of(u.toURI());
        } catch (URISyntaxException e) {
            return null;
        }
    }

    /** The fixture, or null when its file is not there. */
    public static Fixture find(String name) {
        Path p = locate(name);
        if (p == null) return null;
        try {
            TensorIO.Loaded l = TensorIO.read(p, false);
            return new Fixture(name, l.tensors(), l.metadata());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The fixture; fails the test when its file is not there. */
    public static Fixture load(String name) {
        Fixture f = find(name);
        if (f == null) fail("fixture " + name + ".safetensors not found (tools/fixtures/README.md says how to make it)");
        return f;
    }

    public Tensor get(String key) {
        Tensor t = tensors.get(key);
        if (t == null) fail(name + ": no key " + key + " (has " + tensors.keySet() + ")");
        return t;
    }

    /** A fresh leaf copy that requires grad. */
    public Tensor input(String key) { return get(key).clone().requiresGrad(true); }

    /** A metadata value, or null when the fixture has none under that key. */
    public String meta(String key) { return meta.get(key); }

    /** Compares the fixture's tensor at key with actual (absolute floor 1e-6). */
    public void check(String key, Tensor actual, double rtol) { assertClose(get(key), actual, rtol, 1e-6, name + "/" + key); }

    /** Keys starting with prefix, prefix removed, in file order. */
    public Map<String, Tensor> strip(String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey().startsWith(prefix)) out.put(e.getKey().substring(prefix.length()), e.getValue());
        }
        return out;
    }

    /** param.* and buffer.* merged into a state dict. */
    public Map<String, Tensor> stateDict(String prefix) {
        Map<String, Tensor> sd = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String k = e.getKey();
            if (k.startsWith(prefix + "param.")) sd.put(k.substring(prefix.length() + 6), e.getValue());
            else if (k.startsWith(prefix + "buffer.")) sd.put(k.substring(prefix.length() + 7), e.getValue());
        }
        return sd;
    }

    /**
     * PyTorch before 2.0 printed every child of a ModuleList/Sequential; 2.x (and jllm) collapse
     * runs of equal children into {@code (0-5): 6 x Block(...)}. This expands such runs, so a tree
     * printed by jllm can be compared with one printed by an older PyTorch.
     */
    public static String expandRepeats(String repr) {
        java.util.regex.Pattern head = java.util.regex.Pattern.compile("^(\\s*)\\((\\d+)-(\\d+)\\): (\\d+) x (.*)$");
        java.util.List<String> lines = new java.util.ArrayList<>(Arrays.asList(repr.split("\n", -1)));
        boolean changed = true;
        while (changed) {
            changed = false;
            for (int i = 0; i < lines.size(); i++) {
                java.util.regex.Matcher m = head.matcher(lines.get(i));
                if (!m.matches()) continue;
                String indent = m.group(1), first = m.group(5);
                int a = Integer.parseInt(m.group(2)), b = Integer.parseInt(m.group(3));
                int end = i;
                if (first.endsWith("(")) {
                    end = i + 1;
                    while (!lines.get(end).equals(indent + ")")) end++;
                }
                java.util.List<String> body = new java.util.ArrayList<>(lines.subList(i + 1, end + 1));
                java.util.List<String> out = new java.util.ArrayList<>();
                for (int k = a; k <= b; k++) {
                    out.add(indent + "(" + k + "): " + first);
                    out.addAll(body);
                }
                lines.subList(i, end + 1).clear();
                lines.addAll(i, out);
                changed = true;
                break;
            }
        }
        return String.join("\n", lines);
    }

    /** |actual - expected| <= atol + rtol |expected| elementwise; returns the worst ratio (<= 1 passes). */
    public static double assertClose(Tensor expected, Tensor actual, double rtol, double atol, String what) {
        if (actual == null) fail(what + ": actual is null");
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray(), a = actual.detach().toDoubleArray();
        double worst = 0;
        int at = -1;
        for (int i = 0; i < e.length; i++) {
            if (e[i] == a[i]) continue; // also equal infinities
            double err = Math.abs(a[i] - e[i]) / (atol + rtol * Math.abs(e[i]));
            if (!(err <= worst)) {
                worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err;
                at = i;
            }
        }
        if (worst > 1) {
            fail(what + ": element " + at + " expected " + e[at] + " but got " + a[at] + " (rtol " + rtol + ", atol " + atol + ", shape "
                    + Arrays.toString(expected.shape()) + ")");
        }
        return worst;
    }
}
