/**
 * Hugging Face model directories: {@code config.json} plus {@code model.safetensors} or shards
 * listed in {@code model.safetensors.index.json}, read through the memory-mapped safetensors
 * reader and written atomically; and resolving a model reference (a path, or {@code org/name} in
 * the local Hugging Face hub cache, never the network). This layer knows nothing of models: it
 * hands out the config JSON and tensors by their Hugging Face key names.
 */
package jllm.io.hf;
