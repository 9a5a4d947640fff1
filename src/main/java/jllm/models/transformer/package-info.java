/**
 * Seed 001: the encoder-decoder Transformer of happy-llm (Datawhale, chapter 2), translated line by
 * line from the seed's PyTorch code.
 *
 * <p>{@link jllm.models.transformer.Transformer} embeds tokens ({@code wte}), adds the sinusoidal
 * {@link jllm.models.transformer.PositionalEncoding} (a registered buffer {@code pe}), runs the
 * {@link jllm.models.transformer.Encoder} and then the {@link jllm.models.transformer.Decoder}
 * (masked self-attention, cross-attention over the encoder output, MLP), and projects with
 * {@code lm_head}. With targets it returns logits [B, T, V] and the cross-entropy loss
 * (ignore index -1); without, logits of the last position only, [B, 1, V].
 *
 * <p>Module names are the seed's, so {@code stateDict()} keys equal PyTorch's
 * ({@code transformer.decoder.layers.0.mask_attention.wq.weight}, {@code transformer.wpe.pe}).
 * {@link jllm.models.transformer.LayerNorm} is the seed's own normalisation,
 * {@code a_2 * (x - mean) / (std + eps) + b_2} with the unbiased std; it is not
 * {@link jllm.nn.LayerNorm}. {@code jllm examples transformer} runs the seed's demo.
 */
package jllm.models.transformer;
