/**
 * Benchmarks behind {@code jllm bench}. OpenBLAS is bound here, and only here, as a yardstick
 * measured in the same run and on the same threads, because absolute GFLOP/s on a shared
 * machine mean little on their own.
 */
package jllm.bench;
