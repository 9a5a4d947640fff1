package jllm.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.*;

/** Bad inputs fail with an exception that says what was wrong, naming the shapes / index / dim involved. */
class ErrorMessagesTest {

    private static String msg(Class<? extends Throwable> type, Executable e) {
        return assertThrows(type, e).getMessage();
    }

    private static void assertContains(String m, String... parts) {
        for (String p : parts) assertTrue(m.contains(p), "message '" + m + "' should contain '" + p + "'");
    }

    @Test
    void broadcastMismatchNamesBothShapes() {
        Tensor a = Tensor.zeros(2, 3), b = Tensor.zeros(4, 3);
        assertContains(msg(IllegalArgumentException.class, () -> a.add(b)),
                "The size of tensor a (2) must match the size of tensor b (4) at non-singleton dimension 0", "[2, 3]", "[4, 3]");
        assertContains(msg(IllegalArgumentException.class, () -> a.mul(Tensor.zeros(2))), "[2, 3]", "[2]");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.where(Tensor.zeros(5).gt(0), a, a)), "[5]");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(3).add_(Tensor.zeros(2, 3))),
                "output with shape [3] doesn't match the broadcast shape [2, 3]");
        assertContains(msg(IllegalArgumentException.class, () -> a.expand(4, 3)), "expanded size", "[4, 3]", "[2, 3]");
    }

    @Test
    void matmulMismatch() {
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).matmul(Tensor.zeros(2, 3))),
                "mat1 and mat2 shapes cannot be multiplied (2x3 and 2x3)");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(5, 2, 3).matmul(Tensor.zeros(4, 4, 2))),
                "[5, 2, 3]", "[4, 4, 2]");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2, 2, 3).matmul(Tensor.zeros(3, 3, 2))),
                "[2]", "[3]");
    }

    @Test
    void viewOnNonContiguous() {
        assertContains(msg(IllegalStateException.class, () -> Tensor.zeros(2, 3).t().view(6)),
                "view size is not compatible with input tensor's size and stride", "[3, 2]", "reshape");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).view(4, 2)),
                "shape '[4, 2]' is invalid for input of size 6");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).view(-1, -1)), "only one dimension can be inferred");
    }

    @Test
    void indexOutOfRange() {
        Tensor x = Tensor.zeros(3, 4);
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.select(1, 4)), "index 4 is out of bounds for dimension 1 with size 4");
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.select(0, -4)), "index -4", "size 3");
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.indexSelect(0, Tensor.of(new long[] {0, 3}))),
                "index 3 is out of bounds for dimension 0 with size 3");
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.gather(1, Tensor.of(new long[] {7}, 1, 1))), "7", "size 4");
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.embedding(Tensor.of(new long[] {-4}))), "-4");
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.narrow(1, 3, 2)), "exceeds dimension size (4)");
        assertContains(msg(IllegalArgumentException.class, () -> x.get(1)), "expected 2 indices, got 1");
        assertContains(msg(IllegalArgumentException.class, () -> x.indexSelect(0, Tensor.of(new float[] {0}))), "int64 or int32", "float32");
    }

    @Test
    void dimOutOfRange() {
        Tensor x = Tensor.zeros(3, 4);
        String expect = "Dimension out of range (expected to be in range of [-2, 1], but got 2)";
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.sum(2, false)), expect);
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.transpose(0, 2)), expect);
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.softmax(2)), expect);
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.size(-3)), "but got -3");
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.unsqueeze(3)), "[-3, 2], but got 3");
        assertContains(msg(IndexOutOfBoundsException.class, () -> Tensor.cat(2, x, x)), expect);
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.argmax(-3, false)), "but got -3");
        assertContains(msg(IndexOutOfBoundsException.class, () -> x.cumsum(5)), "but got 5");
    }

    @Test
    void otherBadArguments() {
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2).requiresGrad(true).matmul(Tensor.of(new long[] {1, 2}))),
                "floating point", "int64");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2).maskedFill(Tensor.zeros(2), 1)), "boolean", "float32");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.where(Tensor.zeros(2), Tensor.zeros(2), Tensor.zeros(2))),
                "bool", "float32");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).permute(0, 0)), "repeated dim");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).flatten(1, 0)), "start_dim cannot come after end_dim");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).chunk(0, 0)), "chunks");
        assertContains(msg(IllegalArgumentException.class, () -> Tensor.zeros(2, 3).topk(4)), "k (4)", "size 3");
    }
}
