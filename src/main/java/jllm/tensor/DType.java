package jllm.tensor;

/**
 * Element types. F32 is the compute type; the integer types hold indices, BOOL holds masks,
 * F16/BF16/F64/U8 are storage and conversion types (their element-wise math goes through F32/F64).
 * Q8_0 and Q4_0 are llama.cpp's block-quantized weight types, byte for byte as GGUF stores them:
 * each block of 32 consecutive elements is an f16 scale d followed by 32 int8 q (x = d*q), or by
 * 16 bytes of 4-bit q (x = d*(q-8); element j in the low nibble of byte j, element 16+j in its high
 * nibble). They hold weights: read element-wise they dequantize, written they quantize whole blocks,
 * and matmul reads them directly.
 */
public enum DType {
    F32(4, 1, "float32", true),
    F64(8, 1, "float64", true),
    F16(2, 1, "float16", true),
    BF16(2, 1, "bfloat16", true),
    I64(8, 1, "int64", false),
    I32(4, 1, "int32", false),
    U8(1, 1, "uint8", false),
    BOOL(1, 1, "bool", false),
    Q8_0(34, 32, "q8_0", false),
    Q4_0(18, 32, "q4_0", false);

    private final int blockBytes;
    private final int blockSize;
    private final String torchName;
    private final boolean floating;

    DType(int blockBytes, int blockSize, String torchName, boolean floating) {
        this.blockBytes = blockBytes;
        this.blockSize = blockSize;
        this.torchName = torchName;
        this.floating = floating;
    }

    /** Bytes per element; block types have none (see {@link #bytes}). */
    public int itemSize() {
        if (blockSize != 1) throw new IllegalStateException(torchName + " stores blocks of " + blockSize + " elements, not single elements");
        return blockBytes;
    }

    /** True for the block-quantized weight types (Q8_0, Q4_0). */
    public boolean isQuantized() { return blockSize != 1; }

    /** Elements per block: 32 for the quantized types, 1 otherwise. */
    public int blockSize() { return blockSize; }

    /** Bytes per block (per element for the plain types). */
    public int blockBytes() { return blockBytes; }

    /** Bytes that numel elements occupy; numel must be a whole number of blocks. */
    public long bytes(long numel) {
        if (numel % blockSize != 0) {
            throw new IllegalArgumentException(torchName + " holds whole blocks of " + blockSize + " elements, not " + numel);
        }
        return numel / blockSize * blockBytes;
    }

    public boolean isFloatingPoint() { return floating; }

    /** The PyTorch spelling, e.g. {@code float32}, used in error messages. */
    public String torchName() { return torchName; }

    /**
     * PyTorch's type promotion for two tensor operands of the same category: floating beats integral,
     * wider beats narrower; bool is the lowest. A quantized operand computes in F32.
     */
    public static DType promote(DType a, DType b) {
        if (a == b) return a;
        if (a.isQuantized() || b.isQuantized()) return F32; // quantized weights compute in F32
        if (a.floating != b.floating) return a.floating ? a : b;
        if (a.floating) {
            if (a == F64 || b == F64) return F64;
            if (a == F32 || b == F32) return F32;
            return F32; // F16 with BF16 promotes to F32, as in PyTorch
        }
        if (a == BOOL) return b;
        if (b == BOOL) return a;
        return a.blockBytes >= b.blockBytes ? a : b;
    }
}
