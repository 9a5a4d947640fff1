/**
 * Text to token ids and back: a character-level tokenizer (the seeds' Shakespeare models),
 * GPT-2's byte-level BPE through JTokkit, and {@link jllm.tokenizer.HfTokenizer} for Hugging Face
 * {@code tokenizer.json} files (GPT-2, Llama 2 and Llama 3 style BPE), all behind one
 * {@link jllm.tokenizer.Tokenizer} interface so data preparation, training and sampling do not care
 * which one a model was trained with.
 *
 * <p>{@code HfTokenizer} runs the Rust Hugging Face {@code tokenizers} library (DJL's JNI binding)
 * rather than a Java re-implementation, so ids agree with transformers' fast tokenizers by
 * construction; what jllm adds is reading {@code tokenizer_config.json} the way transformers does
 * (bos/eos, add_bos_token, chat template), {@link jllm.tokenizer.ChatTemplate} (jinjava configured
 * like transformers' Jinja environment) and {@link jllm.tokenizer.StreamDecoder} for printing
 * generated text without splitting characters.
 */
package jllm.tokenizer;
