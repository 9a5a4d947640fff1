/** {@code torch.nn.functional} in Java: stateless ops, with fused kernels for the hot ones. */
package jllm.nn.functional;
