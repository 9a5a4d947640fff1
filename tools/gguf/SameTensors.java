import jllm.io.gguf.GgufFile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * check_gguf.mjs's byte comparison: which tensors of two GGUF files have the same type, dimensions
 * and data bytes (e.g. jllm's q8_0 conversion against llama.cpp's own quantizer on the same float
 * weights). Prints one JSON line: {"same": n, "total": m, "different": [names]}.
 *
 * Usage: java -cp target/jllm.jar tools/gguf/SameTensors.java A.gguf B.gguf
 */
public class SameTensors {
    public static void main(String[] args) throws Exception {
        GgufFile a = GgufFile.open(Path.of(args[0])), b = GgufFile.open(Path.of(args[1]));
        List<String> different = new ArrayList<>();
        int same = 0;
        for (GgufFile.TensorInfo t : a.tensors().values()) {
            GgufFile.TensorInfo u = b.tensors().get(t.name());
            boolean eq = u != null && u.type() == t.type() && java.util.Arrays.equals(u.ne(), t.ne()) && a.data(t).mismatch(b.data(u)) == -1;
            if (eq) same++;
            else different.add("\"" + t.name() + (u == null ? "" : " (" + t.type() + " vs " + u.type() + ")") + "\"");
        }
        for (String n : b.tensors().keySet()) if (!a.tensors().containsKey(n)) different.add("\"" + n + " (only in the second)\"");
        System.out.println("{\"same\": " + same + ", \"total\": " + a.tensors().size() + ", \"different\": " + different + "}");
    }
}
