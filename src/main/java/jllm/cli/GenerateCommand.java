package jllm.cli;

import jllm.generate.SpecialTokens;
import jllm.generate.TextGenerator;
import jllm.generate.TextStream;
import jllm.lora.PeftModel;
import jllm.models.LanguageModel;
import jllm.models.PretrainedModel;
import jllm.backend.Backends;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tokenizer.ChatTemplate;
import jllm.tokenizer.HfTokenizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/** {@code jllm generate}: text from a Hugging Face model directory of any family jllm has, or a GGUF file, with an optional LoRA adapter. */
@Command(name = "generate", mixinStandardHelpOptions = true,
        description = {"Generate text with a Hugging Face model directory (GPT-2, Llama, Qwen2, Qwen3, Mistral, Gemma, Gemma 2, Phi-3) and its tokenizer.json, optionally "
                + "with a PEFT LoRA adapter. Streams tokens as they are produced, stops at the model's eos token(s), and "
                + "prints tokens/s at the end (on stderr).",
                "--model is a directory, a GGUF file (llama.cpp's format: a Llama with its tokenizer; F32, F16, BF16, Q8_0 and Q4_0 "
                        + "tensors; Q4_K/Q6_K widened to float32, or kept in Q8_0 beside Q8_0/Q4_0 matrices), or a name (org/name) found in the local Hugging Face cache "
                        + "(~/.cache/huggingface/hub, $HF_HOME/hub or $HF_HUB_CACHE); nothing is ever downloaded."})
public final class GenerateCommand implements Callable<Integer> {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Option(names = "--model", required = true, description = "Model directory, GGUF file or cached model name.")
    String model;

    @Option(names = "--adapter", description = "A LoRA adapter directory (adapter_config.json + adapter_model.safetensors), as PEFT saves it.")
    Path adapter;

    @Option(names = "--prompt", description = "The prompt (with --chat: the user message). Default: empty (start from the bos token).")
    String prompt = "";

    @Option(names = "--chat", description = "Format the prompt with the tokenizer's chat template (as transformers' apply_chat_template with add_generation_prompt).")
    boolean chat;

    @Option(names = "--system", description = "With --chat: a system message before the user message.")
    String system;

    @Option(names = "--max-new-tokens", description = "Tokens to generate at most (default: ${DEFAULT-VALUE}).")
    int maxNewTokens = 128;

    @Option(names = "--top-k", description = "Keep only the k most likely tokens (default: ${DEFAULT-VALUE}; 0 = off).")
    int topK = 50;

    @Option(names = "--device", description = "Where to generate: cpu (default) or an accelerator such as cuda or cuda:1. The model "
            + "moves there after loading; its weights are float32 there unless --dtype says otherwise.")
    String device = "cpu";

    @Mixin
    SamplingOptions sampling = new SamplingOptions();

    @Mixin
    WeightTypeOption dtype = new WeightTypeOption();

    @Override
    public Integer call() throws Exception {
        CliErrors.check(spec, maxNewTokens >= 0, "--max-new-tokens must be >= 0, got " + maxNewTokens);
        CliErrors.check(spec, topK >= 0, "--top-k must be >= 0 (0 = off), got " + topK);
        CliErrors.check(spec, system == null || chat, "--system needs --chat");
        sampling.validate(spec);
        DType weights = dtype.validate(spec);
        Device dev = CliErrors.usage(spec, () -> Device.parse(device));
        CliErrors.check(spec, Backends.isAvailable(dev), "--device " + device + ": " + Backends.unavailableReason(dev));
        // the CPU's kernels read bf16/f16/q8_0/q4_0 weights directly; an accelerator gets float32 unless told otherwise
        if (weights == null && !dev.isCpu()) weights = DType.F32;
        try (HfModel hf = HfModel.load(model, weights)) {
            PretrainedModel base = hf.model();
            HfTokenizer tok = hf.tokenizer();
            LanguageModel lm = base;
            if (adapter != null) {
                PeftModel peft = PeftModel.fromPretrained(base.asModule(), adapter);
                System.err.println("adapter " + adapter + ": " + peft.loraLayerNames().size() + " LoRA layers (r=" + peft.peftConfig().r() + ")");
                lm = peft;
            }
            if (!dev.isCpu()) base.asModule().to(dev); // the adapter's LoRA layers sit inside the base model's modules
            int[] ids;
            if (chat) {
                List<ChatTemplate.Message> messages = new ArrayList<>();
                if (system != null) messages.add(ChatTemplate.Message.system(system));
                messages.add(ChatTemplate.Message.user(prompt));
                ids = tok.encodeChat(messages, true);
            } else {
                ids = tok.encodePrompt(prompt);
            }
            SpecialTokens special = SpecialTokens.of(base, tok);
            ids = special.startIfEmpty(ids);
            sampling.checkPromptLength(ids.length, lm.blockSize());
            var opts = TextGenerator.Options.of(maxNewTokens).temperature(sampling.temperature).topK(topK > 0 ? topK : null)
                    .topP(sampling.topP).seed(sampling.seed).useCache(!sampling.noCache).stopTokens(special.stopTokens());
            TextStream.Result r = TextStream.run(lm, tok, ids, chat ? null : prompt, opts, System.out);
            System.err.printf(Locale.ROOT, "%d prompt tokens, %d generated in %.2f s (%.1f tokens/s)%n", r.promptTokens(),
                    r.generatedTokens(), r.seconds(), r.tokensPerSecond());
        }
        return 0;
    }
}
