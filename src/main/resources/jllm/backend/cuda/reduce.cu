// Reductions over a set of dims: one block per output element (grid-stride over outputs), threads
// over the reduced elements. outer: shape of the kept dims with the input's strides (s0); inner: shape
// of the reduced dims with the input's strides (s0). The output is contiguous. Empty reductions are
// handled by the host.

__device__ __forceinline__ double comb_d(int op, double a, double b) {
    switch (op) {
        case R_PROD: return a * b;
        case R_MAX: case R_ANY: return (a != a || b != b) ? JLLM_DNAN : (a > b ? a : b);
        case R_MIN: case R_ALL: return (a != a || b != b) ? JLLM_DNAN : (a < b ? a : b);
        default: return a + b;
    }
}

__device__ __forceinline__ double ident_d(int op) {
    switch (op) {
        case R_PROD: case R_ALL: return 1.0;
        case R_MAX: return -JLLM_DINF;
        case R_MIN: return JLLM_DINF;
        default: return 0.0;
    }
}

__device__ __forceinline__ i64 comb_i(int op, i64 a, i64 b) {
    switch (op) {
        case R_PROD: return a * b;
        case R_MAX: return a > b ? a : b;
        case R_MIN: return a < b ? a : b;
        default: return a + b;
    }
}

__device__ __forceinline__ i64 ident_i(int op) {
    switch (op) {
        case R_PROD: return 1;
        case R_MAX: return (i64) 0x8000000000000000ULL;
        case R_MIN: return 0x7fffffffffffffffLL;
        default: return 0;
    }
}

__device__ double block_comb_d(int op, double v, double* sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    for (int off = 16; off > 0; off >>= 1) v = comb_d(op, v, __shfl_down_sync(0xffffffffu, v, off));
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = threadIdx.x < warps ? sh[threadIdx.x] : ident_d(op);
    if (warp == 0) for (int off = 16; off > 0; off >>= 1) v = comb_d(op, v, __shfl_down_sync(0xffffffffu, v, off));
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

__device__ i64 block_comb_i(int op, i64 v, i64* sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) >> 5;
    for (int off = 16; off > 0; off >>= 1) v = comb_i(op, v, __shfl_down_sync(0xffffffffu, v, off));
    __syncthreads();
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = threadIdx.x < warps ? sh[threadIdx.x] : ident_i(op);
    if (warp == 0) for (int off = 16; off > 0; off >>= 1) v = comb_i(op, v, __shfl_down_sync(0xffffffffu, v, off));
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

extern "C" __global__ void reduce_dims(Strides outer, Strides inner, int nOut, int nIn, int op, void* out, int dtOut,
                                       const void* in, int dtIn, double correction) {
    __shared__ double shd[32];
    __shared__ i64 shi[32];
    bool intAcc = dt_integral(dtIn) && (op == R_SUM || op == R_PROD || op == R_MAX || op == R_MIN || op == R_SUMSQ);
    for (int o = blockIdx.x; o < nOut; o += gridDim.x) {
        int base, t1, t2, t3;
        offsets(outer, o, base, t1, t2, t3);
        if (intAcc) {
            i64 acc = ident_i(op == R_SUMSQ ? R_SUM : op);
            for (int r = threadIdx.x; r < nIn; r += blockDim.x) {
                int off, u1, u2, u3;
                offsets(inner, r, off, u1, u2, u3);
                i64 x = load_i(in, dtIn, base + off);
                acc = op == R_SUMSQ ? acc + x * x : comb_i(op, acc, x);
            }
            acc = block_comb_i(op == R_SUMSQ ? R_SUM : op, acc, shi);
            if (threadIdx.x == 0) store_i(out, dtOut, o, acc);
            continue;
        }
        int cop = (op == R_MEAN || op == R_VAR || op == R_SUMSQ) ? R_SUM : op;
        double acc = ident_d(cop);
        for (int r = threadIdx.x; r < nIn; r += blockDim.x) {
            int off, u1, u2, u3;
            offsets(inner, r, off, u1, u2, u3);
            double x = load_d(in, dtIn, base + off);
            if (op == R_SUMSQ) x = x * x;
            else if (op == R_ANY || op == R_ALL) x = x != 0.0 ? 1.0 : 0.0;
            acc = comb_d(cop, acc, x);
        }
        acc = block_comb_d(cop, acc, shd);
        if (op == R_MEAN) acc /= nIn;
        if (op == R_VAR) {
            double mean = acc / nIn, ss = 0.0;
            for (int r = threadIdx.x; r < nIn; r += blockDim.x) {
                int off, u1, u2, u3;
                offsets(inner, r, off, u1, u2, u3);
                double d = load_d(in, dtIn, base + off) - mean;
                ss += d * d;
            }
            ss = block_comb_d(R_SUM, ss, shd);
            double denom = nIn - correction;
            acc = ss / (denom > 0.0 ? denom : 0.0);
        }
        if (threadIdx.x == 0) store_d(out, dtOut, o, acc);
    }
}

// argmax/argmin along one dim of length n (element stride `stride`); outer holds the other dims with
// the input's strides (s0). First occurrence wins; a NaN wins over numbers (first NaN). I64 output.
extern "C" __global__ void arg_reduce(Strides outer, int nOut, int n, int stride, int isMax, i64* out, const void* in, int dtIn) {
    __shared__ double bv[256];
    __shared__ int bi[256];
    for (int o = blockIdx.x; o < nOut; o += gridDim.x) {
        int base, t1, t2, t3;
        offsets(outer, o, base, t1, t2, t3);
        double best = 0.0;
        int bestI = -1;
        for (int j = threadIdx.x; j < n; j += blockDim.x) {
            double x = load_d(in, dtIn, base + j * stride);
            bool better = bestI < 0 || (x != x && best == best) || (best == best && (isMax ? x > best : x < best));
            if (better) { best = x; bestI = j; }
        }
        bv[threadIdx.x] = best;
        bi[threadIdx.x] = bestI;
        __syncthreads();
        for (int w = blockDim.x / 2; w > 0; w >>= 1) {
            if (threadIdx.x < w) {
                double a = bv[threadIdx.x], b = bv[threadIdx.x + w];
                int ia = bi[threadIdx.x], ib = bi[threadIdx.x + w];
                bool takeB;
                if (ib < 0) takeB = false;
                else if (ia < 0) takeB = true;
                else if (a != a) takeB = (b != b) && ib < ia;
                else if (b != b) takeB = true;
                else if (a == b) takeB = ib < ia;
                else takeB = isMax ? b > a : b < a;
                if (takeB) { bv[threadIdx.x] = b; bi[threadIdx.x] = ib; }
            }
            __syncthreads();
        }
        if (threadIdx.x == 0) out[o] = bi[0];
        __syncthreads();
    }
}
