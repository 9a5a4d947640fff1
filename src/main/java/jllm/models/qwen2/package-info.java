/**
 * Qwen2 / Qwen2.5 (transformers' modeling_qwen2.py): the Llama decoder with biases on the q, k
 * and v projections (none on o_proj), Qwen2Config's defaults, and tied embeddings in the small
 * models. Sliding-window attention ({@code use_sliding_window}) is not implemented: a config that
 * turns it on for a window shorter than the context is refused.
 */
package jllm.models.qwen2;
