// Element-wise kernels over strided operands with broadcasting (a broadcast dim has stride 0).
// Strides operand order: s0 = out, s1 = a, s2 = b, s3 = cond. Grid-stride loops over n elements.
// Op codes (U_*, B_*) and dtype codes (DT_*) are generated from the Java enums.

#define GRID_LOOP(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += gridDim.x * blockDim.x)

__device__ __forceinline__ float gelu_f(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

__device__ __forceinline__ float gelu_tanh_f(float x) {
    const float k = 0.79788456080286536f; // sqrt(2/pi)
    return 0.5f * x * (1.0f + tanhf(k * (x + 0.044715f * x * x * x)));
}

__device__ float unary_op_f(int op, float x, float p0, float p1) {
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return expf(x);
        case U_LOG: return logf(x);
        case U_SQRT: return sqrtf(x);
        case U_RSQRT: return 1.0f / sqrtf(x);
        case U_ABS: return fabsf(x);
        case U_TANH: return tanhf(x);
        case U_SIGMOID: return 1.0f / (1.0f + expf(-x));
        case U_RELU: return x > 0.0f ? x : (x != x ? x : 0.0f);
        case U_GELU: return gelu_f(x);
        case U_GELU_TANH: return gelu_tanh_f(x);
        case U_SILU: return x / (1.0f + expf(-x));
        case U_SIN: return sinf(x);
        case U_COS: return cosf(x);
        case U_POW: return powf(x, p0);
        case U_CLAMP: {
            float r = x;
            if (p0 == p0 && r < p0) r = p0;
            if (p1 == p1 && r > p1) r = p1;
            return r;
        }
        case U_ADD_SCALAR: return x + p0;
        case U_MUL_SCALAR: return x * p0;
        case U_RDIV_SCALAR: return p0 / x;
        case U_RPOW_SCALAR: return powf(p0, x);
        case U_LOGICAL_NOT: return x == 0.0f ? 1.0f : 0.0f;
        case U_SIGN: return x != x ? x : (float) ((x > 0.0f) - (x < 0.0f));
        case U_RECIPROCAL: return 1.0f / x;
        case U_SQUARE: return x * x;
        case U_ERF: return erff(x);
        case U_FLOOR: return floorf(x);
        case U_CEIL: return ceilf(x);
        case U_ROUND: return rintf(x);
        default: return JLLM_NAN;
    }
}

__device__ double unary_op_d(int op, double x, double p0, double p1) {
    switch (op) {
        case U_NEG: return -x;
        case U_EXP: return exp(x);
        case U_LOG: return log(x);
        case U_SQRT: return sqrt(x);
        case U_RSQRT: return 1.0 / sqrt(x);
        case U_ABS: return fabs(x);
        case U_TANH: return tanh(x);
        case U_SIGMOID: return 1.0 / (1.0 + exp(-x));
        case U_RELU: return x > 0.0 ? x : (x != x ? x : 0.0);
        case U_SILU: return x / (1.0 + exp(-x));
        case U_SIN: return sin(x);
        case U_COS: return cos(x);
        case U_POW: return pow(x, p0);
        case U_CLAMP: {
            double r = x;
            if (p0 == p0 && r < p0) r = p0;
            if (p1 == p1 && r > p1) r = p1;
            return r;
        }
        case U_ADD_SCALAR: return x + p0;
        case U_MUL_SCALAR: return x * p0;
        case U_RDIV_SCALAR: return p0 / x;
        case U_RPOW_SCALAR: return pow(p0, x);
        case U_LOGICAL_NOT: return x == 0.0 ? 1.0 : 0.0;
        case U_SIGN: return x != x ? x : (double) ((x > 0.0) - (x < 0.0));
        case U_RECIPROCAL: return 1.0 / x;
        case U_SQUARE: return x * x;
        case U_FLOOR: return floor(x);
        case U_CEIL: return ceil(x);
        case U_ROUND: return rint(x);
        default: return (double) unary_op_f(op, (float) x, (float) p0, (float) p1); // GELU, GELU_TANH, ERF: float, as on the CPU
    }
}

