package jllm.io;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import jllm.tensor.Float16;

/**
 * A tensor for the writer whose bytes are produced on demand, chunk by chunk, straight into
 * the writer's buffer: a model can be saved (and converted, e.g. float to bf16) without
 * materialising a second copy of its weights. {@code byteSize} is how many bytes the filler
 * produces; the writer checks it against {@code shape} and {@code dtype}.
 */
public record TensorSource(String name, StDType dtype, long[] shape, long byteSize, Filler filler) {

    private static final ValueLayout.OfFloat LE_F32 =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_I32 =
            ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_I64 =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Produces a tensor's little-endian bytes, one chunk at a time. */
    @FunctionalInterface
    public interface Filler {
        /**
         * Writes bytes {@code [offset, offset + dst.byteSize())} of the tensor's data into
         * {@code dst}. Chunks come in order; {@code offset} and {@code dst.byteSize()} are
         * multiples of the element size. An exception aborts the whole write.
         */
        void fill(long offset, MemorySegment dst) throws IOException;
    }

    public TensorSource {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, () -> "dtype of tensor '" + name + "'");
        Objects.requireNonNull(shape, () -> "shape of tensor '" + name + "'");
        Objects.requireNonNull(filler, () -> "filler of tensor '" + name + "'");
        shape = shape.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Writes an entry's bytes as they are. */
    public static TensorSource of(TensorEntry e) {
        MemorySegment data = e.data();
        return new TensorSource(e.name(), e.dtype(), e.shape(), data.byteSize(),
                (offset, dst) -> MemorySegment.copy(data, offset, dst, 0, dst.byteSize()));
    }

    /** Floats stored as F32. */
    public static TensorSource f32(String name, long[] shape, float[] values) {
        return new TensorSource(name, StDType.F32, shape, 4L * values.length,
                (offset, dst) -> MemorySegment.copy(values, (int) (offset / 4), dst, LE_F32, 0, (int) (dst.byteSize() / 4)));
    }

    /** Floats stored as BF16, rounded to nearest even as PyTorch's {@code .bfloat16()}. */
    public static TensorSource bf16(String name, long[] shape, float[] values) {
        return new TensorSource(name, StDType.BF16, shape, 2L * values.length,
                (offset, dst) -> Float16.floatToBf16(values, (int) (offset / 2), dst, 0, (int) (dst.byteSize() / 2)));
    }

    /** Floats stored as F16, rounded to nearest even as PyTorch's {@code .half()}. */
    public static TensorSource f16(String name, long[] shape, float[] values) {
        return new TensorSource(name, StDType.F16, shape, 2L * values.length,
                (offset, dst) -> Float16.floatToF16(values, (int) (offset / 2), dst, 0, (int) (dst.byteSize() / 2)));
    }

    /** Ints stored as I32. */
    public static TensorSource i32(String name, long[] shape, int[] values) {
        return new TensorSource(name, StDType.I32, shape, 4L * values.length,
                (offset, dst) -> MemorySegment.copy(values, (int) (offset / 4), dst, LE_I32, 0, (int) (dst.byteSize() / 4)));
    }

    /** Longs stored as I64. */
    public static TensorSource i64(String name, long[] shape, long[] values) {
        return new TensorSource(name, StDType.I64, shape, 8L * values.length,
                (offset, dst) -> MemorySegment.copy(values, (int) (offset / 8), dst, LE_I64, 0, (int) (dst.byteSize() / 8)));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorSource s && name.equals(s.name) && dtype == s.dtype
                && Arrays.equals(shape, s.shape) && byteSize == s.byteSize && filler.equals(s.filler);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), byteSize, filler);
    }

    @Override
    public String toString() {
        return "TensorSource[" + name + ", " + dtype + ", " + Arrays.toString(shape) + ", " + byteSize + " bytes]";
    }
}
