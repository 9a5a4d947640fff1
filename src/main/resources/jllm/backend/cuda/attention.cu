// Exact scaled-dot-product attention, the simple way (not FlashAttention): one block per query row,
// the row's scores in dynamic shared memory (Tk floats). q [B,H,Tq,D], k/v [B,Hkv,Tk,D|Dv] (GQA: query
// head h reads kv head h / (H/Hkv)), any strides (S4: element strides of dims b, h, t, d); additive
// F32 mask broadcast to [B,H,Tq,Tk] through its strides (mask 0 when absent); causal is top-left
// aligned (query i sees keys j <= i), as the CPU backend.

struct S4 { int b, h, t, d; };

extern "C" __global__ void attention_fwd(const float* q, S4 qs, const float* k, S4 ks, const float* v, S4 vs, float* out, S4 os,
                                         const float* mask, S4 ms, float* lse, int H, int Hkv, int Tq, int Tk, int D, int Dv,
                                         float scale, int causal) {
    extern __shared__ float sc[];
    __shared__ float red[32];
    int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int hk = h / (H / Hkv);
    const float* qi = q + (i64) b * qs.b + (i64) h * qs.h + (i64) i * qs.t;
    const float* kb = k + (i64) b * ks.b + (i64) hk * ks.h;
    const float* vb = v + (i64) b * vs.b + (i64) hk * vs.h;
    float* oi = out + (i64) b * os.b + (i64) h * os.h + (i64) i * os.t;
    int jEnd = causal ? min(Tk, i + 1) : Tk;
    float mx = -JLLM_INF;
    for (int j = threadIdx.x; j < jEnd; j += blockDim.x) {
        const float* kj = kb + (i64) j * ks.t;
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += qi[d * qs.d] * kj[d * ks.d];
        s *= scale;
        if (mask) s += mask[(i64) b * ms.b + (i64) h * ms.h + (i64) i * ms.t + (i64) j * ms.d];
        sc[j] = s;
        mx = fmaxf(mx, s);
    }
    mx = block_max_f(mx, red);
    i64 li = ((i64) b * H + h) * Tq + i;
    if (mx == -JLLM_INF || jEnd == 0) {
        for (int d = threadIdx.x; d < Dv; d += blockDim.x) oi[d * os.d] = 0.0f;
        if (threadIdx.x == 0) lse[li] = -JLLM_INF;
        return;
    }
    float sum = 0.0f;
    for (int j = threadIdx.x; j < jEnd; j += blockDim.x) {
        float p = expf(sc[j] - mx);
        sc[j] = p;
        sum += p;
    }
    sum = block_sum_f(sum, red); // its barriers also publish sc[]
    float inv = 1.0f / sum;
    for (int d = threadIdx.x; d < Dv; d += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j < jEnd; j++) acc += sc[j] * vb[(i64) j * vs.t + d * vs.d];
        oi[d * os.d] = acc * inv;
    }
    if (threadIdx.x == 0) lse[li] = mx + logf(sum);
}

