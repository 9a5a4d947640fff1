/**
 * Qwen2 / Qwen2.5 (transformers' modeling_qwen2.py): the Llama decoder with biases on the q, k
 * and v projections (none on o_proj), Qwen2Config's defaults, and tied embeddings in the small
 * models, and sliding-window attention on the layers {@code use_sliding_window} and
 * {@code layer_types} choose. Qwen3 (per-head q/k RMSNorm, no q/k/v bias) is {@code jllm.models.qwen3}.
 */
package jllm.models.qwen2;
