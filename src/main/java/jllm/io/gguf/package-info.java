/**
 * GGUF, llama.cpp's single-file model format: a header of typed metadata key/values and tensor
 * infos, then aligned tensor data in ggml's types (float and block-quantized). {@link
 * jllm.io.gguf.GgufFile} maps and validates a file, {@link jllm.io.gguf.GgufWriter} writes one
 * atomically, and {@link jllm.io.gguf.GgufModel} presents a Llama GGUF as a Hugging Face model
 * (config.json, transformers' tensor names and layout, a tokenizer.json built from the metadata),
 * so every model loader and command of jllm takes a .gguf file where it takes a model directory.
 */
package jllm.io.gguf;
