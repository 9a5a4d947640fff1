package jllm.tensor;

/**
 * Element types. F32 is the compute type; the integer types hold indices, BOOL holds masks,
 * F16/BF16/F64/U8 are storage and conversion types (their element-wise math goes through F32/F64).
 */
public enum DType {
    F32(4, "float32", true),
    F64(8, "float64", true),
    F16(2, "float16", true),
    BF16(2, "bfloat16", true),
    I64(8, "int64", false),
    I32(4, "int32", false),
    U8(1, "uint8", false),
    BOOL(1, "bool", false);

    private final int itemSize;
    private final String torchName;
    private final boolean floating;

    DType(int itemSize, String torchName, boolean floating) {
        this.itemSize = itemSize;
        this.torchName = torchName;
        this.floating = floating;
    }

    /** Bytes per element. */
    public int itemSize() { return itemSize; }

    public boolean isFloatingPoint() { return floating; }

    /** The PyTorch spelling, e.g. {@code float32}, used in error messages. */
    public String torchName() { return torchName; }

    /**
     * PyTorch's type promotion for two tensor operands of the same category: floating beats integral,
     * wider beats narrower; bool is the lowest.
     */
    public static DType promote(DType a, DType b) {
        if (a == b) return a;
        if (a.floating != b.floating) return a.floating ? a : b;
        if (a.floating) {
            if (a == F64 || b == F64) return F64;
            if (a == F32 || b == F32) return F32;
            return F32; // F16 with BF16 promotes to F32, as in PyTorch
        }
        if (a == BOOL) return b;
        if (b == BOOL) return a;
        return a.itemSize >= b.itemSize ? a : b;
    }
}
