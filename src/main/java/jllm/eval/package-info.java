/**
 * Evaluating a language model on text: {@link jllm.eval.Perplexity} (fixed-length windows with an
 * optional sliding stride, as Hugging Face's perplexity guide and llama.cpp's llama-perplexity
 * measure it), used by {@code jllm eval}.
 */
package jllm.eval;
