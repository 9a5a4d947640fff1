package jllm.models;

import jllm.tensor.DType;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryBudgetTest {
    @Test
    void parametersAreCountedInTheTypeTheyLoadAs() {
        long max = Runtime.getRuntime().maxMemory();
        long n = max / 3; // 1.33x the heap as float32, 0.67x as bfloat16, 0.19x as q4_0
        var e = assertThrows(IllegalArgumentException.class, () -> MemoryBudget.requireFits(n, "config.json"));
        assertTrue(e.getMessage().startsWith("config.json: the model has ") && e.getMessage().contains("as float32"), e.getMessage());
        assertDoesNotThrow(() -> MemoryBudget.requireFits(n, DType.BF16, "config.json"));
        assertDoesNotThrow(() -> MemoryBudget.requireFits(n, DType.Q4_0, "config.json"));
        var q8 = assertThrows(IllegalArgumentException.class, () -> MemoryBudget.requireFits(max, DType.Q8_0, "model.gguf"));
        assertTrue(q8.getMessage().contains("as q8_0"), q8.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MemoryBudget.requireFits(-1, DType.BF16, "config.json"));
    }
}
