package jllm.io.gguf;

/** The types of GGUF metadata values ({@code enum gguf_metadata_value_type}), with their sizes in bytes (0: variable). */
public enum GgufValueType {
    UINT8(1), INT8(1), UINT16(2), INT16(2), UINT32(4), INT32(4), FLOAT32(4), BOOL(1), STRING(0), ARRAY(0), UINT64(8), INT64(8), FLOAT64(8);

    private static final GgufValueType[] VALUES = values();

    /** Bytes of one value; 0 for strings and arrays. */
    public final int size;

    GgufValueType(int size) { this.size = size; }

    public static GgufValueType byId(long id) {
        return id >= 0 && id < VALUES.length ? VALUES[(int) id] : null;
    }

    public boolean integer() { return this != FLOAT32 && this != FLOAT64 && this != BOOL && this != STRING && this != ARRAY; }

    public String lower() { return name().toLowerCase(java.util.Locale.ROOT); }
}
