package jllm.backend;

/** Reductions over a set of dims. */
public enum ReduceOp { SUM, MEAN, MAX, MIN, PROD, VAR, SUMSQ, ANY, ALL }
