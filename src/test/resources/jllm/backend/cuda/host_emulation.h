// Test-only: lets g++ compile jllm's CUDA kernels for the host, so the conformance suite can run the real
// kernel sources without a GPU (HostKernelEmulator). Each CUDA thread of a block is an OS thread;
// __syncthreads is a block barrier; warp shuffles go through a per-warp buffer and barrier; blocks run one
// after another, so function-scope __shared__ arrays are plain statics. Only what jllm's kernels use.
#pragma once
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstring>

#define JLLM_HOST_EMULATION 1
#define __global__
#define __device__ static inline
#define __forceinline__
#define __restrict__ __restrict
#define __shared__ static

struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x, y, z; };
extern thread_local uint3 threadIdx;
extern thread_local uint3 blockIdx;
extern thread_local dim3 blockDim;
extern thread_local dim3 gridDim;
extern thread_local std::barrier<>* jllm_block_barrier;
extern thread_local std::barrier<>* jllm_warp_barrier;
extern thread_local unsigned long long* jllm_warp_buffer; // 32 slots of this thread's warp
extern void* jllm_dynamic_shared;

static inline void __syncthreads() { jllm_block_barrier->arrive_and_wait(); }

template <typename T>
static inline T __shfl_down_sync(unsigned, T v, int off) {
    unsigned lane = threadIdx.x & 31;
    unsigned long long bits = 0;
    std::memcpy(&bits, &v, sizeof(T));
    jllm_warp_buffer[lane] = bits;
    jllm_warp_barrier->arrive_and_wait();
    T r = v;
    if (lane + off < 32) std::memcpy(&r, &jllm_warp_buffer[lane + off], sizeof(T));
    jllm_warp_barrier->arrive_and_wait();
    return r;
}

static inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
static inline int atomicCAS(int* p, int expected, int desired) {
    std::atomic_ref<int>(*p).compare_exchange_strong(expected, desired);
    return expected;
}

static inline float __int_as_float(int i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline float __uint_as_float(unsigned i) { float f; std::memcpy(&f, &i, 4); return f; }
static inline unsigned __float_as_uint(float f) { unsigned i; std::memcpy(&i, &f, 4); return i; }
static inline double __longlong_as_double(long long i) { double d; std::memcpy(&d, &i, 8); return d; }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
