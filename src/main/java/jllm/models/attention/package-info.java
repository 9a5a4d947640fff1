/**
 * Seed 000 ("understanding PyTorch buffers", LLMs-from-scratch ch03): the single-head causal
 * self-attention of the book in two flavours that differ only in where the causal mask lives.
 *
 * <ul>
 *   <li>{@link jllm.models.attention.CausalAttentionWithoutBuffers} keeps the mask in a plain
 *       Java field: {@code to(device)} does not move it and {@code stateDict()} does not save it.</li>
 *   <li>{@link jllm.models.attention.CausalAttentionWithBuffer} registers it with
 *       {@code registerBuffer("mask", ...)}: it moves with the module and is saved and loaded.</li>
 * </ul>
 *
 * Module and state-dict names ({@code W_query}, {@code W_key}, {@code W_value}, {@code dropout},
 * {@code mask}) are the seed's PyTorch names, so PyTorch checkpoints load unchanged.
 * {@code jllm examples buffers} walks through the seed with these classes.
 */
package jllm.models.attention;
