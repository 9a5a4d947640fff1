package jllm.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

class BatchingTest {

    @TempDir
    Path dir;

    private static int[] range(int n) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = i;
        return a;
    }

    @Test
    void dataLoaderLiteIsSequentialAndWraps() {
        List<String> log = new ArrayList<>();
        DataLoaderLite dl = new DataLoaderLite(TokenSource.of(range(20)), 2, 4, log::add);
        assertEquals(List.of("loaded 20 tokens", "1 epoch = 2 batches"), log);

        Batch b1 = dl.next();
        assertEquals(DType.I64, b1.x().dtype());
        assertArrayEquals(new int[] {2, 4}, b1.x().shape());
        assertArrayEquals(new int[] {2, 4}, b1.y().shape());
        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7}, b1.x().toLongArray());
        assertArrayEquals(new long[] {1, 2, 3, 4, 5, 6, 7, 8}, b1.y().toLongArray());
        assertEquals(8, dl.position());
        Batch b2 = dl.next();
        assertArrayEquals(new long[] {8, 9, 10, 11, 12, 13, 14, 15}, b2.x().toLongArray());
        assertArrayEquals(new long[] {9, 10, 11, 12, 13, 14, 15, 16}, b2.y().toLongArray());
        // 16 + 2*4 + 1 > 20: the next batch starts over
        assertEquals(0, dl.position());
        assertArrayEquals(b1.x().toLongArray(), dl.next().x().toLongArray());

        dl.setPosition(3);
        assertArrayEquals(new long[] {3, 4, 5, 6, 7, 8, 9, 10}, dl.next().x().toLongArray());
        dl.reset();
        assertEquals(0, dl.position());
        assertThrows(IllegalArgumentException.class, () -> dl.setPosition(12));
        assertThrows(IllegalArgumentException.class, () -> dl.setPosition(-1));
    }

    @Test
    void dataLoaderLiteExactFitAndErrors() {
        // exactly B*T+1 tokens: every batch is the same one
        DataLoaderLite dl = new DataLoaderLite(TokenSource.of(range(9)), 2, 4, s -> {});
        assertArrayEquals(dl.next().y().toLongArray(), dl.next().y().toLongArray());
        var e = assertThrows(IllegalArgumentException.class, () -> new DataLoaderLite(TokenSource.of(range(8)), 2, 4, s -> {}));
        assertTrue(e.getMessage().contains("at least 9 tokens"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new DataLoaderLite(TokenSource.of(range(8)), 0, 4, s -> {}));
        assertThrows(IllegalArgumentException.class, () -> new DataLoaderLite(TokenSource.of(range(80)), 2, 4, 2, 2, s -> {}));
    }

    @Test
    void dataLoaderLiteRanksReadDisjointChunks() {
        int[] t = range(50);
        DataLoaderLite r0 = new DataLoaderLite(TokenSource.of(t), 2, 4, 0, 2, s -> {});
        DataLoaderLite r1 = new DataLoaderLite(TokenSource.of(t), 2, 4, 1, 2, s -> {});
        assertEquals(0, r0.next().x().toLongArray()[0]);
        assertEquals(8, r1.next().x().toLongArray()[0]);
        assertEquals(16, r0.next().x().toLongArray()[0]);
        assertEquals(24, r1.next().x().toLongArray()[0]);
        // after a batch, a rank starts over when worldSize*B*T + 1 more tokens would run past the end
        assertEquals(32, r0.next().x().toLongArray()[0]); // 32 + 17 <= 50
        assertEquals(8, r1.next().x().toLongArray()[0]);  // 40 + 17 > 50
        assertEquals(0, r0.next().x().toLongArray()[0]);  // 48 + 17 > 50
    }

    @Test
    void randomBatcherMatchesGetBatch() {
        int[] data = range(100);
        Batch b = new RandomBatcher(data).sample(4, 8, new Generator(1337));
        assertArrayEquals(new int[] {4, 8}, b.x().shape());
        assertEquals(DType.I64, b.y().dtype());
        // ix = torch.randint(len(data) - block_size, (batch_size,)) with the same generator
        long[] ix = Tensor.randint(0, 100 - 8, new int[] {4}, new Generator(1337)).toLongArray();
        long[] x = b.x().toLongArray(), y = b.y().toLongArray();
        for (int r = 0; r < 4; r++) {
            for (int t = 0; t < 8; t++) {
                assertEquals(ix[r] + t, x[r * 8 + t]);
                assertEquals(ix[r] + t + 1, y[r * 8 + t]);
            }
        }
        // windows may end exactly at the last token, never past it
        Batch tight = new RandomBatcher(range(9)).sample(3, 8, new Generator(1));
        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6, 7}, java.util.Arrays.copyOf(tight.x().toLongArray(), 8));
        assertEquals(8, tight.y().toLongArray()[23]);
        var e = assertThrows(IllegalArgumentException.class, () -> new RandomBatcher(range(8)).sample(1, 8, new Generator(1)));
        assertTrue(e.getMessage().contains("need at least 9"), e.getMessage());
    }

    @Test
    void randomBatcherOverTokenFileEqualsInMemory() throws IOException {
        int[] data = new int[1000];
        for (int i = 0; i < data.length; i++) data[i] = (i * 7919) % 65536;
        Path p = dir.resolve("train.bin");
        TokenFile.write(p, data);
        try (TokenFile f = TokenFile.open(p)) {
            Batch a = new RandomBatcher(f).sample(5, 16, new Generator(7));
            Batch b = new RandomBatcher(data).sample(5, 16, new Generator(7));
            assertArrayEquals(b.x().toLongArray(), a.x().toLongArray());
            assertArrayEquals(b.y().toLongArray(), a.y().toLongArray());
            DataLoaderLite dl = new DataLoaderLite(f, 4, 16, s -> {});
            assertArrayEquals(java.util.Arrays.stream(data, 1, 65).asLongStream().toArray(), dl.next().y().toLongArray());
        }
    }

    @Test
    void trainValSplit() {
        TrainValSplit s = TrainValSplit.of(range(1_115_394));
        assertEquals(1_003_854, s.train().length);
        assertEquals(111_540, s.val().length);
        assertEquals(1_003_854, s.val()[0]);
        TrainValSplit t = TrainValSplit.of(range(10), 0.7);
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5, 6}, t.train());
        assertArrayEquals(new int[] {7, 8, 9}, t.val());
        TrainValSplit.Text txt = TrainValSplit.splitText("ab\uD83D\uDE00cdefghij", 0.3);
        assertEquals("ab\uD83D\uDE00", txt.train());
        assertEquals("cdefghij", txt.val());
        assertThrows(IllegalArgumentException.class, () -> TrainValSplit.of(range(3), 1.5));
    }
}
