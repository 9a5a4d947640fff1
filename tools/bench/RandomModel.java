import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Randomly initialised Hugging Face model directories of a known size, for the speed benchmarks
 * (`jllm bench generate`, `jllm bench serve`), where what is measured is time per token and the
 * weights' values do not matter:
 *
 * <ul>
 *   <li>{@code gpt2 OUT}: GPT-2 124M (12 layers, 12 heads, 768 wide, 1024 positions, vocabulary
 *       50257), with a byte-level BPE tokenizer.json of the same vocabulary size (the 256 byte
 *       symbols, then merges of byte pairs in a fixed order, then {@code <|endoftext|>});</li>
 *   <li>{@code llama OUT}: a GPT-2-124M-sized Llama (768 wide, 12 layers, 12 heads, 4 KV heads,
 *       MLP 2048, 2048 positions) with the 1000-token llama2.c tokenizer of the test resources.</li>
 * </ul>
 *
 * Usage: java -cp target/jllm.jar tools/bench/RandomModel.java gpt2|llama OUT
 */
public class RandomModel {
    public static void main(String[] args) throws Exception {
        if (args.length != 2) throw new IllegalArgumentException("usage: RandomModel gpt2|llama OUT");
        Path out = Path.of(args[1]);
        switch (args[0]) {
            case "gpt2" -> {
                new GPT(GPTConfig.DEFAULT).savePretrained(out);
                new ObjectMapper().writerWithDefaultPrettyPrinter().writeValue(out.resolve("tokenizer.json").toFile(), gpt2Tokenizer(50257));
            }
            case "llama" -> {
                new LlamaForCausalLM(LlamaConfig.of(1000, 768, 2048, 12, 12, 4, 2048)).savePretrained(out);
                Path tok = Path.of("src/test/resources/tokenizers/llama2-tiny");
                for (String f : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
                    Files.copy(tok.resolve(f), out.resolve(f), StandardCopyOption.REPLACE_EXISTING);
                }
            }
            default -> throw new IllegalArgumentException("unknown model kind " + args[0] + " (gpt2 or llama)");
        }
        System.out.println("wrote " + out);
    }

    /** GPT-2's byte-to-unicode map: printable bytes stand for themselves, the others from U+0100 on. */
    private static String[] byteSymbols() {
        String[] s = new String[256];
        int next = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            s[b] = String.valueOf((char) (printable ? b : 256 + next++));
        }
        return s;
    }

    private static ObjectNode gpt2Tokenizer(int vocab) {
        ObjectMapper m = new ObjectMapper();
        String[] sym = byteSymbols();
        ObjectNode root = m.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        ObjectNode eot = added.addObject();
        eot.put("id", vocab - 1).put("content", "<|endoftext|>").put("single_word", false).put("lstrip", false)
                .put("rstrip", false).put("normalized", true).put("special", true);
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", true);
        root.putObject("post_processor").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", false).put("use_regex", true);
        root.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true).put("use_regex", true);
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE").putNull("dropout");
        model.putNull("unk_token");
        model.put("continuing_subword_prefix", "").put("end_of_word_suffix", "").put("fuse_unk", false).put("byte_fallback", false);
        ObjectNode v = model.putObject("vocab");
        ArrayNode merges = model.putArray("merges");
        int id = 0;
        for (String s : sym) v.put(s, id++);
        // Two-byte tokens over the printable ASCII letters first (so real text merges), then any pair.
        outer:
        for (int a = 0; a < 256; a++) {
            for (int b = 0; b < 256; b++) {
                if (id == vocab - 1) break outer;
                int pa = (a + 'a') % 256, pb = (b + 'a') % 256;
                v.put(sym[pa] + sym[pb], id++);
                merges.add(sym[pa] + " " + sym[pb]);
            }
        }
        v.put("<|endoftext|>", vocab - 1);
        return root;
    }
}
