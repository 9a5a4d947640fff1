// Softmax / log-softmax over the last dim of contiguous F32 rows [R, C]: one block per row.

extern "C" __global__ void softmax_fwd(const float* x, float* y, int R, int C, int logMode) {
    __shared__ float red[32];
    for (int r = blockIdx.x; r < R; r += gridDim.x) {
        const float* xr = x + (i64) r * C;
        float* yr = y + (i64) r * C;
        float m = -JLLM_INF;
        for (int c = threadIdx.x; c < C; c += blockDim.x) m = fmaxf(m, xr[c]);
        m = block_max_f(m, red);
        float s = 0.0f;
        for (int c = threadIdx.x; c < C; c += blockDim.x) s += expf(xr[c] - m);
        s = block_sum_f(s, red);
        if (logMode) {
            float l = m + logf(s);
            for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c] = xr[c] - l;
        } else {
            float inv = 1.0f / s;
            for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c] = expf(xr[c] - m) * inv;
        }
    }
}

// softmax: dx = y * (dy - sum(dy * y)); log-softmax: dx = dy - exp(y) * sum(dy).
extern "C" __global__ void softmax_bwd(const float* y, const float* dy, float* dx, int R, int C, int logMode) {
    __shared__ float red[32];
    for (int r = blockIdx.x; r < R; r += gridDim.x) {
        const float* yr = y + (i64) r * C;
        const float* gr = dy + (i64) r * C;
        float* dr = dx + (i64) r * C;
        float s = 0.0f;
        for (int c = threadIdx.x; c < C; c += blockDim.x) s += logMode ? gr[c] : gr[c] * yr[c];
        s = block_sum_f(s, red);
        for (int c = threadIdx.x; c < C; c += blockDim.x) dr[c] = logMode ? gr[c] - expf(yr[c]) * s : yr[c] * (gr[c] - s);
    }
}