__device__ i64 unary_op_i(int op, i64 x, double p0, double p1) {
    switch (op) {
        case U_NEG: return -x;
        case U_ABS: return x < 0 ? -x : x;
        case U_RELU: return x > 0 ? x : 0;
        case U_SIGN: return (x > 0) - (x < 0);
        case U_SQUARE: return x * x;
        case U_ADD_SCALAR: return x + (i64) p0;
        case U_MUL_SCALAR: return x * (i64) p0;
        case U_CLAMP: {
            i64 r = x;
            if (p0 == p0 && (double) r < p0) r = (i64) ceil(p0);
            if (p1 == p1 && (double) r > p1) r = (i64) floor(p1);
            return r;
        }
        default: return (i64) unary_op_d(op, (double) x, p0, p1);
    }
}

extern "C" __global__ void copy_cast(Strides s, int n, void* out, int dtOut, const void* in, int dtIn) {
    GRID_LOOP(i, n) {
        int o0, o1, o2, o3;
        offsets(s, i, o0, o1, o2, o3);
        if (dtOut == DT_F32 && dtIn == DT_F32) ((float*) out)[o0] = ((const float*) in)[o1];
        else if (dt_integral(dtIn) && dt_integral(dtOut)) store_i(out, dtOut, o0, load_i(in, dtIn, o1));
        else if (dtIn == dtOut && (dtIn == DT_F16 || dtIn == DT_BF16)) ((u16*) out)[o0] = ((const u16*) in)[o1];
        else store_d(out, dtOut, o0, load_d(in, dtIn, o1));
    }
}

extern "C" __global__ void fill_strided(Strides s, int n, void* out, int dt, double v) {
    GRID_LOOP(i, n) {
        int o0, o1, o2, o3;
        offsets(s, i, o0, o1, o2, o3);
        store_d(out, dt, o0, v);
    }
}

extern "C" __global__ void unary_f32(Strides s, int n, int op, float* out, const float* a, float p0, float p1) {
    GRID_LOOP(i, n) {
        int o0, o1, o2, o3;
        offsets(s, i, o0, o1, o2, o3);
        out[o0] = unary_op_f(op, a[o1], p0, p1);
    }
}

extern "C" __global__ void unary_generic(Strides s, int n, int op, void* out, int dtOut, const void* a, int dtA, double p0, double p1) {
    bool integral = dt_integral(dtA) && op != U_LOGICAL_NOT;
    GRID_LOOP(i, n) {
        int o0, o1, o2, o3;
        offsets(s, i, o0, o1, o2, o3);
        if (integral) store_i(out, dtOut, o0, unary_op_i(op, load_i(a, dtA, o1), p0, p1));
        else store_d(out, dtOut, o0, unary_op_d(op, load_d(a, dtA, o1), p0, p1));
    }
}

// a = upstream gradient dy, b = the saved input x (or output y for the *_FROM_Y and RELU ops).
__device__ float binary_op_f(int op, float a, float b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_DIV: return a / b;
        case B_POW: return powf(a, b);
        case B_MAX: return (a != a || b != b) ? JLLM_NAN : fmaxf(a, b);
        case B_MIN: return (a != a || b != b) ? JLLM_NAN : fminf(a, b);
        case B_EQ: return a == b;
        case B_NE: return a != b;
        case B_LT: return a < b;
        case B_LE: return a <= b;
        case B_GT: return a > b;
        case B_GE: return a >= b;
        case B_LOGICAL_AND: return a != 0.0f && b != 0.0f;
        case B_LOGICAL_OR: return a != 0.0f || b != 0.0f;
        case B_GELU_BACKWARD: {
            float cdf = 0.5f * (1.0f + erff(b * 0.70710678118654752f));
            float pdf = expf(-0.5f * b * b) * 0.39894228040143268f;
            return a * (cdf + b * pdf);
        }
        case B_GELU_TANH_BACKWARD: {
            const float k = 0.79788456080286536f;
            float x2 = b * b;
            float t = tanhf(k * (b + 0.044715f * x2 * b));
            return a * (0.5f * (1.0f + t) + 0.5f * b * (1.0f - t * t) * k * (1.0f + 3.0f * 0.044715f * x2));
        }
        case B_SILU_BACKWARD: {
            float sg = 1.0f / (1.0f + expf(-b));
            return a * sg * (1.0f + b * (1.0f - sg));
        }
        case B_RELU_BACKWARD: return b > 0.0f ? a : 0.0f;
        case B_TANH_BACKWARD_FROM_Y: return a * (1.0f - b * b);
        case B_SIGMOID_BACKWARD_FROM_Y: return a * b * (1.0f - b);
        default: return JLLM_NAN;
    }
}

