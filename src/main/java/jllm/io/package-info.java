/**
 * safetensors, the native checkpoint format: files are memory-mapped and fully validated
 * before any byte is trusted (a bad header is an exception naming the file and key, never a
 * crash), and written atomically so a crash mid-save leaves the previous checkpoint intact.
 * {@link jllm.io.TensorIO} converts between files and {@link jllm.tensor.Tensor}s.
 */
package jllm.io;
