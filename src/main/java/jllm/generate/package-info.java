/**
 * Text generation: {@link jllm.generate.Sampler} (temperature, top-k, Hugging Face top-p,
 * seeded multinomial; temperature 0 = greedy) and {@link jllm.generate.TextGenerator}
 * (nanoGPT's crop-to-block-size loop for any {@link jllm.models.LanguageModel}, one token per
 * step over a {@link jllm.models.KVCache} for a {@link jllm.models.CachedLanguageModel},
 * several samples per prompt, streaming callback, stop token).
 */
package jllm.generate;
