package jllm.io.hf;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.core.util.Separators;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.io.SafeTensors;
import jllm.io.SafeTensorsFile;
import jllm.io.TensorEntry;
import jllm.io.TensorIO;
import jllm.tensor.DType;
import jllm.tensor.Tensor;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * A Hugging Face model directory as {@code save_pretrained} writes it: {@code config.json} and the
 * weights, either one {@code model.safetensors} or shards listed in
 * {@code model.safetensors.index.json} ({@code {"metadata": {"total_size": N}, "weight_map": {key: file}}}).
 *
 * <p>Reading maps every weight file once ({@link SafeTensors#openAuto}); a tensor is copied out of
 * the mapping only when asked for, converted to F32 when it is F16/BF16/F64, so a checkpoint is
 * never held twice on the heap. Every error names the file it is about.
 *
 * <p>Quantized weights (llama.cpp's Q8_0 / Q4_0 blocks, which safetensors has no type for) are
 * stored jllm's way: config.json's {@code quantization_config} is
 * {@code {"quant_method": "jllm", "weights": "q8_0"}} and every U8 tensor of the files holds the
 * blocks of one weight, shaped [..., row bytes]; read back, it is that weight (its shape in
 * elements, dtype q8_0). transformers refuses such a directory with an error naming the method;
 * a directory quantized by another method (GPTQ, AWQ, bitsandbytes) is refused here the same way.
 */
public final class HfModelDir implements jllm.io.ModelSource {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";
    public static final String INDEX = "model.safetensors.index.json";

    private static final ObjectMapper JSON = jllm.io.StrictJson.files();

    private final Path dir;
    private final ObjectNode config;
    private final LinkedHashMap<String, SafeTensorsFile> fileOfKey;
    /** The block type of the U8 tensors, from quantization_config; null for an unquantized directory. */
    private final DType blocks;
    /** What the weight matrices load as by default: the block type, or BF16/F16 when all of them are; null for F32. */
    private final DType stored;

    private HfModelDir(Path dir, ObjectNode config, LinkedHashMap<String, SafeTensorsFile> fileOfKey) {
        this.dir = dir;
        this.config = config;
        this.fileOfKey = fileOfKey;
        this.blocks = quantization(config, dir.resolve(CONFIG));
        this.stored = blocks != null ? blocks : floatingWeightType(fileOfKey);
    }

    /** BF16 or F16 when every 2-D floating tensor is of that one type; null otherwise (loads as F32). */
    private static DType floatingWeightType(Map<String, SafeTensorsFile> fileOfKey) {
        java.util.Set<jllm.io.StDType> seen = java.util.EnumSet.noneOf(jllm.io.StDType.class);
        for (Map.Entry<String, SafeTensorsFile> e : fileOfKey.entrySet()) {
            TensorEntry t = e.getValue().get(e.getKey());
            if (t.shape().length == 2) seen.add(t.dtype());
        }
        seen.removeIf(t -> !(t == jllm.io.StDType.F16 || t == jllm.io.StDType.BF16 || t == jllm.io.StDType.F32 || t == jllm.io.StDType.F64));
        if (seen.equals(java.util.Set.of(jllm.io.StDType.BF16))) return DType.BF16;
        if (seen.equals(java.util.Set.of(jllm.io.StDType.F16))) return DType.F16;
        return null;
    }

    /** quantization_config's block type; null without one; an error for another method or a bad field. */
    private static DType quantization(ObjectNode config, Path file) {
        JsonNode q = config.get("quantization_config");
        if (q == null || q.isNull()) return null;
        JsonNode method = q.get("quant_method");
        if (!q.isObject() || method == null || !method.isTextual()) {
            throw new HfException(file + ": quantization_config must be an object with a quant_method string");
        }
        if (!method.asText().equals(QUANT_METHOD)) {
            throw new HfException(file + ": quantization_config quant_method '" + method.asText() + "' is not supported: jllm reads "
                    + "its own '" + QUANT_METHOD + "' blocks (convert quantize) and GGUF files");
        }
        JsonNode w = q.get("weights");
        String name = w != null && w.isTextual() ? w.asText() : "";
        for (DType t : DType.values()) if (t.isQuantized() && t.torchName().equals(name)) return t;
        throw new HfException(file + ": quantization_config weights must be one of q8_0, q4_0, got " + (w == null ? "nothing" : w.toString()));
    }

    public static final String QUANT_METHOD = "jllm";

    @Override
    public DType weightType() { return stored; }

    /** True for a tensor stored as blocks: a U8 tensor of a quantized directory. */
    private boolean isBlocks(String key) {
        return blocks != null && dtype(key) == jllm.io.StDType.U8;
    }

    // ------------------------------------------------------------------------------- reading

    /** config.json of a model directory as a JSON object (errors name the file). */
    public static ObjectNode readConfig(Path dir) {
        Path cfg = dir.resolve(CONFIG);
        if (!Files.isDirectory(dir)) throw new HfException("model directory " + dir + " does not exist or is not a directory");
        if (!Files.isRegularFile(cfg)) {
            throw new HfException("no " + CONFIG + " in model directory " + dir + " (a Hugging Face model directory has config.json"
                    + " next to model.safetensors)");
        }
        JsonNode n = readJson(cfg);
        if (!(n instanceof ObjectNode o)) throw new HfException(cfg + ": expected a JSON object, found " + n.getNodeType());
        return o;
    }

    private static JsonNode readJson(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (JsonProcessingException e) {
            throw new HfException(file + ": not valid JSON: " + jllm.io.JsonErrors.describe(e), e);
        } catch (IOException e) {
            throw new HfException(file + ": cannot read: " + e.getMessage(), e);
        }
    }

    /** Reads config.json and maps the weight files (single or sharded); nothing is copied yet. */
    public static HfModelDir open(Path dir) throws IOException {
        ObjectNode config = readConfig(dir);
        LinkedHashMap<String, SafeTensorsFile> fileOfKey = new LinkedHashMap<>();
        Path index = dir.resolve(INDEX), single = dir.resolve(WEIGHTS);
        if (Files.isRegularFile(index)) {
            JsonNode root = readJson(index);
            JsonNode wm = root.get("weight_map");
            if (wm == null || !wm.isObject()) throw new HfException(index + ": missing \"weight_map\" object {tensor name: shard file}");
            Map<String, SafeTensorsFile> shards = new LinkedHashMap<>();
            for (Iterator<Map.Entry<String, JsonNode>> it = wm.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                String key = e.getKey();
                if (!e.getValue().isTextual()) throw new HfException(index + ": weight_map entry '" + key + "' must be a file name");
                String name = e.getValue().asText();
                Path shard = dir.resolve(name).normalize();
                if (!shard.getParent().equals(dir.normalize())) {
                    throw new HfException(index + ": weight_map entry '" + key + "' points outside the model directory: " + name);
                }
                SafeTensorsFile f = shards.get(name);
                if (f == null) {
                    if (!Files.isRegularFile(shard)) {
                        throw new HfException(index + " lists shard " + name + " (for tensor '" + key + "'), but " + shard + " does not exist");
                    }
                    f = SafeTensors.openAuto(shard);
                    shards.put(name, f);
                }
                if (!f.contains(key)) {
                    throw new HfException(index + " maps tensor '" + key + "' to " + name + ", but " + shard + " has no tensor '" + key + "'");
                }
                fileOfKey.put(key, f);
            }
        } else if (Files.isRegularFile(single)) {
            SafeTensorsFile f = SafeTensors.openAuto(single);
            for (String k : f.names()) fileOfKey.put(k, f);
        } else {
            String other = Files.isRegularFile(dir.resolve("pytorch_model.bin")) || Files.isRegularFile(dir.resolve("pytorch_model.bin.index.json"))
                    ? " (found pytorch_model.bin: jllm reads safetensors only; convert it with transformers' save_pretrained(safe_serialization=True))"
                    : "";
            throw new HfException("no weights in model directory " + dir + ": neither " + WEIGHTS + " nor " + INDEX + other);
        }
        return new HfModelDir(dir, config, fileOfKey);
    }

    public Path dir() { return dir; }

    @Override
    public Path configFile() { return dir.resolve(CONFIG); }

    /** config.json (a live object; copy it before changing it). */
    @Override
    public ObjectNode config() { return config; }

    /** tokenizer.json (with tokenizer_config.json and chat_template.jinja when present) of the directory. */
    @Override
    public jllm.tokenizer.HfTokenizer tokenizer() { return jllm.tokenizer.HfTokenizer.fromDirectory(dir); }

    @Override
    public JsonNode tokenizerJson() {
        Path f = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(f)) throw new HfException("no tokenizer.json in model directory " + dir);
        return readJson(f);
    }

    /** Files of a model directory that describe the tokenizer and generation, copied next to converted weights. */
    public static final List<String> SIDE_FILES = List.of("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "generation_config.json", "chat_template.jinja");

    @Override
    public void writeTokenizerFiles(Path to) throws IOException {
        for (String f : SIDE_FILES) {
            Path src = dir.resolve(f);
            if (Files.isRegularFile(src)) Files.copy(src, to.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Tensor names in file (or index) order. */
    @Override
    public List<String> keys() { return new ArrayList<>(fileOfKey.keySet()); }

    public boolean contains(String key) { return fileOfKey.containsKey(key); }

    /** The weight file holding key. */
    public Path fileOf(String key) { return entryFile(key).path(); }

    /** Where a key lives, for messages: the shard file, or the directory's weights when the key is absent. */
    @Override
    public String where(String key) { return describe(key); }

    @Override
    public String name() { return dir.toString(); }

    @Override
    public String dtypeName(String key) { return isBlocks(key) ? blocks.torchName() : dtype(key).name(); }

    @Override
    public boolean floating(String key) {
        jllm.io.StDType t = dtype(key);
        return t == jllm.io.StDType.F16 || t == jllm.io.StDType.BF16 || t == jllm.io.StDType.F32 || t == jllm.io.StDType.F64;
    }

    public String describe(String key) {
        SafeTensorsFile f = fileOfKey.get(key);
        if (f != null) return f.path().toString();
        return Files.isRegularFile(dir.resolve(INDEX)) ? dir.resolve(INDEX).toString() : dir.resolve(WEIGHTS).toString();
    }

    private SafeTensorsFile entryFile(String key) {
        SafeTensorsFile f = fileOfKey.get(key);
        if (f == null) throw new HfException("tensor '" + key + "' not found in " + describe(key));
        return f;
    }

    @Override
    public long[] shape(String key) {
        long[] s = entryFile(key).get(key).shape().clone();
        if (isBlocks(key)) {
            int last = s.length - 1;
            if (last < 0 || s[last] % blocks.blockBytes() != 0) {
                throw new HfException("tensor '" + key + "' in " + fileOf(key) + " is not " + blocks.torchName() + " blocks: its rows of "
                        + (last < 0 ? 0 : s[last]) + " bytes are not a multiple of " + blocks.blockBytes());
            }
            s[last] = s[last] / blocks.blockBytes() * blocks.blockSize();
        }
        return s;
    }

    /** The dtype a tensor has in its file. */
    public jllm.io.StDType dtype(String key) { return entryFile(key).get(key).dtype(); }

    /**
     * Streams the tensor into dst (any layout of the file's shape, e.g. the transposed view of a
     * parameter that a GPT-2 Conv1D weight fills) in chunks of whole rows of at most 64K elements:
     * no full-size temporary, and each chunk (256 KB as F32) stays below half of G1's smallest
     * region, so that loading allocates no humongous garbage (each such allocation can start a
     * concurrent collection cycle).
     */
    @Override
    public void copyInto(String key, Tensor dst) {
        SafeTensorsFile f = entryFile(key);
        TensorEntry e = f.get(key);
        if (!floating(key)) {
            jllm.io.ModelSource.super.copyInto(key, dst);
            return;
        }
        long n = e.numel();
        if (n != dst.numel()) throw new HfException("tensor '" + key + "' in " + f.path() + " has " + n + " elements, the parameter " + dst.numel());
        int[] shape = dst.dim() == 0 ? new int[] {1} : dst.shape();
        Tensor to = dst.dim() == 0 ? dst.view(1) : dst;
        int rowLen = shape[0] == 0 ? 1 : (int) (n / shape[0]);
        int rows = Math.max(1, CHUNK / Math.max(1, rowLen));
        for (int r = 0; r < shape[0]; r += rows) {
            int k = Math.min(rows, shape[0] - r);
            int[] part = shape.clone();
            part[0] = k;
            to.narrow(0, r, k).copy_(TensorIO.floatingSlice(f.path(), e, (long) r * rowLen, k * rowLen).view(part));
        }
        // the bytes now live in the parameter: let the kernel drop the file's pages from this process's memory
        if (e.data().isMapped()) e.data().unload();
    }

    private static final int CHUNK = 1 << 16;

    /** One tensor copied out of the mapping; floating dtypes become F32, integer ones stay. */
    @Override
    public Tensor tensor(String key) {
        SafeTensorsFile f = entryFile(key);
        TensorEntry e = f.get(key);
        Tensor t = TensorIO.toTensor(f.path(), e, true);
        if (!isBlocks(key)) return t;
        return Tensor.ofBlocks(blocks, (byte[]) t.toHostArray(), java.util.Arrays.stream(shape(key)).mapToInt(Math::toIntExact).toArray());
    }

    /** Every tensor (F32 for floating dtypes), in key order. */
    public LinkedHashMap<String, Tensor> tensors() {
        LinkedHashMap<String, Tensor> out = new LinkedHashMap<>();
        for (String k : fileOfKey.keySet()) out.put(k, tensor(k));
        return out;
    }

    // ------------------------------------------------------------------------------- writing

    /** Files this class writes; {@link #write} does not carry them over from a previous directory. */
    private static boolean isWeightOrConfig(String name) {
        return name.equals(CONFIG) || name.equals(INDEX) || name.equals(WEIGHTS) || name.matches("model-\\d+-of-\\d+\\.safetensors");
    }

    /**
     * Writes config.json and the tensors (in their own dtype, metadata {@code {"format": "pt"}} as
     * transformers writes) to dir. With maxShardBytes > 0 the tensors are split greedily in map
     * order into {@code model-0000i-of-0000n.safetensors} shards of at most that size (a larger
     * single tensor gets its own shard) plus an index with {@code total_size}, as transformers'
     * {@code save_pretrained(max_shard_size=...)} does; one shard is written as model.safetensors.
     *
     * <p>Atomic: everything goes into a temporary directory next to dir, which then replaces dir
     * by rename, so a crash leaves the previous directory intact (at worst renamed to
     * {@code .NAME.old-*} during the instant between the two renames). Other files of an existing
     * dir (tokenizer, generation config) are carried over. An existing dir that is not a model
     * directory (no config.json, not empty) or is a symbolic link is refused, never rewritten; the
     * temporary directories of an earlier write to the same dir that was killed are removed.
     */
    public static void write(Path dir, JsonNode config, Map<String, Tensor> tensors, long maxShardBytes) throws IOException {
        Path target = dir.toAbsolutePath().normalize();
        Path parent = target.getParent();
        if (Files.isSymbolicLink(target)) throw new FileAlreadyExistsException(target + " is a symbolic link; write the model elsewhere");
        if (Files.exists(target) && !Files.isDirectory(target)) throw new FileAlreadyExistsException(target + " exists and is not a directory");
        if (Files.isDirectory(target) && !Files.exists(target.resolve(CONFIG))) {
            try (Stream<Path> s = Files.list(target)) {
                if (s.findAny().isPresent()) {
                    throw new FileAlreadyExistsException(target + " exists and is not a model directory (no " + CONFIG
                            + "); choose another output directory");
                }
            }
        }
        String base = target.getFileName().toString();
        Path tmp;
        try {
            Files.createDirectories(parent);
            try (Stream<Path> s = Files.list(parent)) { // leftovers of a killed write to the same dir
                for (Path p : s.filter(p -> p.getFileName().toString().startsWith("." + base + ".tmp-")).toList()) deleteTree(p);
            }
            tmp = jllm.io.AtomicFiles.createTempDir(parent, "." + base + ".tmp-");
        } catch (java.nio.file.FileSystemException e) {
            // the directory is written next to its place first: name the place, not the temporary name
            String why = e instanceof java.nio.file.NoSuchFileException ? "no such file or directory"
                    : e instanceof java.nio.file.AccessDeniedException ? "permission denied"
                    : e.getReason() != null ? e.getReason() : e.getClass().getSimpleName();
            throw new java.nio.file.FileSystemException(target.toString(), null, "cannot write a model directory there (" + why + " at " + e.getFile() + ")");
        }
        boolean done = false;
        try {
            writeInto(tmp, config, tensors, maxShardBytes);
            if (Files.isDirectory(target)) {
                try (Stream<Path> s = Files.list(target)) {
                    for (Path p : (Iterable<Path>) s::iterator) {
                        String n = p.getFileName().toString();
                        if (!isWeightOrConfig(n)) copyTree(p, tmp.resolve(n));
                    }
                }
                Path old = parent.resolve("." + base + ".old-" + Long.toHexString(System.nanoTime()));
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
                deleteTree(old);
            } else {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            }
            done = true;
        } finally {
            if (!done) deleteTree(tmp);
        }
    }

    /**
     * The tensors as the files hold them (quantized ones as U8 rows of blocks) and config.json with
     * what they are: torch_dtype from the weight matrices' floating type, and quantization_config
     * for quantized ones (one block type per directory).
     */
    private static void writeInto(Path d, JsonNode config, Map<String, Tensor> tensors, long maxShardBytes) throws IOException {
        DType q = null, floating = null;
        LinkedHashMap<String, Tensor> stored = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            Tensor t = e.getValue();
            if (t.dtype().isQuantized()) {
                if (q != null && q != t.dtype()) {
                    throw new IllegalArgumentException("a model directory holds one block type; tensor '" + e.getKey() + "' is "
                            + t.dtype().torchName() + ", others " + q.torchName());
                }
                q = t.dtype();
                int[] s = t.shape().clone();
                s[s.length - 1] = Math.toIntExact(q.bytes(s[s.length - 1]));
                byte[] b = (byte[]) t.contiguous().toHostArray();
                t = Tensor.fromStorage(jllm.backend.Backends.get(jllm.tensor.Device.CPU).fromHost(DType.U8, b), s);
            } else if (floating == null && t.dim() == 2 && t.dtype().isFloatingPoint()) {
                floating = t.dtype();
            }
            stored.put(e.getKey(), t);
        }
        if (config instanceof ObjectNode o && (q != null || floating != null)) {
            ObjectNode c = o.deepCopy();
            if (floating != null && c.has("torch_dtype")) c.put("torch_dtype", floating.torchName());
            if (q != null) c.putObject("quantization_config").put("quant_method", QUANT_METHOD).put("weights", q.torchName());
            config = c;
        }
        tensors = stored;
        List<LinkedHashMap<String, Tensor>> shards = new ArrayList<>();
        LinkedHashMap<String, Tensor> cur = new LinkedHashMap<>();
        long curBytes = 0, total = 0;
        for (Map.Entry<String, Tensor> e : tensors.entrySet()) {
            long bytes = e.getValue().numel() * (long) e.getValue().dtype().itemSize();
            if (maxShardBytes > 0 && !cur.isEmpty() && curBytes + bytes > maxShardBytes) {
                shards.add(cur);
                cur = new LinkedHashMap<>();
                curBytes = 0;
            }
            cur.put(e.getKey(), e.getValue());
            curBytes += bytes;
            total += bytes;
        }
        shards.add(cur);
        Map<String, String> meta = Map.of("format", "pt");
        if (shards.size() == 1) {
            TensorIO.save(d.resolve(WEIGHTS), shards.get(0), meta);
        } else {
            TreeMap<String, String> weightMap = new TreeMap<>();
            for (int i = 0; i < shards.size(); i++) {
                String name = String.format("model-%05d-of-%05d.safetensors", i + 1, shards.size());
                TensorIO.save(d.resolve(name), shards.get(i), meta);
                for (String k : shards.get(i).keySet()) weightMap.put(k, name);
            }
            Map<String, Object> index = new LinkedHashMap<>();
            index.put("metadata", Map.of("total_size", total));
            index.put("weight_map", weightMap);
            writeJson(d.resolve(INDEX), JSON.valueToTree(index));
        }
        writeJson(d.resolve(CONFIG), config);
    }

    /** JSON as Python's {@code json.dumps(obj, indent=2, sort_keys=True) + "\n"} lays it out (transformers' format). */
    public static String toJsonString(JsonNode node) {
        try {
            Object sorted = JSON.treeToValue(node, Object.class);
            DefaultPrettyPrinter pp = new DefaultPrettyPrinter(Separators.createDefaultInstance()
                    .withObjectFieldValueSpacing(Separators.Spacing.AFTER)
                    .withObjectEmptySeparator("").withArrayEmptySeparator(""));
            pp.indentArraysWith(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE.withLinefeed("\n"));
            pp.indentObjectsWith(DefaultIndenter.SYSTEM_LINEFEED_INSTANCE.withLinefeed("\n"));
            return JSON.copy().enable(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS).writer(pp).writeValueAsString(sorted) + "\n";
        } catch (JsonProcessingException e) {
            throw new HfException("cannot serialise JSON: " + e.getOriginalMessage(), e);
        }
    }

    private static void writeJson(Path file, JsonNode node) throws IOException {
        Files.writeString(file, toJsonString(node));
    }

    private static void copyTree(Path src, Path dst) throws IOException {
        if (Files.isDirectory(src)) {
            Files.createDirectories(dst);
            try (Stream<Path> s = Files.list(src)) {
                for (Path p : (Iterable<Path>) s::iterator) copyTree(p, dst.resolve(p.getFileName().toString()));
            }
        } else {
            Files.copy(src, dst, StandardCopyOption.COPY_ATTRIBUTES);
        }
    }

    private static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p)) return;
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(q);
        }
    }
}
