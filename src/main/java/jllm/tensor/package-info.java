/**
 * Tensors: strided views over device storage with PyTorch's semantics (broadcasting, type
 * promotion, error messages), creation and random ops, and the op surface that records autograd
 * nodes. Kernels live below, in {@code jllm.backend}.
 */
package jllm.tensor;
