/**
 * Mistral (transformers' modeling_mistral.py): the Llama decoder without biases, with
 * sliding-window attention on every layer when {@code sliding_window} is set.
 */
package jllm.models.mistral;
