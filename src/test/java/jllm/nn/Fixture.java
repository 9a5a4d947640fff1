package jllm.nn;

import jllm.io.TensorIO;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** A PyTorch reference fixture (tools/fixtures/README.md), loaded through {@link TensorIO}. */
final class Fixture {
    final String name;
    final Map<String, Tensor> tensors;
    final Map<String, String> meta;

    private Fixture(String name, Map<String, Tensor> tensors, Map<String, String> meta) {
        this.name = name;
        this.tensors = tensors;
        this.meta = meta;
    }

    static Fixture load(String name) {
        try {
            TensorIO.Loaded l = TensorIO.read(Path.of("src/test/resources/fixtures", name + ".safetensors"), false);
            return new Fixture(name, l.tensors(), l.metadata());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    Tensor get(String key) {
        Tensor t = tensors.get(key);
        if (t == null) fail(name + ": no key " + key + " (has " + tensors.keySet() + ")");
        return t;
    }

    /** A fresh leaf copy that requires grad. */
    Tensor input(String key) { return get(key).clone().requiresGrad(true); }

    String meta(String key) { return meta.get(key); }

    /** Keys starting with prefix, with the prefix removed (e.g. "param." -> a state dict). */
    Map<String, Tensor> strip(String prefix) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            if (e.getKey().startsWith(prefix)) out.put(e.getKey().substring(prefix.length()), e.getValue());
        }
        return out;
    }

    /** |actual - expected| <= atol + rtol * |expected| elementwise, same shape. */
    static void assertClose(Tensor expected, Tensor actual, double rtol, double atol, String what) {
        if (actual == null) fail(what + ": actual is null");
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray(), a = actual.detach().toDoubleArray();
        double worst = 0;
        int worstAt = -1;
        for (int i = 0; i < e.length; i++) {
            if (e[i] == a[i]) continue;
            double err = Math.abs(a[i] - e[i]) / (atol + rtol * Math.abs(e[i]));
            if (!(err <= worst)) {
                worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err;
                worstAt = i;
            }
        }
        if (worst > 1) {
            fail(what + ": element " + worstAt + " expected " + e[worstAt] + " but got " + a[worstAt] + " (rtol " + rtol + ", atol "
                    + atol + ", shape " + Arrays.toString(expected.shape()) + ")");
        }
    }

    void check(String key, Tensor actual, double rtol) { assertClose(get(key), actual, rtol, 1e-6, name + "/" + key); }
}
