package jllm.backend;

/** Element-wise binary kernels with broadcasting. The *_BACKWARD ops compute dy * f'(x) as (dy, x). */
public enum BinaryOp {
    ADD, SUB, MUL, DIV, POW, MAX, MIN,
    EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR,
    GELU_BACKWARD, GELU_TANH_BACKWARD, SILU_BACKWARD, RELU_BACKWARD, TANH_BACKWARD_FROM_Y, SIGMOID_BACKWARD_FROM_Y;

    public boolean isComparison() {
        return switch (this) {
            case EQ, NE, LT, LE, GT, GE, LOGICAL_AND, LOGICAL_OR -> true;
            default -> false;
        };
    }
}
