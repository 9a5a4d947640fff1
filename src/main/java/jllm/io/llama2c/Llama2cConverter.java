package jllm.io.llama2c;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import jllm.io.SafeTensors;
import jllm.io.StDType;
import jllm.io.TensorSource;
import jllm.io.llama2c.Llama2cCheckpoint.Part;

/**
 * Converts a llama2.c checkpoint (and optionally its tokenizer.bin) into a Hugging Face Llama
 * directory: config.json, model.safetensors (float32, HF key names) and, with a tokenizer,
 * tokenizer.json and tokenizer_config.json.
 *
 * <p>The one real transformation is RoPE's layout: llama2.c rotates interleaved pairs
 * {@code (2i, 2i+1)} of each head while HF's Llama rotates halves {@code (i, i + head_size/2)}, so
 * the rows of q and k are permuted per head exactly as transformers'
 * {@code convert_llama_weights_to_hf.permute} does. Everything else is copied as it is.
 */
public final class Llama2cConverter {

    /** What {@link #convert} wrote. */
    public record Summary(Path outDir, Llama2cConfig config, int tensorCount, long tensorBytes, boolean withTokenizer) {}

    private Llama2cConverter() {}

    /**
     * Writes the HF directory {@code outDir}, which must not exist (or be an empty directory).
     * Everything is written into a temporary sibling directory first and renamed into place in one
     * step, so a failure or crash leaves no partial {@code outDir}.
     *
     * @param tokenizerBin llama2.c tokenizer.bin, or null for a model without tokenizer files
     */
    public static Summary convert(Path checkpointBin, Path tokenizerBin, Path outDir) throws IOException {
        Path out = outDir.toAbsolutePath().normalize();
        if (Files.exists(out)) {
            boolean empty;
            try (Stream<Path> s = Files.isDirectory(out) ? Files.list(out) : null) {
                empty = s != null && s.findAny().isEmpty();
            }
            if (!empty) {
                throw new FileAlreadyExistsException(out.toString(), null, "output exists and is not an empty directory");
            }
        }
        Path parent = out.getParent();
        Files.createDirectories(parent);
        Path tmp = jllm.io.AtomicFiles.createTempDir(parent, "." + out.getFileName() + ".tmp-");
        try (Llama2cCheckpoint ckpt = Llama2cCheckpoint.open(checkpointBin)) {
            Llama2cConfig c = ckpt.config();
            Llama2cTokenizer tok = tokenizerBin == null ? null : Llama2cTokenizer.read(tokenizerBin, c.vocabSize());
            List<TensorSource> tensors = hfTensors(ckpt);
            SafeTensors.writeSources(tmp.resolve("model.safetensors"), tensors, Map.of("format", "pt"));
            Files.writeString(tmp.resolve("config.json"), configJson(c), StandardCharsets.UTF_8);
            if (tok != null) {
                Files.writeString(tmp.resolve("tokenizer.json"), HfTokenizerFiles.tokenizerJson(tok), StandardCharsets.UTF_8);
                Files.writeString(tmp.resolve("tokenizer_config.json"), HfTokenizerFiles.tokenizerConfigJson(c.seqLen()),
                        StandardCharsets.UTF_8);
            }
            long bytes = 0;
            for (TensorSource t : tensors) {
                bytes += t.byteSize();
            }
            Files.deleteIfExists(out); // only an empty directory gets here
            Files.move(tmp, out, StandardCopyOption.ATOMIC_MOVE);
            return new Summary(out, c, tensors.size(), bytes, tok != null);
        } catch (Throwable t) {
            deleteTree(tmp, t);
            throw t;
        }
    }

