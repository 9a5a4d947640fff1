/**
 * The training loop, after nanoGPT's {@code train.py}: {@link jllm.train.TrainConfig} (nanoGPT's
 * settings, JSON and {@code key=value} overrides), {@link jllm.train.Trainer} (AdamW with
 * decay/no-decay groups, warmup + cosine learning rate, gradient accumulation and clipping,
 * periodic train/val loss estimates), {@link jllm.train.Checkpoint} (atomic checkpoint
 * directories that resume a run exactly), {@link jllm.train.BatchSource} (where batches come
 * from) and {@link jllm.train.TrainListener} (where progress goes: console, progress bar,
 * metrics log, plots). Data-parallel training plugs into the trainer's extension points
 * ({@link jllm.train.Trainer.Extensions}: the process group, the optimizer factory, the backward
 * hook); {@link jllm.train.Trainer#dataParallel} wires {@link jllm.distributed.DistributedDataParallel}
 * into them, and only rank 0 writes checkpoints and tells the listeners; with {@code zero_stage=1}
 * the optimizer state is sharded across the ranks ({@link jllm.distributed.ZeroRedundancyOptimizer}).
 */
package jllm.train;
