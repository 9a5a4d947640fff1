package jllm.data;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class DatasetsTest {

    @Test
    void tinyShakespeare() {
        String text = Datasets.tinyShakespeare();
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        assertEquals(1_115_394, bytes.length);
        assertEquals(1_115_394, text.length());
        assertEquals(65, text.chars().distinct().count());
        assertEquals(Datasets.TINY_SHAKESPEARE_SHA256, Datasets.sha256(bytes));
        assertTrue(text.startsWith("First Citizen:\nBefore we proceed any further, hear me speak."));
        assertSame(text, Datasets.tinyShakespeare());
    }

    @Test
    void hashMismatchIsReported() {
        var e = assertThrows(IllegalStateException.class,
                () -> Datasets.load(Datasets.TINY_SHAKESPEARE_RESOURCE, "00".repeat(32)));
        assertTrue(e.getMessage().contains("corrupt") && e.getMessage().contains("86c4e6aa"), e.getMessage());
        var m = assertThrows(IllegalStateException.class, () -> Datasets.load("/jllm/data/nope.txt", "00"));
        assertTrue(m.getMessage().contains("missing"), m.getMessage());
    }
}
