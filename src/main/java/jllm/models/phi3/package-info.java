/**
 * Phi-3 (transformers' modeling_phi3.py): the Llama decoder with q, k and v fused in qkv_proj and
 * gate and up fused in gate_up_proj (LoRA adapts the fused layers, as PEFT names them), and a
 * sliding window on every layer when {@code sliding_window} is set. partial_rotary_factor other
 * than 1 and the longrope RoPE of the 128k models are refused.
 */
package jllm.models.phi3;
