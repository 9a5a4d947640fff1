/**
 * Optimizers, after {@code torch.optim}: {@link jllm.optim.AdamW}, {@link jllm.optim.Adam} and
 * {@link jllm.optim.SGD} over {@link jllm.optim.ParamGroup parameter groups}, gradient clipping
 * ({@link jllm.optim.ClipGrad}), and a state dict that saves to and loads from safetensors
 * ({@link jllm.optim.OptimizerStateDict}). The updates reproduce PyTorch's single-tensor code
 * paths and run through the parameter's backend, so they work on any device; schedules are in
 * {@link jllm.optim.lr}.
 */
package jllm.optim;
