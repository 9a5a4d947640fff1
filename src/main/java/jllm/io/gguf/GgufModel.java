package jllm.io.gguf;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.autograd.Grad;
import jllm.backend.Backends;
import jllm.io.ModelSource;
import jllm.io.llama2c.Llama2cConverter;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Float16;
import jllm.tensor.Tensor;
import jllm.tokenizer.HfTokenizer;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A GGUF model file as a {@link ModelSource}: its metadata as config.json, its tensors under
 * transformers' names and in transformers' layout (shape = ne reversed; q and k rows permuted back
 * from ggml's interleaved RoPE), its tokenizer from {@code tokenizer.ggml.*}. Loading streams each
 * tensor row block by row block from the mapping into its parameter; F16 and BF16 tensors convert
 * to the parameter's dtype as safetensors ones do.
 *
 * <p>{@link #write} is the other direction: a transformers Llama state dict and tokenizer to a
 * GGUF file llama.cpp loads (F32, F16 or BF16 tensors; norms and biases stay F32, as
 * convert_hf_to_gguf.py keeps them).
 */
public final class GgufModel implements ModelSource {
    /** The ggml types whose tensors jllm reads: Q8_0 and Q4_0 stay blocks, Q4_K and Q6_K are widened to float32. */
    public static final Set<GgmlType> READABLE = EnumSet.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.F64, GgmlType.Q8_0,
            GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K);

    private record Entry(GgufFile.TensorInfo info, int heads) {}

    private final GgufFile file;
    private final ObjectNode config;
    private final LinkedHashMap<String, Entry> byKey;
    private final DType blocks;

    private GgufModel(GgufFile file, ObjectNode config, LinkedHashMap<String, Entry> byKey, DType blocks) {
        this.file = file;
        this.config = config;
        this.byKey = byKey;
        this.blocks = blocks;
    }

    /** Maps and validates a GGUF file and translates its header; an architecture jllm does not read is an error naming it. */
    public static GgufModel open(Path path) throws IOException {
        GgufFile f = GgufFile.open(path);
        String arch = f.string("general.architecture", "the model's architecture");
        if (!arch.equals(LlamaGguf.ARCH)) {
            throw new GgufException(path + ": general.architecture is '" + arch + "'; jllm reads GGUF models of architecture " + LlamaGguf.ARCH);
        }
        ObjectNode config = LlamaGguf.config(f);
        LinkedHashMap<String, Entry> byKey = new LinkedHashMap<>();
        for (GgufFile.TensorInfo t : f.tensors().values()) {
            String key = LlamaGguf.hfName(t.name());
            if (key == null) {
                byKey.put(t.name(), new Entry(t, 0)); // not a Llama tensor: the loader names it as unexpected
                continue;
            }
            int heads = LlamaGguf.permutedHeads(key, config);
            if (!READABLE.contains(t.type())) {
                throw new GgufException(path + ": tensor '" + t.name() + "' has type " + t.type() + ", which jllm does not read (it reads "
                        + READABLE + ")");
            }
            long rows = heads > 0 ? t.ne()[t.ne().length - 1] : 0;
            if (heads > 0 && (rows % heads != 0 || (rows / heads) % 2 != 0)) {
                throw new GgufException(path + ": tensor '" + t.name() + "' has " + rows + " rows, not " + heads + " heads of an even size");
            }
            byKey.put(key, new Entry(t, heads));
        }
        return new GgufModel(f, config, byKey, blockType(f));
    }

    /**
     * The type the model keeps its matrices in: the block type (Q4_0 or Q8_0) of most of the elements
     * of the matrices that can be stored in whole 32-element blocks, when the file has one (its other
     * matrices keep what {@link #weightType(String)} says); F16 or BF16 when every matrix is; null
     * otherwise, when everything loads as float32 (a note says so when that dequantizes Q4_K/Q6_K
     * blocks).
     */
    private static DType blockType(GgufFile f) {
        long q4 = 0, q8 = 0;
        java.util.Set<GgmlType> quantized = EnumSet.noneOf(GgmlType.class), matrices = EnumSet.noneOf(GgmlType.class);
        for (GgufFile.TensorInfo t : f.tensors().values()) {
            if (t.type().quantized()) quantized.add(t.type());
            if (t.ne().length == 2) matrices.add(t.type());
            if (t.type() == GgmlType.Q4_0) q4 += t.numel();
            if (t.type() == GgmlType.Q8_0) q8 += t.numel();
        }
        if (q4 + q8 > 0) return q4 >= q8 ? DType.Q4_0 : DType.Q8_0;
        if (matrices.equals(EnumSet.of(GgmlType.F16))) return DType.F16;
        if (matrices.equals(EnumSet.of(GgmlType.BF16))) return DType.BF16;
        if (!quantized.isEmpty()) {
            System.err.println("note: " + f.path() + ": its " + quantized + " tensors are widened to float32 at load (jllm keeps Q8_0 or Q4_0"
                    + " blocks; Q4_K/Q6_K have no kernels of their own)");
        }
        return null;
    }

    /**
     * In a model kept in Q4_0, a Q8_0 matrix stays Q8_0 and a Q4_K/Q6_K, F16, BF16 or F32 one (llama.cpp's
     * output matrix) is kept in Q8_0 rather than losing bits to Q4_0; in a Q8_0 model a Q4_0 matrix
     * stays Q4_0 (its blocks are copied, not re-rounded). Otherwise the model's type.
     */
    @Override
    public DType weightType(String key) {
        Entry e = byKey.get(key);
        if (e == null || blocks == null || !blocks.isQuantized() || e.info().ne().length != 2) return blocks;
        return switch (e.info().type()) {
            case Q4_0 -> DType.Q4_0;
            case Q8_0 -> DType.Q8_0;
            default -> blocks == DType.Q4_0 ? DType.Q8_0 : blocks;
        };
    }

    @Override
    public DType weightType() { return blocks; }

    public GgufFile file() { return file; }

    @Override
    public ObjectNode config() { return config; }

    @Override
    public Path configFile() { return file.path(); }

    @Override
    public HfTokenizer tokenizer() { return GgufTokenizer.tokenizer(file); }

    @Override
    public JsonNode tokenizerJson() throws IOException {
        return new com.fasterxml.jackson.databind.ObjectMapper().readTree(GgufTokenizer.hfFiles(file).tokenizerJson());
    }

    /** tokenizer.json and tokenizer_config.json made from the metadata (with the chat template in the config). */
    @Override
    public void writeTokenizerFiles(Path dir) throws IOException {
        GgufTokenizer.HfFiles h = GgufTokenizer.hfFiles(file);
        jllm.io.AtomicFiles.writeString(dir.resolve("tokenizer.json"), h.tokenizerJson());
        jllm.io.AtomicFiles.writeString(dir.resolve("tokenizer_config.json"), jllm.tokenizer.TokenizerJson.write(h.tokenizerConfig()));
    }

    @Override
    public List<String> keys() { return new ArrayList<>(byKey.keySet()); }

    private Entry entry(String key) {
        Entry e = byKey.get(key);
        if (e == null) throw new GgufException(file.path() + ": no tensor '" + key + "' (GGUF name '" + LlamaGguf.ggufName(key) + "')");
        return e;
    }

    @Override
    public long[] shape(String key) { return entry(key).info().shape(); }

    @Override
    public String dtypeName(String key) { return entry(key).info().type().name(); }

    @Override
    public boolean floating(String key) {
        GgmlType t = entry(key).info().type();
        return t != GgmlType.I8 && t != GgmlType.I16 && t != GgmlType.I32 && t != GgmlType.I64;
    }

    @Override
    public String where(String key) {
        Entry e = byKey.get(key);
        String g = e != null ? e.info().name() : LlamaGguf.ggufName(key);
        return file.path() + (g == null || g.equals(key) ? "" : " (GGUF tensor '" + g + "')");
    }

    @Override
    public String name() { return file.path().toString(); }

    @Override
    public Tensor tensor(String key) {
        Entry e = entry(key);
        long[] s = e.info().shape();
        int[] shape = new int[s.length];
        for (int i = 0; i < s.length; i++) {
            if (s[i] > Integer.MAX_VALUE) throw new GgufException(where(key) + ": dimension " + s[i] + " is too large for jllm (int sizes)");
            shape[i] = (int) s[i];
        }
        long rows = rows(e);
        if (e.info().numel() > Integer.MAX_VALUE - 8) throw new GgufException(where(key) + ": " + e.info().numel() + " elements do not fit one jllm tensor");
        try (var g = Grad.off()) {
            return rowsAsTensor(e, 0, (int) rows).to(DType.F32).view(shape);
        }
    }

    /** Streams the tensor into dst in blocks of about 1 MB of file bytes, undoing the q/k permutation row by row. */
    @Override
    public void copyInto(String key, Tensor dst) {
        Entry e = entry(key);
        if (!dst.isContiguous()) {
            ModelSource.super.copyInto(key, dst);
            return;
        }
        Tensor flat = dst.view(-1);
        if (e.info().numel() != flat.numel()) {
            throw new GgufException(where(key) + ": " + e.info().numel() + " elements, the parameter " + flat.numel());
        }
        long rows = rows(e);
        long rowElems = e.info().numel() / Math.max(1, rows);
        int step = (int) Math.max(1, (1L << 20) / Math.max(1, e.info().type().bytes(rowElems)));
        for (long r = 0; r < rows; r += step) {
            int n = (int) Math.min(step, rows - r);
            flat.narrow(0, (int) (r * rowElems), (int) (n * rowElems)).copy_(rowsAsTensor(e, r, n));
        }
        MemorySegment data = file.data(e.info());
        if (data.isMapped()) data.unload(); // the bytes now live in the parameter
    }

    /** Rows of a tensor: the last dimension's index in PyTorch order; a permuted 1-D bias has one element per row. */
    private static long rows(Entry e) {
        long[] ne = e.info().ne();
        if (ne.length == 1) return e.heads() > 0 ? ne[0] : 1;
        return e.info().numel() / ne[0];
    }

    /** Rows [r0, r0 + n) in transformers' order, flattened, in the file's float type (F16/BF16 stay half width). */
    private Tensor rowsAsTensor(Entry e, long r0, int n) {
        GgufFile.TensorInfo t = e.info();
        long rows = rows(e);
        long rowElems = t.numel() / Math.max(1, rows);
        long rowBytes = t.type().bytes(rowElems);
        MemorySegment src = file.data(t);
        long total = n * rowElems;
        if (total > Integer.MAX_VALUE - 8) throw new GgufException(where(t.name()) + ": rows too long for one jllm tensor");
        byte[] buf = new byte[(int) (n * rowBytes)];
        MemorySegment dst = MemorySegment.ofArray(buf);
        int headSize = e.heads() > 0 ? (int) (rows / e.heads()) : 0;
        for (int i = 0; i < n; i++) {
            long row = r0 + i;
            long from = e.heads() > 0 ? Llama2cConverter.llama2cRow((int) row, headSize) : row;
            MemorySegment.copy(src, from * rowBytes, dst, i * rowBytes, rowBytes);
        }
        return decode(t.type(), dst, (int) total);
    }

    /** n elements of type type from bytes: a heap tensor of the same float width (F32, F64, or F16/BF16 bits). */
    static Tensor decode(GgmlType type, MemorySegment bytes, int n) {
        DType dt;
        Object arr;
        switch (type) {
            case F32 -> { float[] a = new float[n]; MemorySegment.copy(bytes, GgufFile.LE_F32, 0, a, 0, n); dt = DType.F32; arr = a; }
            case F64 -> { double[] a = new double[n]; MemorySegment.copy(bytes, GgufFile.LE_F64, 0, a, 0, n); dt = DType.F64; arr = a; }
            case F16, BF16 -> {
                short[] a = new short[n];
                MemorySegment.copy(bytes, GgufFile.LE_I16, 0, a, 0, n);
                dt = type == GgmlType.F16 ? DType.F16 : DType.BF16;
                arr = a;
            }
            case Q8_0, Q4_0 -> {
                byte[] a = bytes.toArray(ValueLayout.JAVA_BYTE);
                return Tensor.ofBlocks(type == GgmlType.Q8_0 ? DType.Q8_0 : DType.Q4_0, a, n);
            }
            case Q4_K -> { dt = DType.F32; arr = KQuants.q4K(bytes, n); }
            case Q6_K -> { dt = DType.F32; arr = KQuants.q6K(bytes, n); }
            default -> throw new GgufException("ggml type " + type + " is not decoded by jllm");
        }
        return Tensor.fromStorage(Backends.get(Device.CPU).fromHost(dt, arr), n);
    }

    // ------------------------------------------------------------------------------- writing

    /** The file types jllm writes, with general.file_type's value for each (llama.cpp's LLAMA_FTYPE). */
    public enum FileType {
        F32(GgmlType.F32, 0), F16(GgmlType.F16, 1), BF16(GgmlType.BF16, 32), Q8_0(GgmlType.Q8_0, 7), Q4_0(GgmlType.Q4_0, 2);

        public final GgmlType type;
        public final int id;

        FileType(GgmlType type, int id) {
            this.type = type;
            this.id = id;
        }
    }

    /**
     * Writes a Llama model as a GGUF file llama.cpp loads: config is its transformers config.json,
     * tensors its state dict under transformers' names (a tied lm_head absent), tokenizerJson and
     * tok its tokenizer (null: no tokenizer keys, which llama.cpp refuses to run). Matrices are
     * stored as fileType says (quantized with llama.cpp's reference rounding; with a quantized
     * fileType, a matrix already in Q8_0 or Q4_0 blocks is copied as it is), vectors (norms, biases) as F32, and a matrix whose rows
     * are not whole 32-element blocks as F16, as convert_hf_to_gguf.py falls back. Atomic.
     */
    public static void write(Path out, JsonNode config, Map<String, Tensor> tensors, JsonNode tokenizerJson, HfTokenizer tok, FileType fileType,
                             String name) throws IOException {
        String where = out.toString();
        if (!config.path("model_type").asText().equals("llama")) {
            throw new GgufException(where + ": jllm writes GGUF for Llama models, not model_type '" + config.path("model_type").asText() + "'");
        }
        GgufWriter w = new GgufWriter();
        w.putString("general.architecture", LlamaGguf.ARCH);
        w.putString("general.type", "model");
        w.putString("general.name", name);
        LlamaGguf.putMetadata(w, config, where);
        w.putUint32("general.file_type", fileType.id);
        if (fileType.type.quantized()) w.putUint32("general.quantization_version", 2); // ggml's GGML_QNT_VERSION
        if (tok != null) {
            GgufTokenizer.put(w, tokenizerJson, tok);
        } else { // no vocabulary: the config's special ids still travel
            if (config.path("bos_token_id").isInt()) w.putUint32("tokenizer.ggml.bos_token_id", config.get("bos_token_id").asInt());
            JsonNode eos = config.path("eos_token_id");
            if (eos.isInt() || eos.isArray() && !eos.isEmpty()) w.putUint32("tokenizer.ggml.eos_token_id", (eos.isArray() ? eos.get(0) : eos).asInt());
        }
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            String gname = LlamaGguf.ggufName(e.getKey());
            if (gname == null) throw new GgufException(where + ": tensor '" + e.getKey() + "' has no name in GGUF's llama architecture");
            Tensor t = e.getValue();
            GgmlType type = t.dim() <= 1 ? GgmlType.F32 : fileType.type;
            // a matrix already in blocks keeps them in a quantized file (copied, not rounded again): a model
            // whose output matrix was kept in Q8_0 writes llama.cpp's kind of mixed file
            if (type.quantized() && t.dtype() == DType.Q8_0) type = GgmlType.Q8_0;
            if (type.quantized() && t.dtype() == DType.Q4_0) type = GgmlType.Q4_0;
            if (type.quantized() && t.size(-1) % type.blockSize != 0) type = GgmlType.F16;
            long[] ne = new long[t.dim()];
            for (int i = 0; i < ne.length; i++) ne[i] = t.size(t.dim() - 1 - i);
            int heads = LlamaGguf.permutedHeads(e.getKey(), config);
            long n = t.numel();
            w.addTensor(gname, ne, type, type.bytes(n), filler(t, heads, type));
        }
        w.write(out);
    }

    /**
     * The bytes of one tensor in GGUF's layout, made when its first chunk is asked for and dropped
     * after its last, so that only one tensor is ever copied at a time.
     */
    private static jllm.io.TensorSource.Filler filler(Tensor t, int heads, GgmlType type) {
        byte[][] held = new byte[1][];
        return (offset, dst) -> {
            if (held[0] == null) held[0] = ggufBytes(t, heads, type);
            MemorySegment.copy(MemorySegment.ofArray(held[0]), offset, dst, 0, dst.byteSize());
            if (offset + dst.byteSize() == held[0].length) held[0] = null;
        };
    }

    /** The tensor in type, as bytes, rows of q/k (heads > 0) moved to GGUF's interleaved order. */
    private static byte[] ggufBytes(Tensor t, int heads, GgmlType type) {
        byte[] b;
        try (var g = Grad.off()) {
            Tensor c = t.detach().to(Device.CPU).contiguous();
            if (type.quantized()) {
                DType q = type == GgmlType.Q8_0 ? DType.Q8_0 : DType.Q4_0;
                b = (byte[]) (c.dtype() == q ? c : c.to(DType.F32).to(q)).contiguous().toHostArray();
            } else {
                float[] v = c.toFloatArray();
                b = new byte[(int) type.bytes(v.length)];
                MemorySegment dst = MemorySegment.ofArray(b);
                switch (type) {
                    case F32 -> MemorySegment.copy(v, 0, dst, GgufFile.LE_F32, 0, v.length);
                    case F16 -> Float16.floatToF16(v, 0, dst, 0, v.length);
                    case BF16 -> Float16.floatToBf16(v, 0, dst, 0, v.length);
                    default -> throw new IllegalStateException(type.name());
                }
            }
        }
        if (heads == 0) return b;
        int rows = t.size(0), rowBytes = b.length / rows, headSize = rows / heads;
        byte[] out = new byte[b.length];
        for (int r = 0; r < rows; r++) System.arraycopy(b, r * rowBytes, out, Llama2cConverter.llama2cRow(r, headSize) * rowBytes, rowBytes);
        return out;
    }
}
