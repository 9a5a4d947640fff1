package jllm.backend;

/** Element-wise unary kernels (p0/p1 are the op's scalar parameters where it has any). */
public enum UnaryOp {
    NEG, EXP, LOG, SQRT, RSQRT, ABS, TANH, SIGMOID, RELU, GELU, GELU_TANH, SILU, SIN, COS,
    /** x^p0 */ POW,
    /** clamp(x, p0, p1); NaN bounds mean unbounded */ CLAMP,
    /** x + p0 */ ADD_SCALAR,
    /** x * p0 */ MUL_SCALAR,
    /** p0 / x */ RDIV_SCALAR,
    /** p0 ^ x */ RPOW_SCALAR,
    LOGICAL_NOT, SIGN, RECIPROCAL, SQUARE, ERF, FLOOR, CEIL, ROUND
}
