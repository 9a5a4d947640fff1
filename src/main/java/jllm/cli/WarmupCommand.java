package jllm.cli;

import jllm.generate.TextGenerator;
import jllm.generate.TextStream;
import jllm.io.StrictJson;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.models.gpt.GPT;
import jllm.models.gpt.GPTConfig;
import jllm.models.llama.LlamaConfig;
import jllm.models.llama.LlamaForCausalLM;
import jllm.optim.AdamW;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;
import jllm.tokenizer.ChatTemplate;
import jllm.tokenizer.CharTokenizer;
import jllm.tokenizer.HfTokenizer;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * {@code jllm warmup} (hidden): the workload the launcher runs once per build to record JDK 25's
 * ahead-of-time cache ({@code -XX:AOTCacheOutput}, JEP 483/514/515). It touches what real commands
 * load first: every command's option parsing and help, a training step of a tiny GPT, KV-cached
 * generation, a Llama saved and loaded as a Hugging Face directory, the heap sizing of a train and a
 * generate command line, a tokenizer.json through the tokenizers library and a chat template.
 * Classes loaded and linked here start in later runs already parsed and linked, with their
 * profiles; nothing here is printed.
 */
@Command(name = "warmup", hidden = true, mixinStandardHelpOptions = true,
        description = "Run the small workload that records the start-up cache (the launcher does this once per build).")
final class WarmupCommand implements Callable<Integer> {

    @Override
    public Integer call() throws Exception {
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        CommandLine cl = Main.commandLine();
        cl.getSubcommands().forEach((name, sub) -> sub.usage(quiet));
        cl.parseArgs("generate", "--model", "m", "--max-new-tokens", "1");

        Generator.manualSeed(0);
        CharTokenizer chars = CharTokenizer.fromText("abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ.,!?'\n");
        int vocab = chars.vocabSize();
        GPT gpt = new GPT(new GPTConfig(16, vocab, 2, 2, 32, 0.0, false));
        AdamW opt = new AdamW(gpt.parameters(), 1e-3);
        Tensor x = Tensor.randint(0, vocab, new int[] {2, 16}, new Generator(1)), y = Tensor.randint(0, vocab, new int[] {2, 16}, new Generator(2));
        for (int step = 0; step < 2; step++) {
            Tensor loss = gpt.forward(x, y).loss();
            opt.zeroGrad();
            loss.backward();
            opt.step();
        }
        gpt.eval();

        Path dir = Files.createTempDirectory("jllm-warmup");
        try {
            LlamaForCausalLM llama = new LlamaForCausalLM(LlamaConfig.of(vocab, 32, 64, 2, 4, 2, 32), new Generator(3));
            Path model = dir.resolve("llama");
            llama.savePretrained(model);
            Files.writeString(model.resolve("tokenizer.json"), StrictJson.MAPPER.writeValueAsString(chars.toHuggingFaceJson()));
            // what the launcher runs before train, finetune and generate, so that it starts from the cache too
            HeapCommand.size(List.of("generate", "--model", model.toString(), "--prompt", "hello"));
            HeapCommand.size(List.of("train", "--set", "max_iters=1"));
            PretrainedModel loaded = AutoModelForCausalLM.fromPretrained(model);
            try (HfTokenizer tok = HfTokenizer.fromDirectory(model)) {
                int[] ids = tok.encode("hello world");
                var opts = TextGenerator.Options.of(4).temperature(0.8).topK(20).seed(1);
                TextStream.run(loaded, tok, ids, "hello world", opts, quiet);
                TextStream.run(gpt, tok, new int[] {1, 2, 3}, null, opts.numReturnSequences(2), quiet);
            }
            new ChatTemplate("{% for m in messages %}{{ m.role | upper }}: {{ m.content.strip() }}\n{% endfor %}")
                    .render(List.of(ChatTemplate.Message.user(" hi ")), true, Map.of("bos_token", "<s>"));
        } finally {
            try (Stream<Path> s = Files.walk(dir)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return 0;
    }
}