// Backward, pass 1 (one block per query row): P = exp(s - lse), dS = P * (dout.v_j - dout.out_i);
// writes dq (contiguous [B,H,Tq,D]) and the rows of P and dS (contiguous [B,H,Tq,Tk], zero past the
// causal limit) for pass 2.
extern "C" __global__ void attention_bwd_q(const float* q, S4 qs, const float* k, S4 ks, const float* v, S4 vs, const float* out, S4 os,
                                           const float* dout, S4 gs, const float* mask, S4 ms, const float* lse, float* dq, float* P,
                                           float* dS, int H, int Hkv, int Tq, int Tk, int D, int Dv, float scale, int causal) {
    extern __shared__ float sc[];
    __shared__ float red[32];
    int i = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
    int hk = h / (H / Hkv);
    const float* qi = q + (i64) b * qs.b + (i64) h * qs.h + (i64) i * qs.t;
    const float* oi = out + (i64) b * os.b + (i64) h * os.h + (i64) i * os.t;
    const float* gi = dout + (i64) b * gs.b + (i64) h * gs.h + (i64) i * gs.t;
    const float* kb = k + (i64) b * ks.b + (i64) hk * ks.h;
    const float* vb = v + (i64) b * vs.b + (i64) hk * vs.h;
    i64 row = ((i64) b * H + h) * Tq + i;
    float* Pr = P + row * Tk;
    float* dSr = dS + row * Tk;
    float* dqi = dq + row * D;
    float l = lse[row];
    int jEnd = causal ? min(Tk, i + 1) : Tk;
    if (l == -JLLM_INF || jEnd == 0) {
        for (int j = threadIdx.x; j < Tk; j += blockDim.x) { Pr[j] = 0.0f; dSr[j] = 0.0f; }
        for (int d = threadIdx.x; d < D; d += blockDim.x) dqi[d] = 0.0f;
        return;
    }
    float di = 0.0f;
    for (int d = threadIdx.x; d < Dv; d += blockDim.x) di += gi[d * gs.d] * oi[d * os.d];
    di = block_sum_f(di, red);
    for (int j = threadIdx.x; j < Tk; j += blockDim.x) {
        if (j >= jEnd) { Pr[j] = 0.0f; dSr[j] = 0.0f; sc[j] = 0.0f; continue; }
        const float* kj = kb + (i64) j * ks.t;
        const float* vj = vb + (i64) j * vs.t;
        float s = 0.0f;
        for (int d = 0; d < D; d++) s += qi[d * qs.d] * kj[d * ks.d];
        s *= scale;
        if (mask) s += mask[(i64) b * ms.b + (i64) h * ms.h + (i64) i * ms.t + (i64) j * ms.d];
        float p = expf(s - l);
        float dp = 0.0f;
        for (int d = 0; d < Dv; d++) dp += gi[d * gs.d] * vj[d * vs.d];
        float ds = p * (dp - di);
        Pr[j] = p;
        dSr[j] = ds;
        sc[j] = ds;
    }
    __syncthreads();
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.0f;
        for (int j = 0; j < jEnd; j++) acc += sc[j] * kb[(i64) j * ks.t + d * ks.d];
        dqi[d] = acc * scale;
    }
}

// Backward, pass 2 (one block per key row j of kv head hk): dk_j = scale * sum_{h in group, i} dS[h,i,j] q[h,i];
// dv_j = sum_{h in group, i} P[h,i,j] dout[h,i]. dk [B,Hkv,Tk,D], dv [B,Hkv,Tk,Dv] contiguous.
extern "C" __global__ void attention_bwd_kv(const float* q, S4 qs, const float* dout, S4 gs, const float* P, const float* dS, float* dk,
                                            float* dv, int H, int Hkv, int Tq, int Tk, int D, int Dv, float scale, int causal) {
    int j = blockIdx.x, hk = blockIdx.y, b = blockIdx.z;
    int G = H / Hkv;
    int i0 = causal ? j : 0;
    i64 kvRow = ((i64) b * Hkv + hk) * Tk + j;
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float acc = 0.0f;
        for (int h = hk * G; h < (hk + 1) * G; h++) {
            const float* qb = q + (i64) b * qs.b + (i64) h * qs.h + d * qs.d;
            const float* dSb = dS + ((i64) b * H + h) * Tq * Tk + j;
            for (int i = i0; i < Tq; i++) acc += dSb[(i64) i * Tk] * qb[(i64) i * qs.t];
        }
        dk[kvRow * D + d] = acc * scale;
    }
    for (int d = threadIdx.x; d < Dv; d += blockDim.x) {
        float acc = 0.0f;
        for (int h = hk * G; h < (hk + 1) * G; h++) {
            const float* gb = dout + (i64) b * gs.b + (i64) h * gs.h + d * gs.d;
            const float* Pb = P + ((i64) b * H + h) * Tq * Tk + j;
            for (int i = i0; i < Tq; i++) acc += Pb[(i64) i * Tk] * gb[(i64) i * gs.t];
        }
        dv[kvRow * Dv + d] = acc;
    }
}
