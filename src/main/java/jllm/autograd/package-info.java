/**
 * Define-by-run reverse-mode autograd. Tensor ops record {@link jllm.autograd.Node}s whose backward
 * functions are written with public tensor ops, so the engine works on any device.
 */
package jllm.autograd;
