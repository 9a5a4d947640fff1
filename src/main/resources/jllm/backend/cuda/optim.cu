// Optimizer updates in place on contiguous F32 tensors, following jllm.backend.cpu.OptimKernels
// (torch.optim semantics) operation for operation.

// AdamW: p *= 1 - lr*wd; m = lerp(m, g, 1-beta1); v = beta2*v + (1-beta2)*g*g;
// p += -(lr/bc1) * m / (sqrt(v)/sqrt(bc2) + eps).
extern "C" __global__ void adamw_step(float* p, const float* g, float* m, float* v, int n, float decay, int doDecay, float w, float b2,
                                      float c2, float negStep, float bc2s, float eps) {
    bool lerpSmall = fabsf(w) < 0.5f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float pv = p[i], gv = g[i], mv = m[i], vv = v[i];
        if (doDecay) pv = pv * decay;
        float diff = gv - mv;
        mv = lerpSmall ? fmaf(diff, w, mv) : gv - diff * (1.0f - w);
        vv = vv * b2 + c2 * gv * gv;
        float denom = sqrtf(vv) / bc2s + eps;
        p[i] = pv + negStep * mv / denom;
        m[i] = mv;
        v[i] = vv;
    }
}

// SGD: g' = g + wd*p; buf = first ? g' : momentum*buf + (1-dampening)*g'; g' = nesterov ? g' + momentum*buf : buf; p -= lr*g'.
extern "C" __global__ void sgd_step(float* p, const float* g, float* buf, int n, float negLr, float wd, int doDecay, float mom, int doMom,
                                    float damp, int nesterov, int first) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float pv = p[i], gv = g[i];
        if (doDecay) gv = fmaf(pv, wd, gv);
        if (doMom) {
            float bv = first ? gv : fmaf(gv, damp, buf[i] * mom);
            buf[i] = bv;
            gv = nesterov ? fmaf(bv, mom, gv) : bv;
        }
        p[i] = fmaf(gv, negLr, pv);
    }
}