__device__ double binary_op_d(int op, double a, double b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_DIV: return a / b;
        case B_POW: return pow(a, b);
        case B_MAX: return (a != a || b != b) ? JLLM_DNAN : fmax(a, b);
        case B_MIN: return (a != a || b != b) ? JLLM_DNAN : fmin(a, b);
        case B_EQ: return a == b;
        case B_NE: return a != b;
        case B_LT: return a < b;
        case B_LE: return a <= b;
        case B_GT: return a > b;
        case B_GE: return a >= b;
        case B_LOGICAL_AND: return a != 0.0 && b != 0.0;
        case B_LOGICAL_OR: return a != 0.0 || b != 0.0;
        default: return (double) binary_op_f(op, (float) a, (float) b);
    }
}

__device__ i64 binary_op_i(int op, i64 a, i64 b) {
    switch (op) {
        case B_ADD: return a + b;
        case B_SUB: return a - b;
        case B_MUL: return a * b;
        case B_MAX: return a > b ? a : b;
        case B_MIN: return a < b ? a : b;
        case B_EQ: return a == b;
        case B_NE: return a != b;
        case B_LT: return a < b;
        case B_LE: return a <= b;
        case B_GT: return a > b;
        case B_GE: return a >= b;
        case B_LOGICAL_AND: return a != 0 && b != 0;
        case B_LOGICAL_OR: return a != 0 || b != 0;
        default: return (i64) binary_op_d(op, (double) a, (double) b);
    }
}

// F32 operands; out is F32 (outBool == 0) or BOOL.
extern "C" __global__ void binary_f32(Strides s, int n, int op, void* out, int outBool, const float* a, const float* b) {
    GRID_LOOP(i, n) {
        int o0, o1, o2, o3;
        offsets(s, i, o0, o1, o2, o3);
        float r = binary_op_f(op, a[o1], b[o2]);
        if (outBool) ((u8*) out)[o0] = r != 0.0f ? 1 : 0;
        else ((float*) out)[o0] = r;
    }
}

// Any dtypes; integral != 0 computes in 64-bit integers (as the CPU backend for integer promotion, not DIV/POW).
extern "C" __global__ void binary_generic(Strides s, int n, int op, void* out, int dtOut, const void* a, int dtA, const void* b,
                                          int dtB, int integral) {
    GRID_LOOP(i, n) {
        int o0, o1, o2, o3;
        offsets(s, i, o0, o1, o2, o3);
        if (integral) store_i(out, dtOut, o0, binary_op_i(op, load_i(a, dtA, o1), load_i(b, dtB, o2)));
        else store_d(out, dtOut, o0, binary_op_d(op, load_d(a, dtA, o1), load_d(b, dtB, o2)));
    }
}

// out = cond ? a : b; a, b and out share dtype dt (the host converts first); cond is BOOL (s3).
extern "C" __global__ void where_select(Strides s, int n, void* out, int dt, const void* a, const void* b, const u8* cond) {
    GRID_LOOP(i, n) {
        int o0, o1, o2, o3;
        offsets(s, i, o0, o1, o2, o3);
        if (dt_integral(dt)) store_i(out, dt, o0, cond[o3] ? load_i(a, dt, o1) : load_i(b, dt, o2));
        else if (dt == DT_F32) ((float*) out)[o0] = cond[o3] ? ((const float*) a)[o1] : ((const float*) b)[o2];
        else store_d(out, dt, o0, cond[o3] ? load_d(a, dt, o1) : load_d(b, dt, o2));
    }
}
