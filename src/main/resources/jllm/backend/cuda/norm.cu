// LayerNorm and RMSNorm over the last dim of contiguous F32 rows [R, C]: one block per row for the
// row-wise parts; weight/bias gradients are column sums accumulated with atomicAdd into zeroed outputs
// (grid.x over column tiles, grid.y over row chunks). A null weight/bias is passed as 0.

extern "C" __global__ void layernorm_fwd(const float* x, const float* w, const float* b, float* y, float* mean, float* rstd,
                                         int R, int C, float eps) {
    __shared__ float red[32];
    for (int r = blockIdx.x; r < R; r += gridDim.x) {
        const float* xr = x + (i64) r * C;
        float* yr = y + (i64) r * C;
        float s = 0.0f;
        for (int c = threadIdx.x; c < C; c += blockDim.x) s += xr[c];
        float mu = block_sum_f(s, red) / C;
        float v = 0.0f;
        for (int c = threadIdx.x; c < C; c += blockDim.x) { float d = xr[c] - mu; v += d * d; }
        float rs = 1.0f / sqrtf(block_sum_f(v, red) / C + eps);
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            float o = (xr[c] - mu) * rs;
            if (w) o *= w[c];
            if (b) o += b[c];
            yr[c] = o;
        }
        if (threadIdx.x == 0) { mean[r] = mu; rstd[r] = rs; }
    }
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), g = dy * w, xhat = (x - mean) * rstd.
extern "C" __global__ void layernorm_bwd_dx(const float* dy, const float* x, const float* w, const float* mean, const float* rstd,
                                            float* dx, int R, int C) {
    __shared__ float red[32];
    for (int r = blockIdx.x; r < R; r += gridDim.x) {
        const float* xr = x + (i64) r * C;
        const float* gr = dy + (i64) r * C;
        float* dr = dx + (i64) r * C;
        float mu = mean[r], rs = rstd[r];
        float sg = 0.0f, sgx = 0.0f;
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            float g = w ? gr[c] * w[c] : gr[c];
            sg += g;
            sgx += g * (xr[c] - mu) * rs;
        }
        sg = block_sum_f(sg, red) / C;
        sgx = block_sum_f(sgx, red) / C;
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            float g = w ? gr[c] * w[c] : gr[c];
            dr[c] = rs * (g - sg - (xr[c] - mu) * rs * sgx);
        }
    }
}

// dw[c] += sum_r dy * xhat, db[c] += sum_r dy over this block's row chunk (either may be 0).
// For RMSNorm pass mean = 0 (xhat = x * rstd).
extern "C" __global__ void norm_bwd_params(const float* dy, const float* x, const float* mean, const float* rstd, float* dw, float* db,
                                           int R, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    int chunk = (R + gridDim.y - 1) / gridDim.y;
    int r0 = blockIdx.y * chunk, r1 = min(R, r0 + chunk);
    float aw = 0.0f, ab = 0.0f;
    for (int r = r0; r < r1; r++) {
        float g = dy[(i64) r * C + c];
        float mu = mean ? mean[r] : 0.0f;
        aw += g * (x[(i64) r * C + c] - mu) * rstd[r];
        ab += g;
    }
    if (r0 < r1) {
        if (dw) atomicAdd(dw + c, aw);
        if (db) atomicAdd(db + c, ab);
    }
}

extern "C" __global__ void rmsnorm_fwd(const float* x, const float* w, float* y, float* rstd, int R, int C, float eps) {
    __shared__ float red[32];
    for (int r = blockIdx.x; r < R; r += gridDim.x) {
        const float* xr = x + (i64) r * C;
        float* yr = y + (i64) r * C;
        float s = 0.0f;
        for (int c = threadIdx.x; c < C; c += blockDim.x) s += xr[c] * xr[c];
        float rs = 1.0f / sqrtf(block_sum_f(s, red) / C + eps);
        for (int c = threadIdx.x; c < C; c += blockDim.x) yr[c] = w ? xr[c] * rs * w[c] : xr[c] * rs;
        if (threadIdx.x == 0) rstd[r] = rs;
    }
}

// dx = rstd * (g - xhat * mean(g * xhat)), g = dy * w, xhat = x * rstd.
extern "C" __global__ void rmsnorm_bwd_dx(const float* dy, const float* x, const float* w, const float* rstd, float* dx, int R, int C) {
    __shared__ float red[32];
    for (int r = blockIdx.x; r < R; r += gridDim.x) {
        const float* xr = x + (i64) r * C;
        const float* gr = dy + (i64) r * C;
        float* dr = dx + (i64) r * C;
        float rs = rstd[r];
        float sgx = 0.0f;
        for (int c = threadIdx.x; c < C; c += blockDim.x) sgx += (w ? gr[c] * w[c] : gr[c]) * xr[c] * rs;
        sgx = block_sum_f(sgx, red) / C;
        for (int c = threadIdx.x; c < C; c += blockDim.x) {
            float g = w ? gr[c] * w[c] : gr[c];
            dr[c] = rs * (g - xr[c] * rs * sgx);
        }
    }
}
