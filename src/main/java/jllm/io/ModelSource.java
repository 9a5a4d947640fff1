package jllm.io;

import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.io.gguf.GgufFile;
import jllm.io.gguf.GgufModel;
import jllm.io.hf.HfException;
import jllm.io.hf.HfHub;
import jllm.io.hf.HfModelDir;
import jllm.tokenizer.HfTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A pretrained model on disk as the model loaders see it: a Hugging Face config.json object, the
 * weights under transformers' names and in its layout, and the tokenizer. A Hugging Face directory
 * ({@link HfModelDir}) is one; a GGUF file ({@link GgufModel}) is another, its metadata and
 * tensors translated on the way in. Everything that takes {@code --model} opens it here.
 */
public interface ModelSource extends WeightSource {
    /** config.json as transformers writes it (a live object; copy it before changing it). */
    ObjectNode config();

    /** The file the config comes from, for messages: config.json, or the GGUF file. */
    Path configFile();

    /**
     * The type the weight matrices are stored in when it is one type other than F32 (Q8_0, Q4_0,
     * BF16, F16), which loading keeps by default (the kernels read it directly: half or less of the
     * memory and of the bytes each decoded token reads); null when they load as F32.
     */
    jllm.tensor.DType weightType();

    /**
     * The type the weight matrix under key is kept in when the model loads in {@link #weightType()}:
     * that one, except in a file whose matrices mix types (llama.cpp's Q4_0 files keep the output
     * matrix in Q6_K), where a matrix stored more precisely than the model's type keeps more (null:
     * float32).
     */
    default jllm.tensor.DType weightType(String key) { return weightType(); }

    /** The model's tokenizer (tokenizer.json and tokenizer_config.json, or made from GGUF metadata). */
    HfTokenizer tokenizer();

    /** The tokenizer.json {@link #tokenizer()} runs, parsed. */
    com.fasterxml.jackson.databind.JsonNode tokenizerJson() throws IOException;

    /**
     * Puts this model's tokenizer and generation files into a Hugging Face model directory being
     * written (a directory's own files are copied; a GGUF file's tokenizer is written out).
     */
    void writeTokenizerFiles(Path dir) throws IOException;

    /**
     * A model reference: a GGUF file, a model directory, or org/name in the local Hugging Face
     * cache ({@link HfHub#resolve(String)}; never the network).
     */
    static ModelSource open(String ref) throws IOException {
        Path local = ref == null || ref.isBlank() ? null : Path.of(ref);
        if (local != null && Files.isRegularFile(local)) return open(local);
        return HfModelDir.open(HfHub.resolve(ref));
    }

    /** A GGUF file or a model directory. */
    static ModelSource open(Path path) throws IOException {
        if (Files.isRegularFile(path)) {
            if (!GgufFile.hasMagic(path)) {
                throw new HfException(path + " is a file but not a GGUF file (it does not start with \"GGUF\"); a model is a GGUF file or"
                        + " a directory holding config.json and the weights");
            }
            return GgufModel.open(path);
        }
        return HfModelDir.open(path);
    }
}
