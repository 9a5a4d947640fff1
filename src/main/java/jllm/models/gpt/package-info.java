/**
 * GPT models of the seed documents: {@link jllm.models.gpt.GPT} (seed 002, build-nanogpt's GPT-2,
 * with {@link jllm.models.gpt.GPTConfig} presets gpt2 / -medium / -large / -xl) and
 * {@link jllm.models.gpt.CharGPT} (seed 003's character-level GPTLanguageModel). Module names
 * are the seeds' PyTorch state_dict keys, so PyTorch checkpoints load by name; GPT decodes
 * incrementally over a {@link jllm.models.KVCache}.
 */
package jllm.models.gpt;
