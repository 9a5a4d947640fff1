// Index kernels. Indices are read with load_i (I64 or I32), negative ones wrap once (PyTorch), and an
// index out of range is reported through (errFlag, errValue) for the host to raise; the element is skipped.

__device__ __forceinline__ void copy_elem(void* dst, int di, const void* src, int si, int elemBytes) {
    switch (elemBytes) {
        case 1: ((u8*) dst)[di] = ((const u8*) src)[si]; break;
        case 2: ((u16*) dst)[di] = ((const u16*) src)[si]; break;
        case 4: ((unsigned*) dst)[di] = ((const unsigned*) src)[si]; break;
        default: ((u64*) dst)[di] = ((const u64*) src)[si]; break;
    }
}

__device__ __forceinline__ bool fix_index(i64& v, int bound, int* errFlag, i64* errValue) {
    if (v < -(i64) bound || v >= bound) { report_bad_index(errFlag, errValue, v); return false; }
    if (v < 0) v += bound;
    return true;
}

// out [outer, k, inner] = src [outer, n, inner] (contiguous) at idx [k]: embedding lookup is dim 0.
extern "C" __global__ void index_select(void* out, const void* src, int elemBytes, const void* idx, int dtIdx, int outer, int n, int k,
                                       int inner, int* errFlag, i64* errValue) {
    i64 total = (i64) outer * k * inner;
    for (i64 e = blockIdx.x * (i64) blockDim.x + threadIdx.x; e < total; e += (i64) gridDim.x * blockDim.x) {
        int c = (int) (e % inner);
        i64 rk = e / inner;
        int j = (int) (rk % k), o = (int) (rk / k);
        i64 v = load_i(idx, dtIdx, j);
        if (!fix_index(v, n, errFlag, errValue)) continue;
        copy_elem(out, (int) e, src, (int) (((i64) o * n + v) * inner + c), elemBytes);
    }
}

// out [outer, n, inner] (contiguous F32) += src [outer, k, inner] (contiguous F32) at idx [k].
extern "C" __global__ void index_add(float* out, const float* src, const void* idx, int dtIdx, int outer, int n, int k, int inner,
                                     int* errFlag, i64* errValue) {
    i64 total = (i64) outer * k * inner;
    for (i64 e = blockIdx.x * (i64) blockDim.x + threadIdx.x; e < total; e += (i64) gridDim.x * blockDim.x) {
        int c = (int) (e % inner);
        i64 rk = e / inner;
        int j = (int) (rk % k), o = (int) (rk / k);
        i64 v = load_i(idx, dtIdx, j);
        if (!fix_index(v, n, errFlag, errValue)) continue;
        atomicAdd(out + ((i64) o * n + v) * inner + c, src[e]);
    }
}

// out (contiguous, index's shape) = src[.., idx, ..] along dim: s.shape = index shape, s0 = src strides, s1 = index strides.
extern "C" __global__ void gather_dim(Strides s, int n, int dim, int bound, void* out, const void* src, int elemBytes, const void* idx,
                                      int dtIdx, int* errFlag, i64* errValue) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int rem = i, so = 0, io = 0;
        for (int d = s.ndim - 1; d >= 0; --d) {
            int c = rem % s.shape[d];
            rem /= s.shape[d];
            io += c * s.s1[d];
            if (d != dim) so += c * s.s0[d];
        }
        i64 v = load_i(idx, dtIdx, io);
        if (!fix_index(v, bound, errFlag, errValue)) continue;
        copy_elem(out, i, src, so + (int) v * s.s0[dim], elemBytes);
    }
}

// out (contiguous F32, zeroed) += src at idx along dim: s.shape = index shape, s0 = out strides, s1 = index strides, s2 = src strides.
extern "C" __global__ void scatter_add_dim(Strides s, int n, int dim, int bound, float* out, const float* src, const void* idx, int dtIdx,
                                           int* errFlag, i64* errValue) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        int rem = i, oo = 0, io = 0, so = 0;
        for (int d = s.ndim - 1; d >= 0; --d) {
            int c = rem % s.shape[d];
            rem /= s.shape[d];
            io += c * s.s1[d];
            so += c * s.s2[d];
            if (d != dim) oo += c * s.s0[d];
        }
        i64 v = load_i(idx, dtIdx, io);
        if (!fix_index(v, bound, errFlag, errValue)) continue;
        atomicAdd(out + oo + (int) v * s.s0[dim], src[so]);
    }
}
