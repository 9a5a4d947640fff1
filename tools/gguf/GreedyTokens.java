import jllm.autograd.Grad;
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
 * does and prints, as one JSON line, how jllm tokenizes each prompt, the greedy continuation of
 * given prompt ids (no stop token, so the lengths always match llama.cpp's) and at each generated
 * position the gap between jllm's two highest logits (how near a tie the greedy choice was).
 *
 * Usage: java -cp target/jllm.jar tools/gguf/GreedyTokens.java MODEL N PROMPT_IDS_CSV... -- PROMPT_TEXT...
 */
public class GreedyTokens {
    public static void main(String[] args) throws Exception {
        ModelSource src = ModelSource.open(args[0]);
        int n = Integer.parseInt(args[1]);
        PretrainedModel model = AutoModelForCausalLM.fromPretrained(src);
        StringBuilder out = new StringBuilder("{\"greedy\": ["), gaps = new StringBuilder("\"gaps\": [");
        int i = 2;
        for (boolean first = true; i < args.length && !args[i].equals("--"); i++, first = false) {
            long[] ids = Arrays.stream(args[i].split(",")).mapToLong(Long::parseLong).toArray();
            Tensor r = TextGenerator.generate(model, Tensor.of(ids, 1, ids.length), TextGenerator.Options.of(n).temperature(0));
            long[] all = r.toLongArray();
            out.append(first ? "" : ", ").append(Arrays.stream(Arrays.copyOfRange(all, ids.length, all.length))
                    .mapToObj(Long::toString).collect(Collectors.joining(", ", "[", "]")));
            float[] logits;
            try (var g = Grad.off()) {
                logits = model.forward(Tensor.of(Arrays.copyOf(all, all.length - 1), 1, all.length - 1), null).logits().toFloatArray();
            }
            int v = model.vocabSize();
            StringBuilder gap = new StringBuilder();
            for (int p = ids.length - 1; p < all.length - 1; p++) {
                float top = Float.NEGATIVE_INFINITY, second = Float.NEGATIVE_INFINITY;
                for (int t = 0; t < v; t++) {
                    float x = logits[p * v + t];
                    if (x > top) { second = top; top = x; } else if (x > second) second = x;
                }
                gap.append(gap.isEmpty() ? "" : ", ").append(String.format(java.util.Locale.ROOT, "%.4f", top - second));
            }
            gaps.append(first ? "" : ", ").append("[").append(gap).append("]");
        }
        out.append("], \"tokenized\": [");
        try (HfTokenizer tok = src.tokenizer()) {
            for (boolean first = true; ++i < args.length; first = false) {
                out.append(first ? "" : ", ").append(Arrays.stream(tok.encodePrompt(args[i])).mapToObj(Integer::toString)
                        .collect(Collectors.joining(", ", "[", "]")));
            }
        }
        System.out.println(out.append("], ").append(gaps).append("]}"));
    }
}
