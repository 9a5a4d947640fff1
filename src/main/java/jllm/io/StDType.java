package jllm.io;

/**
 * Element types of the safetensors format, under their names in the header.
 *
 * <p>The declaration order is the reference library's {@code Dtype} order (its "alignment"
 * order); the writer lays tensors out by this order descending, then by name, as the
 * reference does, so our files are byte-identical to Python's. The sub-byte types of the
 * format (F4, F6_E2M3, F6_E3M2) are not supported.
 */
public enum StDType {
    BOOL(1),
    U8(1),
    I8(1),
    F8_E5M2(1),
    F8_E4M3(1),
    F8_E8M0(1),
    F8_E4M3FNUZ(1),
    F8_E5M2FNUZ(1),
    I16(2),
    U16(2),
    F16(2),
    BF16(2),
    I32(4),
    U32(4),
    F32(4),
    C64(8),
    F64(8),
    I64(8),
    U64(8);

    private static final StDType[] VALUES = values();

    private final int byteSize;

    StDType(int byteSize) {
        this.byteSize = byteSize;
    }

    /** Bytes per element. */
    public int byteSize() {
        return byteSize;
    }

    /** The type named {@code name} in a header (case-sensitive, as the format is), or null. */
    public static StDType fromName(String name) {
        for (StDType t : VALUES) {
            if (t.name().equals(name)) {
                return t;
            }
        }
        return null;
    }
}
