/**
 * Neural-network building blocks in PyTorch's shape: {@link jllm.nn.Module} (parameters, buffers,
 * children, state dicts, device/dtype moves, printing), the layers ({@link jllm.nn.Linear},
 * {@link jllm.nn.Conv2d}, {@link jllm.nn.LayerNorm}, ...), containers ({@link jllm.nn.Sequential},
 * {@link jllm.nn.ModuleList}, {@link jllm.nn.ModuleDict}) and weight initialisation
 * ({@link jllm.nn.Init}). Defaults and initialisation match PyTorch exactly, so a seed's PyTorch
 * model translates line by line; single-input layers implement {@link jllm.nn.UnaryModule}.
 */
package jllm.nn;
