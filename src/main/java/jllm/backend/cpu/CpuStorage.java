package jllm.backend.cpu;

import jllm.backend.Storage;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Float16;

/**
 * Heap storage: F32 in float[], F64 in double[], F16/BF16 as raw bits in short[], I64 in long[],
 * I32 in int[], U8/BOOL in byte[], Q8_0/Q4_0 blocks in byte[] (size counts elements, not bytes).
 * Heap arrays are what the Vector API is fastest on.
 */
public final class CpuStorage extends Storage {
    private final DType dtype;
    private final Object array;
    private final int size;
    private final Device device;

    CpuStorage(DType dtype, Object array, int size) {
        this(dtype, array, size, Device.CPU);
    }

    private CpuStorage(DType dtype, Object array, int size, Device device) {
        this.dtype = dtype;
        this.array = array;
        this.size = size;
        this.device = device;
    }

    public static CpuStorage allocate(DType dtype, int n) {
        Object a = switch (dtype) {
            case F32 -> new float[n];
            case F64 -> new double[n];
            case F16, BF16 -> new short[n];
            case I64 -> new long[n];
            case I32 -> new int[n];
            case U8, BOOL -> new byte[n];
            case Q8_0, Q4_0 -> new byte[Math.toIntExact(dtype.bytes(n))];
        };
        return new CpuStorage(dtype, a, n);
    }

    /** Wraps (does not copy) a host array whose element type must match {@code dtype}. */
    public static CpuStorage wrap(DType dtype, Object array) {
        int n = switch (dtype) {
            case F32 -> ((float[]) array).length;
            case F64 -> ((double[]) array).length;
            case F16, BF16 -> ((short[]) array).length;
            case I64 -> ((long[]) array).length;
            case I32 -> ((int[]) array).length;
            case U8, BOOL -> ((byte[]) array).length;
            case Q8_0, Q4_0 -> blockElements(dtype, ((byte[]) array).length);
        };
        return new CpuStorage(dtype, array, n);
    }

    private static int blockElements(DType dtype, int bytes) {
        if (bytes % dtype.blockBytes() != 0) {
            throw new IllegalArgumentException(bytes + " bytes are not a whole number of " + dtype.torchName() + " blocks of "
                    + dtype.blockBytes() + " bytes");
        }
        return Math.toIntExact((long) bytes / dtype.blockBytes() * dtype.blockSize());
    }

    /**
     * Wraps (does not copy) a host array as a storage that reports another device. For backends that
     * keep their data in host memory under their own device name and reuse the CPU kernels (the
     * test-only device of the tensor tests, a future pinned-host device); the CPU kernels ignore it.
     */
    public static CpuStorage wrap(DType dtype, Object array, Device device) {
        CpuStorage s = wrap(dtype, array);
        return device.equals(Device.CPU) ? s : new CpuStorage(dtype, array, s.size, device);
    }

    @Override public DType dtype() { return dtype; }

    @Override public Device device() { return device; }

    @Override public int size() { return size; }

    public Object array() { return array; }

    /** The heap array's bytes as a segment (for copies to native memory: a device, MPI). */
    public java.lang.foreign.MemorySegment bytes() {
        return switch (array) {
            case float[] a -> java.lang.foreign.MemorySegment.ofArray(a);
            case double[] a -> java.lang.foreign.MemorySegment.ofArray(a);
            case short[] a -> java.lang.foreign.MemorySegment.ofArray(a);
            case long[] a -> java.lang.foreign.MemorySegment.ofArray(a);
            case int[] a -> java.lang.foreign.MemorySegment.ofArray(a);
            case byte[] a -> java.lang.foreign.MemorySegment.ofArray(a);
            default -> throw new IllegalStateException("unknown CPU storage " + array.getClass());
        };
    }

    public float[] f32() { return (float[]) array; }

    public double[] f64() { return (double[]) array; }

    public short[] i16() { return (short[]) array; }

    public long[] i64() { return (long[]) array; }

    public int[] i32() { return (int[]) array; }

    public byte[] u8() { return (byte[]) array; }

    /** Reads element i as a double, whatever the dtype (slow path for non-F32 types). */
    public double getDouble(int i) {
        return switch (dtype) {
            case F32 -> ((float[]) array)[i];
            case F64 -> ((double[]) array)[i];
            case F16 -> Float.float16ToFloat(((short[]) array)[i]);
            case BF16 -> Float16.bf16ToFloat(((short[]) array)[i]);
            case I64 -> ((long[]) array)[i];
            case I32 -> ((int[]) array)[i];
            case U8 -> ((byte[]) array)[i] & 0xff;
            case BOOL -> ((byte[]) array)[i] != 0 ? 1 : 0;
            case Q8_0, Q4_0 -> BlockQuant.get(dtype, (byte[]) array, i);
        };
    }

    public long getLong(int i) {
        return switch (dtype) {
            case I64 -> ((long[]) array)[i];
            case I32 -> ((int[]) array)[i];
            case U8 -> ((byte[]) array)[i] & 0xff;
            case BOOL -> ((byte[]) array)[i] != 0 ? 1 : 0;
            default -> (long) getDouble(i);
        };
    }

    /** Writes element i from a double, converting like PyTorch's casts (float to int truncates). */
    public void setDouble(int i, double v) {
        switch (dtype) {
            case F32 -> ((float[]) array)[i] = (float) v;
            case F64 -> ((double[]) array)[i] = v;
            case F16 -> ((short[]) array)[i] = Float.floatToFloat16((float) v);
            case BF16 -> ((short[]) array)[i] = Float16.floatToBf16((float) v);
            case I64 -> ((long[]) array)[i] = (long) v;
            case I32 -> ((int[]) array)[i] = (int) (long) v;
            case U8 -> ((byte[]) array)[i] = (byte) (long) v;
            case BOOL -> ((byte[]) array)[i] = (byte) (v != 0 ? 1 : 0);
            case Q8_0, Q4_0 -> throw blockWrite(dtype);
        }
    }

    /** A quantized element cannot be written alone: its block shares one scale. */
    static UnsupportedOperationException blockWrite(DType dtype) {
        return new UnsupportedOperationException(dtype.torchName() + " tensors are written whole blocks of " + dtype.blockSize()
                + " contiguous elements at a time (copy a contiguous float tensor into them, or use to(" + dtype.torchName() + "))");
    }

    public void setLong(int i, long v) {
        switch (dtype) {
            case I64 -> ((long[]) array)[i] = v;
            case I32 -> ((int[]) array)[i] = (int) v;
            case U8 -> ((byte[]) array)[i] = (byte) v;
            case BOOL -> ((byte[]) array)[i] = (byte) (v != 0 ? 1 : 0);
            default -> setDouble(i, v);
        }
    }
}
