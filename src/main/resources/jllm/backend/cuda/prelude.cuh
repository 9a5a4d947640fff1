// jllm CUDA prelude: prepended (after the generated op-code #defines) to every kernel source.
// NVRTC has no standard headers, so nothing is #included; everything used is defined here or is a
// CUDA built-in (threadIdx, __shfl_down_sync, atomicAdd, expf, erff, ...).
typedef long long i64;
typedef unsigned long long u64;
typedef unsigned char u8;
typedef unsigned short u16;

#define JLLM_MAXDIM 8
#define JLLM_INF (__int_as_float(0x7f800000))
#define JLLM_NAN (__int_as_float(0x7fc00000))
#define JLLM_DINF (__longlong_as_double(0x7ff0000000000000LL))
#define JLLM_DNAN (__longlong_as_double(0x7ff8000000000000LL))

// Shape and up to four operands' element strides (operand 0 is usually the output). Passed by value.
struct Strides {
    int ndim;
    int shape[JLLM_MAXDIM];
    int s0[JLLM_MAXDIM];
    int s1[JLLM_MAXDIM];
    int s2[JLLM_MAXDIM];
    int s3[JLLM_MAXDIM];
};

// Element offsets of linear index i (row-major over shape) for the four operands.
__device__ __forceinline__ void offsets(const Strides& s, int i, int& o0, int& o1, int& o2, int& o3) {
    o0 = 0; o1 = 0; o2 = 0; o3 = 0;
    for (int d = s.ndim - 1; d >= 0; --d) {
        int n = s.shape[d];
        int c = i % n;
        i /= n;
        o0 += c * s.s0[d];
        o1 += c * s.s1[d];
        o2 += c * s.s2[d];
        o3 += c * s.s3[d];
    }
}

// ---- half / bfloat16 bit conversions (no cuda_fp16.h under NVRTC) ----
#ifndef JLLM_HOST_EMULATION
__device__ __forceinline__ float f16_to_float(u16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ u16 float_to_f16(float f) {
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
#else
// only for the tests' host emulation of these kernels (a C++ compiler has no PTX): the compiler's _Float16
__device__ __forceinline__ float f16_to_float(u16 h) { _Float16 x; __builtin_memcpy(&x, &h, 2); return (float) x; }
__device__ __forceinline__ u16 float_to_f16(float f) { _Float16 x = (_Float16) f; u16 h; __builtin_memcpy(&h, &x, 2); return h; }
#endif
__device__ __forceinline__ float bf16_to_float(u16 h) { return __uint_as_float(((unsigned) h) << 16); }
__device__ __forceinline__ u16 float_to_bf16(float f) {
    if (f != f) return (u16) 0x7FC0;
    unsigned u = __float_as_uint(f);
    u += 0x7FFFu + ((u >> 16) & 1u);   // round to nearest even, as jllm.tensor.Float16.floatToBf16
    return (u16) (u >> 16);
}

// ---- element access by dtype code (DT_* from jllm.tensor.DType, generated) ----
__device__ __forceinline__ bool dt_integral(int dt) { return dt == DT_I64 || dt == DT_I32 || dt == DT_U8 || dt == DT_BOOL; }

__device__ __forceinline__ double load_d(const void* p, int dt, int i) {
    switch (dt) {
        case DT_F32: return ((const float*) p)[i];
        case DT_F64: return ((const double*) p)[i];
        case DT_F16: return f16_to_float(((const u16*) p)[i]);
        case DT_BF16: return bf16_to_float(((const u16*) p)[i]);
        case DT_I64: return (double) ((const i64*) p)[i];
        case DT_I32: return ((const int*) p)[i];
        case DT_U8: return ((const u8*) p)[i];
        case DT_BOOL: return ((const u8*) p)[i] != 0 ? 1.0 : 0.0;
        default: return JLLM_DNAN;
    }
}

__device__ __forceinline__ i64 load_i(const void* p, int dt, int i) {
    switch (dt) {
        case DT_I64: return ((const i64*) p)[i];
        case DT_I32: return ((const int*) p)[i];
        case DT_U8: return ((const u8*) p)[i];
        case DT_BOOL: return ((const u8*) p)[i] != 0 ? 1 : 0;
        default: return (i64) load_d(p, dt, i);
    }
}

// Stores with PyTorch's cast semantics (float to integer truncates toward zero, to bool is != 0).
__device__ __forceinline__ void store_d(void* p, int dt, int i, double v) {
    switch (dt) {
        case DT_F32: ((float*) p)[i] = (float) v; break;
        case DT_F64: ((double*) p)[i] = v; break;
        case DT_F16: ((u16*) p)[i] = float_to_f16((float) v); break;
        case DT_BF16: ((u16*) p)[i] = float_to_bf16((float) v); break;
        case DT_I64: ((i64*) p)[i] = (i64) v; break;
        case DT_I32: ((int*) p)[i] = (int) (i64) v; break;
        case DT_U8: ((u8*) p)[i] = (u8) (i64) v; break;
        case DT_BOOL: ((u8*) p)[i] = v != 0.0 ? 1 : 0; break;
        default: break;
    }
}

__device__ __forceinline__ void store_i(void* p, int dt, int i, i64 v) {
    switch (dt) {
        case DT_I64: ((i64*) p)[i] = v; break;
        case DT_I32: ((int*) p)[i] = (int) v; break;
        case DT_U8: ((u8*) p)[i] = (u8) v; break;
        case DT_BOOL: ((u8*) p)[i] = v != 0 ? 1 : 0; break;
        default: store_d(p, dt, i, (double) v); break;
    }
}

// ---- block-wide reductions (blockDim.x a multiple of 32, at most 1024; sh holds 32 values) ----
#define RED_ADD 0
#define RED_MAXV 1
#define RED_MINV 2

__device__ __forceinline__ double red_apply(int how, double a, double b) {
    if (how == RED_ADD) return a + b;
    if (a != a || b != b) return JLLM_DNAN;
    if (how == RED_MAXV) return a > b ? a : b;
    return a < b ? a : b;
}

__device__ __forceinline__ double warp_reduce(int how, double v) {
    for (int off = 16; off > 0; off >>= 1) v = red_apply(how, v, __shfl_down_sync(0xffffffffu, v, off));
    return v;
}

// Every thread of the block gets the result.
__device__ double block_reduce(int how, double v, double* sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_reduce(how, v);
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    double identity = how == RED_ADD ? 0.0 : (how == RED_MAXV ? -JLLM_DINF : JLLM_DINF);
    v = threadIdx.x < warps ? sh[threadIdx.x] : identity;
    if (warp == 0) v = warp_reduce(how, v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

__device__ __forceinline__ float warp_sum_f(float v) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
    return v;
}

__device__ __forceinline__ float warp_max_f(float v) {
    for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_down_sync(0xffffffffu, v, off));
    return v;
}

// Float block sum/max; every thread gets the result (sh holds 32 floats).
__device__ float block_sum_f(float v, float* sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_sum_f(v);
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = threadIdx.x < warps ? sh[threadIdx.x] : 0.0f;
    if (warp == 0) v = warp_sum_f(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

__device__ float block_max_f(float v, float* sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    v = warp_max_f(v);
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = threadIdx.x < warps ? sh[threadIdx.x] : -JLLM_INF;
    if (warp == 0) v = warp_max_f(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

// Records the first bad index seen (flag[0] = 1, value in *value) for the host to raise.
__device__ __forceinline__ void report_bad_index(int* flag, i64* value, i64 v) {
    if (atomicCAS(flag, 0, 1) == 0) *value = v;
}
