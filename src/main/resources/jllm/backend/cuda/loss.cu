// Cross-entropy over contiguous F32 logits [N, V] with integer targets (I64/I32/... read through
// load_i), PyTorch's ignore_index and label_smoothing: one block per row. A target outside [0, V)
// that is not ignoreIndex is reported through (errFlag, errValue) for the host to raise.

extern "C" __global__ void cross_entropy_fwd(const float* x, const void* targets, int dtT, float* loss, float* lse, int N, int V,
                                             i64 ignoreIndex, float smoothing, int* errFlag, i64* errValue) {
    __shared__ float red[32];
    for (int r = blockIdx.x; r < N; r += gridDim.x) {
        i64 t = load_i(targets, dtT, r);
        if (t == ignoreIndex) {
            if (threadIdx.x == 0) { loss[r] = 0.0f; lse[r] = 0.0f; }
            continue;
        }
        if (t < 0 || t >= V) {
            if (threadIdx.x == 0) { report_bad_index(errFlag, errValue, t); loss[r] = JLLM_NAN; lse[r] = JLLM_NAN; }
            continue;
        }
        const float* xr = x + (i64) r * V;
        float m = -JLLM_INF;
        for (int c = threadIdx.x; c < V; c += blockDim.x) m = fmaxf(m, xr[c]);
        m = block_max_f(m, red);
        float s = 0.0f, sx = 0.0f;
        for (int c = threadIdx.x; c < V; c += blockDim.x) { s += expf(xr[c] - m); sx += xr[c]; }
        s = block_sum_f(s, red);
        sx = block_sum_f(sx, red);
        if (threadIdx.x == 0) {
            float l = m + logf(s);
            float nll = l - xr[t];
            float v = smoothing != 0.0f ? (1.0f - smoothing) * nll + smoothing * (l - sx / V) : nll;
            loss[r] = v;
            lse[r] = l;
        }
    }
}

// dlogits = g[r] * (softmax - (1-eps) * onehot(t) - eps/V); zero rows for ignored targets.
// g is read at r * gStride (gStride 0 broadcasts one scalar).
extern "C" __global__ void cross_entropy_bwd(const float* x, const void* targets, int dtT, const float* lse, const float* g, int gStride,
                                             float* dx, int N, int V, i64 ignoreIndex, float smoothing, int* errFlag, i64* errValue) {
    for (int r = blockIdx.x; r < N; r += gridDim.x) {
        i64 t = load_i(targets, dtT, r);
        const float* xr = x + (i64) r * V;
        float* dr = dx + (i64) r * V;
        if (t == ignoreIndex) {
            for (int c = threadIdx.x; c < V; c += blockDim.x) dr[c] = 0.0f;
            continue;
        }
        if (t < 0 || t >= V) {
            if (threadIdx.x == 0) report_bad_index(errFlag, errValue, t);
            for (int c = threadIdx.x; c < V; c += blockDim.x) dr[c] = JLLM_NAN;
            continue;
        }
        float gr = g[(i64) r * gStride], l = lse[r], off = smoothing / V;
        for (int c = threadIdx.x; c < V; c += blockDim.x) {
            float p = expf(xr[c] - l) - off;
            if (c == t) p -= 1.0f - smoothing;
            dr[c] = p * gr;
        }
    }
}
