/**
 * The CUDA backend: device type {@code cuda}, found through {@link java.util.ServiceLoader} like the CPU
 * one, reached with the JDK's FFM API only (no JNI, no JCuda, nothing CUDA at build time).
 *
 * <ul>
 *   <li>{@link jllm.backend.cuda.NativeLibrary}: checked downcalls (every status checked, named by the
 *       library's own function, raised as {@link jllm.backend.cuda.NativeCallException} naming the call);</li>
 *   <li>{@link jllm.backend.cuda.CudaDriver} ({@code libcuda.so.1}), {@code Nvrtc} ({@code libnvrtc.so}),
 *       {@code Cublas} ({@code libcublas.so}): loaded on first use; where one is missing,
 *       {@link jllm.backend.cuda.CudaBackendProvider#isAvailable} is false and the reason names it;</li>
 *   <li>{@link jllm.backend.cuda.CachingAllocator}: PyTorch's caching allocator over a RawAllocator;</li>
 *   <li>kernels: CUDA C under {@code src/main/resources/jllm/backend/cuda/}, compiled by NVRTC for the
 *       device at first use ({@link jllm.backend.cuda.KernelSources}, {@link jllm.backend.cuda.Kernel});</li>
 *   <li>{@link jllm.backend.cuda.CudaBackend}: the {@link jllm.backend.Backend} methods.</li>
 * </ul>
 *
 * <p>Run on the host with copies (correct, slow): {@code topk}, {@code cumsum}, {@code multinomial},
 * {@code uniform}, {@code normal}. Not implemented on cuda (they throw
 * "&lt;op&gt; is not implemented on cuda"): {@code im2col}, {@code col2im}, {@code maxPool2d},
 * {@code maxPool2dBackward}, kernels on Q8_0/Q4_0 tensors, element-wise kernels over more than 8
 * non-mergeable dims, and attention over more than 12288 keys (one row's scores in 48 KiB of shared memory).
 *
 * <p><b>Status: nothing here has run on a GPU.</b> Verified without one: the downcall machinery (against
 * libc and upcall stubs), discovery and the no-GPU errors, the allocator (on off-heap memory), the launch
 * argument packing and per-launch signature checks ({@code KernelSignature}), the driver
 * function table against cuda.h, the kernel sources (nvcc -Werror to PTX, and NVRTC 13.0 to sm_90/sm_80
 * cubins through {@code Nvrtc}), the cuBLAS binding against libcublas 13.1, and CudaBackend's host side on a
 * GPU-less stand-in device (transfers, GEMM layout mapping through a column-major reference), and the
 * kernels' logic: tests compile the same sources with g++ and a CUDA shim (HostKernelEmulator, test-only)
 * behind an emulated device on which the conformance suite passes and a tiny GPT trains like on the CPU.
 * The conformance suite and {@code tools/cuda/gpu_check.sh} are ready for a GPU machine.
 */
package jllm.backend.cuda;
