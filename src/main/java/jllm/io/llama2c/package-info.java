/**
 * Karpathy's llama2.c files: model checkpoints ({@code .bin}, the legacy version-0 layout and the
 * version-1 fp32 layout with an {@code ak42} header) and {@code tokenizer.bin}, read by mmap and
 * fully size-checked, plus their conversion to a Hugging Face Llama directory. This package sits in
 * the io layer, so it knows file formats and key names but nothing of {@code jllm.models}.
 */
package jllm.io.llama2c;
