package jllm.io;

import jllm.autograd.Grad;
import jllm.backend.Backends;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Float16;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Arrays;

/**
 * The bridge between {@link Tensor}s and safetensors files: {@code safetensors.torch.save_file}
 * and {@code load_file} for jllm.
 *
 * <p>Writing keeps every tensor's own dtype (F32, F64, F16, BF16, I64, I32, U8, BOOL); tensors are
 * brought to the CPU and made contiguous first, and the file is replaced atomically.
 *
 * <p>Reading copies each tensor onto the Java heap (CPU), so the result does not depend on the
 * file staying open. dtypes map as follows:
 * <ul>
 *   <li>F32, F64, F16, BF16, I64, I32, U8, BOOL: kept as the same jllm dtype (F16/BF16 bits are
 *       copied verbatim), unless {@code asF32} is set, which widens every floating type to F32;</li>
 *   <li>I8, I16, U16: widened to I32 (exact);</li>
 *   <li>U32: widened to I64 (exact); U64: read as I64, an error if a value exceeds 2^63-1;</li>
 *   <li>F8 variants and C64: not supported, a {@link SafeTensorsException} naming file and key.</li>
 * </ul>
 * Keys come back in the order of their data in the file.
 */
public final class TensorIO {
    private static final ValueLayout.OfFloat LE_F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble LE_F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_I16 = Float16.LE_SHORT;

    private TensorIO() {}

    /** Tensors and the {@code __metadata__} of one file. */
    public record Loaded(LinkedHashMap<String, Tensor> tensors, Map<String, String> metadata) {}

    // ------------------------------------------------------------------ writing