    /** The HF tensors of {@code ckpt}, in HF's order, reading the mapping lazily as they are written. */
    public static List<TensorSource> hfTensors(Llama2cCheckpoint ckpt) {
        Llama2cConfig c = ckpt.config();
        List<TensorSource> out = new ArrayList<>();
        out.add(copy("model.embed_tokens.weight", new long[] {c.vocabSize(), c.dim()}, ckpt.tokenEmbedding()));
        for (int l = 0; l < c.nLayers(); l++) {
            String p = "model.layers." + l + ".";
            out.add(copy(p + "input_layernorm.weight", ckpt.shape(Part.RMS_ATT), ckpt.layer(Part.RMS_ATT, l)));
            out.add(permuted(p + "self_attn.q_proj.weight", ckpt.shape(Part.WQ), ckpt.layer(Part.WQ, l), c.nHeads()));
            out.add(permuted(p + "self_attn.k_proj.weight", ckpt.shape(Part.WK), ckpt.layer(Part.WK, l), c.nKvHeads()));
            out.add(copy(p + "self_attn.v_proj.weight", ckpt.shape(Part.WV), ckpt.layer(Part.WV, l)));
            out.add(copy(p + "self_attn.o_proj.weight", ckpt.shape(Part.WO), ckpt.layer(Part.WO, l)));
            out.add(copy(p + "post_attention_layernorm.weight", ckpt.shape(Part.RMS_FFN), ckpt.layer(Part.RMS_FFN, l)));
            out.add(copy(p + "mlp.gate_proj.weight", ckpt.shape(Part.W1), ckpt.layer(Part.W1, l)));
            out.add(copy(p + "mlp.up_proj.weight", ckpt.shape(Part.W3), ckpt.layer(Part.W3, l)));
            out.add(copy(p + "mlp.down_proj.weight", ckpt.shape(Part.W2), ckpt.layer(Part.W2, l)));
        }
        out.add(copy("model.norm.weight", new long[] {c.dim()}, ckpt.finalNorm()));
        if (!c.sharedClassifier()) {
            out.add(copy("lm_head.weight", new long[] {c.vocabSize(), c.dim()}, ckpt.classifier()));
        }
        return out;
    }

    private static TensorSource copy(String name, long[] shape, MemorySegment src) {
        return new TensorSource(name, StDType.F32, shape, src.byteSize(),
                (offset, dst) -> MemorySegment.copy(src, offset, dst, 0, dst.byteSize()));
    }

    /** Rows reordered by {@link #hfRow}; chunks may start mid-row, so copy row pieces. */
    private static TensorSource permuted(String name, long[] shape, MemorySegment src, int heads) {
        int rows = (int) shape[0];
        long rowBytes = 4L * shape[1];
        int headSize = rows / heads;
        return new TensorSource(name, StDType.F32, shape, src.byteSize(), (offset, dst) -> {
            long done = 0;
            while (done < dst.byteSize()) {
                long pos = offset + done;
                int row = (int) (pos / rowBytes);
                long within = pos % rowBytes;
                long len = Math.min(rowBytes - within, dst.byteSize() - done);
                MemorySegment.copy(src, (long) llama2cRow(row, headSize) * rowBytes + within, dst, done, len);
                done += len;
            }
        });
    }

    /**
     * The llama2.c row that becomes HF row {@code hfRow} of q or k. Within a head, HF row
     * {@code j * headSize/2 + i} is llama2.c row {@code 2i + j} (j in {0, 1}): transformers'
     * {@code w.view(heads, headSize/2, 2, in).transpose(1, 2).reshape(out, in)}.
     */
    public static int llama2cRow(int hfRow, int headSize) {
        int half = headSize / 2;
        int head = hfRow / headSize;
        int r = hfRow % headSize;
        int j = r / half;
        int i = r % half;
        return head * headSize + 2 * i + j;
    }

    /** HF row of llama2.c row {@code row}: the inverse of {@link #llama2cRow}. */
    public static int hfRow(int row, int headSize) {
        int half = headSize / 2;
        int head = row / headSize;
        int r = row % headSize;
        return head * headSize + (r % 2) * half + r / 2;
    }

    /** config.json of a {@code LlamaForCausalLM} with {@code c}'s hyperparameters. */
    public static String configJson(Llama2cConfig c) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("architectures", List.of("LlamaForCausalLM"));
        m.put("model_type", "llama");
        m.put("hidden_size", c.dim());
        m.put("intermediate_size", c.hiddenDim());
        m.put("num_hidden_layers", c.nLayers());
        m.put("num_attention_heads", c.nHeads());
        m.put("num_key_value_heads", c.nKvHeads());
        m.put("max_position_embeddings", c.seqLen());
        m.put("rms_norm_eps", 1e-5);
        m.put("rope_theta", 10000.0);
        m.put("vocab_size", c.vocabSize());
        m.put("tie_word_embeddings", c.sharedClassifier());
        m.put("bos_token_id", Llama2cTokenizer.BOS);
        m.put("eos_token_id", Llama2cTokenizer.EOS);
        m.put("hidden_act", "silu");
        m.put("attention_bias", false);
        m.put("torch_dtype", "float32");
        return HfTokenizerFiles.write(m);
    }

    private static void deleteTree(Path dir, Throwable cause) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | RuntimeException e) {
            cause.addSuppressed(e);
        }
    }
}
