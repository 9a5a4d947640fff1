/**
 * Data-parallel training across processes and machines, on Open MPI: {@link jllm.distributed.ProcessGroup}
 * (collectives with deadlines, made from the environment mpirun sets; a world of one without it),
 * its MPI implementation (FFM downcalls to {@code libmpi.so.40}, one communication thread that
 * polls non-blocking collectives), and {@link jllm.distributed.DistributedDataParallel}, which
 * averages gradients in buckets while backward runs.
 */
package jllm.distributed;
