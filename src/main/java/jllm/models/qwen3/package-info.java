/**
 * Qwen3 (transformers' modeling_qwen3.py): the Llama decoder with an RMSNorm over each head of q
 * and k before RoPE, attention_bias (default none), head_dim 128 by default, and Qwen's
 * sliding-window fields.
 */
package jllm.models.qwen3;
