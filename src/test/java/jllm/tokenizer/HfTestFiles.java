package jllm.tokenizer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.GZIPInputStream;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/** Test tokenizer directories: resources copied (gunzipped) to a temp dir, and a Llama-3-shaped one built from cl100k. */
final class HfTestFiles {

    static final ObjectMapper JSON = new ObjectMapper();

    /** Tricky strings shared by the parity tests (no special-token text). */
    static final List<String> TRICKY = List.of(
            "", " ", "  ", "\n", "\n\n\n", " \n \n", "\t\tx", "a  b   c    d", "trailing   ", "   leading",
            "Hello, world! It's 12345 o'clock; we'll've DON'T", "caf\u00e9 na\u00efve r\u00e9sum\u00e9",
            "\u4f60\u597d\uff0c\u4e16\u754c", "\uD83D\uDE00\uD83D\uDC4D\uD83C\uDFFD emoji", "\uD83D\uDC68\u200D\uD83D\uDC69\u200D\uD83D\uDC67 family",
            "\u0645\u0631\u062d\u0628\u0627 \u05e9\u05dc\u05d5\u05dd", "\u00a0nbsp\u2003em space", "x\r\ny\rz",
            "3.14159 1000000 2024-11-22", "<html><body>code</body></html>", "def f(x):\n    return x ** 2\n",
            "\u0000\u0001 control", "A\u0301 combining", "\uFFFD replacement");

    private HfTestFiles() {}

