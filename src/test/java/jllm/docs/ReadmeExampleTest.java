package jllm.docs;

import jllm.nn.GELU;
import jllm.nn.Linear;
import jllm.nn.Sequential;
import jllm.nn.functional.F;
import jllm.optim.AdamW;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The API tour of README.md, line for line, so the README cannot drift from the code. */
class ReadmeExampleTest {
    @Test
    void apiTourRunsAndLearns(@TempDir Path dir) throws Exception {
        Generator.manualSeed(42);
        var model = new Sequential(new Linear(4, 8), new GELU("none"), new Linear(8, 3));
        var opt = new AdamW(model.parameters(), 1e-2);
        Tensor x = Tensor.randn(16, 4), y = Tensor.randint(0, 3, new int[] {16});
        double first = Double.NaN, last = Double.NaN;
        for (int step = 0; step < 100; step++) {
            Tensor loss = F.crossEntropy(model.forward(x), y);
            opt.zeroGrad();
            loss.backward();
            opt.step();
            if (step == 0) first = loss.item();
            last = loss.item();
        }
        assertTrue(model.toString().startsWith("Sequential(\n  (0): Linear(in_features=4, out_features=8, bias=True)"), model.toString());
        model.save(dir.resolve("mlp.safetensors"));
        assertTrue(last < first * 0.5, "loss " + first + " -> " + last);
    }
}