    /** Writes tensors (any device, any layout) to a safetensors file, atomically. metadata may be null. */
    public static void save(Path file, Map<String, Tensor> tensors, Map<String, String> metadata) throws IOException {
        List<TensorSource> sources = new ArrayList<>(tensors.size());
        try (var g = Grad.off()) {
            for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
                if (e.getValue() == null) {
                    throw new SafeTensorsException(file + ": tensor '" + e.getKey() + "' is null");
                }
                sources.add(source(e.getKey(), e.getValue()));
            }
        }
        SafeTensors.writeSources(file, sources, metadata);
    }

    public static void save(Path file, Map<String, Tensor> tensors) throws IOException { save(file, tensors, null); }

    /**
     * A tensor's bytes for the writer, read from the tensor 64K elements at a time as the writer asks
     * for them: saving a model or an optimizer state never holds a second copy of it (a GPT-2
     * checkpoint would otherwise first copy its 1.5 GB of weights and AdamW moments). The tensor is
     * read when the file is written, so it must not change before then.
     */
    public static TensorSource source(String name, Tensor t) {
        Tensor c = t.detach().to(Device.CPU);
        Tensor flat = (c.isContiguous() ? c : c.contiguous()).reshape(-1);
        int[] s = c.shape();
        long[] shape = new long[s.length];
        for (int i = 0; i < s.length; i++) shape[i] = s[i];
        StDType st = switch (c.dtype()) {
            case F32 -> StDType.F32;
            case F64 -> StDType.F64;
            case F16 -> StDType.F16;
            case BF16 -> StDType.BF16;
            case I64 -> StDType.I64;
            case I32 -> StDType.I32;
            case U8 -> StDType.U8;
            case BOOL -> StDType.BOOL;
            case Q8_0, Q4_0 -> throw new IllegalArgumentException("tensor '" + name + "' is " + c.dtype().torchName()
                    + ", which safetensors has no type for (write it to GGUF, or convert it with to(float32) first)");
        };
        int es = st.byteSize();
        return new TensorSource(name, st, shape, (long) es * flat.numel(), (off, dst) -> {
            int from = (int) (off / es), count = (int) (dst.byteSize() / es);
            for (int done = 0; done < count; done += PIECE) {
                int k = Math.min(PIECE, count - done);
                Object a = flat.narrow(0, from + done, k).toHostArray();
                MemorySegment to = dst.asSlice((long) done * es, (long) k * es);
                switch (a) {
                    case float[] x -> MemorySegment.copy(x, 0, to, LE_F32, 0, k);
                    case double[] x -> MemorySegment.copy(x, 0, to, LE_F64, 0, k);
                    case short[] x -> MemorySegment.copy(x, 0, to, LE_I16, 0, k);
                    case long[] x -> MemorySegment.copy(x, 0, to, LE_I64, 0, k);
                    case int[] x -> MemorySegment.copy(x, 0, to, LE_I32, 0, k);
                    case byte[] x -> {
                        if (c.dtype() == DType.BOOL) for (int i = 0; i < k; i++) x[i] = (byte) (x[i] != 0 ? 1 : 0);
                        MemorySegment.copy(x, 0, to, ValueLayout.JAVA_BYTE, 0, k);
                    }
                    default -> throw new IllegalStateException("unexpected host array " + a.getClass());
                }
            }
        });
    }

    /** Elements per read while writing: 256 KB as F32, below G1's humongous threshold, so the reads are plain young garbage. */
    private static final int PIECE = 1 << 16;

    // ------------------------------------------------------------------ reading

    /** All tensors of a file, each in its own dtype (see the class comment for the mapping). */
    public static LinkedHashMap<String, Tensor> load(Path file) throws IOException { return read(file, false).tensors(); }

    /** All tensors of a file with every floating tensor (F64, F16, BF16) converted to F32; integer tensors stay integer. */
    public static LinkedHashMap<String, Tensor> loadAsF32(Path file) throws IOException { return read(file, true).tensors(); }

    public static LinkedHashMap<String, Tensor> load(Path file, boolean asF32) throws IOException { return read(file, asF32).tensors(); }

    /** The {@code __metadata__} map of a file (empty when it has none), without reading tensor data. */
    public static Map<String, String> metadata(Path file) throws IOException {
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            return new LinkedHashMap<>(f.metadata());
        }
    }

    /** Tensors and metadata of a file. */
    public static Loaded read(Path file, boolean asF32) throws IOException {
        try (SafeTensorsFile f = SafeTensors.open(file)) {
            LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
            for (TensorEntry e : f.entries()) {
                out.put(e.name(), toTensor(file, e, asF32));
            }
            return new Loaded(out, new LinkedHashMap<>(f.metadata()));
        }
    }

    /**
     * Elements [start, start + n) of a floating tensor, flattened, in its own dtype (F16/BF16 stay
     * half width; copy_ converts): a loader copies a large tensor into its parameter chunk by chunk
     * instead of materialising a second full-size copy first.
     */
    public static Tensor floatingSlice(Path file, TensorEntry e, long start, int n) {
        int es = e.dtype().byteSize();
        MemorySegment d = e.data();
        if (d.byteSize() != e.expectedByteSize()) throw fail(file, e, "data holds " + d.byteSize() + " bytes but needs " + e.expectedByteSize());
        if (start < 0 || n < 0 || start + n > e.numel()) throw fail(file, e, "slice [" + start + ", " + (start + n) + ") outside " + e.numel() + " elements");
        DType dt = floatingDType(e.dtype());
        if (dt == null) throw fail(file, e, "dtype " + e.dtype() + " is not a floating type");
        Object arr = floatingArray(d.asSlice(start * es, (long) n * es), e.dtype(), n);
        return Tensor.fromStorage(Backends.get(Device.CPU).fromHost(dt, arr), new int[] {n});
    }

    /** jllm's dtype for a floating file dtype (F16/BF16 kept as raw half-width bits); null for the others. */
    private static DType floatingDType(StDType t) {
        return switch (t) {
            case F32 -> DType.F32;
            case F64 -> DType.F64;
            case F16 -> DType.F16;
            case BF16 -> DType.BF16;
            default -> null;
        };
    }

    /** n little-endian floating elements of s as the heap array floatingDType stores them in. */
    private static Object floatingArray(MemorySegment s, StDType t, int n) {
        return switch (t) {
            case F32 -> { float[] a = new float[n]; MemorySegment.copy(s, LE_F32, 0, a, 0, n); yield a; }
            case F64 -> { double[] a = new double[n]; MemorySegment.copy(s, LE_F64, 0, a, 0, n); yield a; }
            default -> { short[] a = new short[n]; MemorySegment.copy(s, LE_I16, 0, a, 0, n); yield a; }
        };
    }

    /** One tensor of an entry (copied to the heap). */

    public static Tensor toTensor(Path file, TensorEntry e, boolean asF32) {
        long[] ls = e.shape();
        int[] shape = new int[ls.length];
        for (int i = 0; i < ls.length; i++) {
            if (ls[i] > Integer.MAX_VALUE) throw fail(file, e, "dimension " + ls[i] + " is too large for jllm (int sizes)");
            shape[i] = (int) ls[i];
        }
        long nl = e.numel();
        if (nl > Integer.MAX_VALUE - 8) throw fail(file, e, nl + " elements do not fit one jllm tensor");
        int n = (int) nl;
        MemorySegment d = e.data();
        if (d.byteSize() != e.expectedByteSize()) {
            throw fail(file, e, "data holds " + d.byteSize() + " bytes but needs " + e.expectedByteSize());
        }
        DType dt;
        Object arr;
        switch (e.dtype()) {
            case F32, F64, F16, BF16 -> {
                dt = floatingDType(e.dtype());
                arr = floatingArray(d, e.dtype(), n);
            }
            case I64 -> { long[] a = new long[n]; MemorySegment.copy(d, LE_I64, 0, a, 0, n); dt = DType.I64; arr = a; }
            case I32 -> { int[] a = new int[n]; MemorySegment.copy(d, LE_I32, 0, a, 0, n); dt = DType.I32; arr = a; }
            case U8 -> { byte[] a = new byte[n]; MemorySegment.copy(d, ValueLayout.JAVA_BYTE, 0, a, 0, n); dt = DType.U8; arr = a; }
            case BOOL -> {
                byte[] a = new byte[n];
                MemorySegment.copy(d, ValueLayout.JAVA_BYTE, 0, a, 0, n);
                for (int i = 0; i < n; i++) {
                    if (a[i] != 0 && a[i] != 1) throw fail(file, e, "BOOL element " + i + " has byte value " + (a[i] & 0xff) + " (expected 0 or 1)");
                }
                dt = DType.BOOL;
                arr = a;
            }
            case I8 -> {
                int[] a = new int[n];
                for (int i = 0; i < n; i++) a[i] = d.get(ValueLayout.JAVA_BYTE, i);
                dt = DType.I32;
                arr = a;
            }
            case I16, U16 -> {
                int[] a = new int[n];
                boolean unsigned = e.dtype() == StDType.U16;
                for (int i = 0; i < n; i++) {
                    short v = d.get(LE_I16, 2L * i);
                    a[i] = unsigned ? v & 0xffff : v;
                }
                dt = DType.I32;
                arr = a;
            }
            case U32 -> {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) a[i] = d.get(LE_I32, 4L * i) & 0xffffffffL;
                dt = DType.I64;
                arr = a;
            }
            case U64 -> {
                long[] a = new long[n];
                MemorySegment.copy(d, LE_I64, 0, a, 0, n);
                for (int i = 0; i < n; i++) {
                    if (a[i] < 0) throw fail(file, e, "U64 element " + i + " = " + Long.toUnsignedString(a[i]) + " does not fit int64");
                }
                dt = DType.I64;
                arr = a;
            }
            default -> throw fail(file, e, "dtype " + e.dtype() + " is not supported by jllm (supported: F32, F64, F16, BF16, "
                    + "I64, I32, U8, BOOL; I8/I16/U16 load as I32, U32/U64 as I64)");
        }
        Tensor t = Tensor.fromStorage(Backends.get(Device.CPU).fromHost(dt, arr), shape);
        if (asF32 && dt.isFloatingPoint() && dt != DType.F32) {
            try (var g = Grad.off()) {
                t = t.to(DType.F32);
            }
        }
        return t;
    }

    private static SafeTensorsException fail(Path file, TensorEntry e, String msg) {
        return new SafeTensorsException(file + ": tensor '" + e.name() + "' (" + e.dtype() + ", shape "
                + Arrays.toString(e.shape()) + "): " + msg);
    }
}