    /** Copies classpath {@code /tokenizers/<name>/} files into a fresh temp dir, gunzipping *.gz. */
    static Path resourceDir(String name, Path tmp, String... files) {
        try {
            Path dir = Files.createDirectories(tmp.resolve(name));
            for (String f : files) {
                try (InputStream in = HfTestFiles.class.getResourceAsStream("/tokenizers/" + name + "/" + f)) {
                    if (in == null) throw new IllegalStateException("missing test resource /tokenizers/" + name + "/" + f);
                    if (f.endsWith(".gz")) {
                        try (InputStream g = new GZIPInputStream(in)) {
                            Files.copy(g, dir.resolve(f.substring(0, f.length() - 3)));
                        }
                    } else {
                        Files.copy(in, dir.resolve(f));
                    }
                }
            }
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static String resourceText(String path) {
        try (InputStream in = HfTestFiles.class.getResourceAsStream(path)) {
            if (in == null) throw new IllegalStateException("missing test resource " + path);
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static final String[] LLAMA3_SPECIALS = {
        "<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"};

    /** Llama 3's pre-tokenizer regex (cl100k's, written without possessive quantifiers). */
    static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    static final String LLAMA3_STYLE_TEMPLATE = resourceText("/tokenizers/chat/llama3_style.jinja");

    /** Qwen2's pre-tokenizer regex: cl100k's, except that digits are split one by one. */
    static final String QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}"
            + "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

    static final String[] QWEN2_SPECIALS = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};

    /** cl100k_base's tokens in rank order, as JTokkit bundles them. */
    static List<byte[]> cl100kRanks() throws IOException {
        List<byte[]> byRank = new ArrayList<>();
        try (InputStream in = com.knuddels.jtokkit.Encodings.class.getResourceAsStream("/com/knuddels/jtokkit/cl100k_base.tiktoken")) {
            for (String line : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                if (line.isEmpty()) continue;
                String[] parts = line.split(" ");
                if (Integer.parseInt(parts[1]) != byRank.size()) throw new IllegalStateException("ranks not dense at " + parts[1]);
                byRank.add(Base64.getDecoder().decode(parts[0]));
            }
        }
        return byRank;
    }

    /**
     * A Llama-3-shaped tokenizer.json from the cl100k_base ranks JTokkit bundles: Split(regex,
     * Isolated) + ByteLevel(no regex), BPE with ignore_merges, merges derived from the ranks the way
     * transformers' TikTokenConverter does, specials right after the base vocabulary, and a
     * TemplateProcessing that adds {@code <|begin_of_text|>}. Plus a tokenizer_config.json.
     */
    static Path llama3Dir(Path tmp) throws IOException {
        ObjectNode config = JSON.createObjectNode();
        config.put("bos_token", "<|begin_of_text|>");
        config.putObject("eos_token").put("content", "<|eot_id|>").put("special", true); // AddedToken form
        config.put("model_max_length", 131072);
        config.put("chat_template", LLAMA3_STYLE_TEMPLATE);
        return tiktokenDir(tmp.resolve("llama3"), LLAMA3_REGEX, LLAMA3_SPECIALS, "<|begin_of_text|>", false, config);
    }

    /**
     * A Qwen2-shaped tokenizer.json on the same cl100k ranks: NFC normalizer, Qwen2's Split regex
     * (single digits) + ByteLevel, its specials, no bos in the post-processor; tokenizer_config.json
     * as Qwen2.5's instruct models have it (bos_token null, eos <|im_end|>) with a Qwen-style template.
     */
    static Path qwen2Dir(Path tmp) throws IOException {
        ObjectNode config = JSON.createObjectNode();
        config.putNull("bos_token");
        config.put("eos_token", "<|im_end|>");
        config.put("pad_token", "<|endoftext|>");
        config.put("model_max_length", 131072);
        config.put("chat_template", resourceText("/tokenizers/chat/qwen3_style.jinja"));
        return tiktokenDir(tmp.resolve("qwen2"), QWEN2_REGEX, QWEN2_SPECIALS, null, true, config);
    }

    private static Path tiktokenDir(Path dir, String regex, String[] specials, String bosSpecial, boolean nfc, ObjectNode config) throws IOException {
        List<byte[]> byRank = cl100kRanks();
        Map<String, Integer> ranks = new LinkedHashMap<>();
        for (int r = 0; r < byRank.size(); r++) ranks.put(byteLevel(byRank.get(r)), r);
        ObjectNode vocab = JSON.createObjectNode();
        ranks.forEach(vocab::put);
        ArrayNode merges = JSON.createArrayNode();
        for (int r = 0; r < byRank.size(); r++) {
            byte[] b = byRank.get(r);
            if (b.length < 2) continue;
            // Replay BPE on the token's bytes using only merges of lower rank: the last two parts are its merge.
            List<String> parts = new ArrayList<>();
            for (byte x : b) parts.add(byteLevel(new byte[] {x}));
            while (parts.size() > 2) {
                int best = -1, bestRank = Integer.MAX_VALUE;
                for (int i = 0; i + 1 < parts.size(); i++) {
                    Integer pr = ranks.get(parts.get(i) + parts.get(i + 1));
                    if (pr != null && pr < r && pr < bestRank) {
                        bestRank = pr;
                        best = i;
                    }
                }
                if (best < 0) break;
                parts.set(best, parts.get(best) + parts.remove(best + 1));
            }
            if (parts.size() == 2) merges.add(parts.get(0) + " " + parts.get(1));
        }

        int base = byRank.size();
        ObjectNode tok = JSON.createObjectNode();
        tok.put("version", "1.0");
        tok.putNull("truncation");
        tok.putNull("padding");
        ArrayNode added = tok.putArray("added_tokens");
        for (int i = 0; i < specials.length; i++) {
            added.addObject().put("id", base + i).put("content", specials[i]).put("single_word", false)
                    .put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
        }
        if (nfc) tok.putObject("normalizer").put("type", "NFC");
        else tok.putNull("normalizer");
        ObjectNode pre = tok.putObject("pre_tokenizer");
        pre.put("type", "Sequence");
        ArrayNode pres = pre.putArray("pretokenizers");
        ObjectNode split = pres.addObject();
        split.put("type", "Split");
        split.putObject("pattern").put("Regex", regex);
        split.put("behavior", "Isolated").put("invert", false);
        pres.addObject().put("type", "ByteLevel").put("add_prefix_space", false).put("trim_offsets", true).put("use_regex", false);
        ObjectNode byteLevelPost = JSON.createObjectNode().put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", false)
                .put("use_regex", true);
        if (bosSpecial == null) {
            tok.set("post_processor", byteLevelPost);
        } else {
            int bosId = base + java.util.Arrays.asList(specials).indexOf(bosSpecial);
            ObjectNode post = tok.putObject("post_processor");
            post.put("type", "Sequence");
            ArrayNode posts = post.putArray("processors");
            posts.add(byteLevelPost);
            ObjectNode tp = posts.addObject();
            tp.put("type", "TemplateProcessing");
            ArrayNode single = tp.putArray("single");
            single.addObject().putObject("SpecialToken").put("id", bosSpecial).put("type_id", 0);
            single.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            ArrayNode pair = tp.putArray("pair");
            pair.addObject().putObject("SpecialToken").put("id", bosSpecial).put("type_id", 0);
            pair.addObject().putObject("Sequence").put("id", "A").put("type_id", 0);
            pair.addObject().putObject("SpecialToken").put("id", bosSpecial).put("type_id", 1);
            pair.addObject().putObject("Sequence").put("id", "B").put("type_id", 1);
            ObjectNode st = tp.putObject("special_tokens").putObject(bosSpecial);
            st.put("id", bosSpecial);
            st.putArray("ids").add(bosId);
            st.putArray("tokens").add(bosSpecial);
        }
        tok.putObject("decoder").put("type", "ByteLevel").put("add_prefix_space", true).put("trim_offsets", true).put("use_regex", true);
        ObjectNode model = tok.putObject("model");
        model.put("type", "BPE").putNull("dropout").putNull("unk_token").putNull("continuing_subword_prefix")
                .putNull("end_of_word_suffix").put("fuse_unk", false).put("byte_fallback", false).put("ignore_merges", true);
        model.set("vocab", vocab);
        model.set("merges", merges);

        Files.createDirectories(dir);
        JSON.writeValue(dir.resolve("tokenizer.json").toFile(), tok);
        JSON.writeValue(dir.resolve("tokenizer_config.json").toFile(), config);
        return dir;
    }

    private static final char[] BYTE_CHARS = new char[256];

    static {
        // GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards.
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            BYTE_CHARS[b] = printable ? (char) b : (char) (256 + n++);
        }
    }

    static String byteLevel(byte[] bytes) {
        StringBuilder sb = new StringBuilder(bytes.length);
        for (byte b : bytes) sb.append(BYTE_CHARS[b & 0xFF]);
        return sb.toString();
    }
}
