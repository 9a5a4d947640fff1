/**
 * Learning-rate schedules that set an {@link jllm.optim.Optimizer}'s group lrs step by step,
 * after {@code torch.optim.lr_scheduler}: {@link jllm.optim.lr.ConstantLR},
 * {@link jllm.optim.lr.LambdaLR}, {@link jllm.optim.lr.LinearWarmup} and nanoGPT's
 * {@link jllm.optim.lr.WarmupCosine}.
 */
package jllm.optim.lr;
