/**
 * Gemma and Gemma 2 (transformers' modeling_gemma.py, modeling_gemma2.py) on the Llama decoder:
 * RMSNorm scaled by (1 + weight), embeddings times sqrt(hidden_size), a GeGLU MLP with the tanh
 * GELU, tied embeddings; Gemma 2 adds norms after attention and around the MLP, attention scaled
 * by query_pre_attn_scalar, soft-capped attention and output logits, and sliding-window layers
 * alternating with full ones.
 */
package jllm.models.gemma;
