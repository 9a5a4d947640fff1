/**
 * Data-parallel training across processes and machines, on Open MPI: {@link jllm.distributed.ProcessGroup}
 * (collectives with deadlines, made from the environment mpirun sets; a world of one without it),
 * its MPI implementation (FFM downcalls to {@code libmpi.so.40}, one communication thread that
 * polls non-blocking collectives), {@link jllm.distributed.DistributedDataParallel}, which
 * averages gradients in buckets while backward runs, and {@link jllm.distributed.ZeroRedundancyOptimizer}
 * (ZeRO stage 1), which shards the optimizer state across the ranks.
 */
package jllm.distributed;
