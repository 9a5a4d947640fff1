package jllm.data;

import jllm.tensor.Tensor;

/** Inputs {@code x} and next-token targets {@code y}, both I64 of shape [B, T]; {@code y[b][t] = x[b][t+1]} in the source. */
public record Batch(Tensor x, Tensor y) {
    public Batch {
        if (x == null || y == null) throw new IllegalArgumentException("batch needs both x and y, got x=" + x + ", y=" + y);
    }
}
