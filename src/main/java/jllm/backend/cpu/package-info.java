/**
 * CPU kernels. They share one worker pool ({@link jllm.backend.cpu.Parallel}) so that kernels
 * never oversubscribe the cores or nest parallel loops, and they use {@code static final}
 * Vector API species because a non-constant species defeats C2's intrinsics (~20x slower).
 */
package jllm.backend.cpu;
