import jllm.generate.TextGenerator;
import jllm.io.ModelSource;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.tensor.Tensor;
import jllm.tokenizer.HfTokenizer;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * jllm's side of check_gguf.mjs: loads a model (a GGUF file or a directory) the way `jllm generate`
 * does and prints, as one JSON line, how jllm tokenizes each prompt and the greedy continuation of
 * given prompt ids (no stop token, so the lengths always match llama.cpp's).
 *
 * Usage: java -cp target/jllm.jar tools/gguf/GreedyTokens.java MODEL N PROMPT_IDS_CSV... -- PROMPT_TEXT...
 */
public class GreedyTokens {
    public static void main(String[] args) throws Exception {
        ModelSource src = ModelSource.open(args[0]);
        int n = Integer.parseInt(args[1]);
        PretrainedModel model = AutoModelForCausalLM.fromPretrained(src);
        StringBuilder out = new StringBuilder("{\"greedy\": [");
        int i = 2;
        for (boolean first = true; i < args.length && !args[i].equals("--"); i++, first = false) {
            long[] ids = Arrays.stream(args[i].split(",")).mapToLong(Long::parseLong).toArray();
            Tensor r = TextGenerator.generate(model, Tensor.of(ids, 1, ids.length), TextGenerator.Options.of(n).temperature(0));
            long[] all = r.toLongArray();
            out.append(first ? "" : ", ").append(Arrays.stream(Arrays.copyOfRange(all, ids.length, all.length))
                    .mapToObj(Long::toString).collect(Collectors.joining(", ", "[", "]")));
        }
        out.append("], \"tokenized\": [");
        try (HfTokenizer tok = src.tokenizer()) {
            for (boolean first = true; ++i < args.length; first = false) {
                out.append(first ? "" : ", ").append(Arrays.stream(tok.encodePrompt(args[i])).mapToObj(Integer::toString)
                        .collect(Collectors.joining(", ", "[", "]")));
            }
        }
        System.out.println(out.append("]}"));
    }
}
