package jllm.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;
import jllm.tensor.Float16;

/**
 * One named tensor as raw bytes: {@code data} holds {@code numel() * dtype.byteSize()} bytes,
 * little-endian, C (row-major) order. Entries read from a file are zero-copy, read-only slices
 * of the mapping, valid while the file is open (or, for {@code openAuto}, while reachable); a
 * slice need not be aligned, so read it with the {@code *_UNALIGNED} layouts.
 *
 * <p>The shape array is copied in and out. The constructor does not check {@code data}'s size
 * against the shape: the writer does, so that it can name the file it was writing.
 */
public record TensorEntry(String name, StDType dtype, long[] shape, MemorySegment data) {

    private static final ValueLayout.OfFloat LE_F32 =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble LE_F64 =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public TensorEntry {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(dtype, () -> "dtype of tensor '" + name + "'");
        Objects.requireNonNull(shape, () -> "shape of tensor '" + name + "'");
        Objects.requireNonNull(data, () -> "data of tensor '" + name + "'");
        shape = shape.clone();
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException(
                        "tensor '" + name + "': negative dimension in shape " + Arrays.toString(shape));
            }
        }
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements: the product of the shape (1 for a scalar, shape []). */
    public long numel() {
        return numel(shape);
    }

    /** Bytes the shape and dtype call for (which {@code data} holds in a valid entry). */
    public long expectedByteSize() {
        return Math.multiplyExact(numel(), (long) dtype.byteSize());
    }

    static long numel(long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /**
     * Copies the elements into a new {@code float[]}: F32 as is, F16/BF16 widened exactly,
     * F64 rounded to nearest float.
     */
    public float[] toFloatArray() {
        long n = numel();
        if (n > Integer.MAX_VALUE - 8) {
            throw new SafeTensorsException("tensor '" + name + "': " + n + " elements do not fit a Java array");
        }
        if (data.byteSize() != expectedByteSize()) {
            throw new SafeTensorsException("tensor '" + name + "': data holds " + data.byteSize()
                    + " bytes but shape " + Arrays.toString(shape) + " of " + dtype + " needs " + expectedByteSize());
        }
        int count = (int) n;
        float[] out = new float[count];
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, LE_F32, 0, out, 0, count);
            case BF16 -> Float16.bf16ToFloat(data, 0, out, 0, count);
            case F16 -> Float16.f16ToFloat(data, 0, out, 0, count);
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = (float) data.get(LE_F64, 8L * i);
                }
            }
            default -> throw new SafeTensorsException(
                    "tensor '" + name + "': toFloatArray supports F32, F16, BF16 and F64, not " + dtype);
        }
        return out;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorEntry e && name.equals(e.name) && dtype == e.dtype
                && Arrays.equals(shape, e.shape) && data.equals(e.data);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape), data);
    }

    @Override
    public String toString() {
        return "TensorEntry[" + name + ", " + dtype + ", " + Arrays.toString(shape) + ", " + data.byteSize() + " bytes]";
    }
}
