package jllm.backend.cuda;

/** Every kernel the CUDA backend launches, with the resource file that defines it. */
public enum Kernel {
    COPY_CAST("elementwise.cu", "copy_cast"),
    FILL_STRIDED("elementwise.cu", "fill_strided"),
    UNARY_F32("elementwise.cu", "unary_f32"),
    UNARY_GENERIC("elementwise.cu", "unary_generic"),
    BINARY_F32("elementwise.cu", "binary_f32"),
    BINARY_GENERIC("elementwise.cu", "binary_generic"),
    WHERE_SELECT("elementwise.cu", "where_select"),
    REDUCE_DIMS("reduce.cu", "reduce_dims"),
    ARG_REDUCE("reduce.cu", "arg_reduce"),
    SOFTMAX_FWD("softmax.cu", "softmax_fwd"),
    SOFTMAX_BWD("softmax.cu", "softmax_bwd"),
    LAYERNORM_FWD("norm.cu", "layernorm_fwd"),
    LAYERNORM_BWD_DX("norm.cu", "layernorm_bwd_dx"),
    NORM_BWD_PARAMS("norm.cu", "norm_bwd_params"),
    RMSNORM_FWD("norm.cu", "rmsnorm_fwd"),
    RMSNORM_BWD_DX("norm.cu", "rmsnorm_bwd_dx"),
    CROSS_ENTROPY_FWD("loss.cu", "cross_entropy_fwd"),
    CROSS_ENTROPY_BWD("loss.cu", "cross_entropy_bwd"),
    INDEX_SELECT("index.cu", "index_select"),
    INDEX_ADD("index.cu", "index_add"),
    GATHER_DIM("index.cu", "gather_dim"),
    SCATTER_ADD_DIM("index.cu", "scatter_add_dim"),
    ADAMW_STEP("optim.cu", "adamw_step"),
    SGD_STEP("optim.cu", "sgd_step"),
    ATTENTION_FWD("attention.cu", "attention_fwd"),
    ATTENTION_BWD_Q("attention.cu", "attention_bwd_q"),
    ATTENTION_BWD_KV("attention.cu", "attention_bwd_kv");

    public final String file;
    public final String symbol;

    Kernel(String file, String symbol) {
        this.file = file;
        this.symbol = symbol;
    }
}
