/**
 * The device boundary: {@link jllm.backend.Backend} is the kernel set of one device, so a new device
 * plugs in below tensor/autograd/nn without touching them.
 */
package jllm.backend;
