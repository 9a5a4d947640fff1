/** CPU kernels: Vector API, no per-element allocation; row-range entry points so callers can parallelise. */
package jllm.backend.cpu;
