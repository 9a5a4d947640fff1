package jllm.nn;

import jllm.tensor.Tensor;

import java.util.Map;

/**
 * Checks shared by everything that copies loaded tensors into a model (state dicts, Hugging Face
 * directories, adapters): nothing is silently converted or silently broken.
 */
public final class LoadChecks {
    private LoadChecks() {}

    /**
     * Null when {@code src} may be copied into {@code dst}; else why not. Floating data converts
     * between floating types (F16/BF16 into F32); integer data into a floating parameter (or the
     * other way) is an error: such a file is mislabelled, and converting its values would load
     * garbage that looks like weights.
     */
    public static String dtypeError(String key, String srcDtype, boolean srcFloating, Tensor dst) {
        if (srcFloating == dst.dtype().isFloatingPoint()) return null;
        // a quantized parameter takes floating values (quantized as they are copied in) or its own blocks
        if (dst.dtype().isQuantized() && (srcFloating || srcDtype.equalsIgnoreCase(dst.dtype().torchName()))) return null;
        // quantized values load into a floating parameter dequantized
        if (dst.dtype().isFloatingPoint()) {
            for (jllm.tensor.DType t : jllm.tensor.DType.values()) if (t.isQuantized() && t.torchName().equalsIgnoreCase(srcDtype)) return null;
        }
        return "dtype mismatch for " + key + ": the checkpoint has " + srcDtype + " but the model's tensor is " + dst.dtype().torchName();
    }

    /** {@link #dtypeError(String, String, boolean, Tensor)} for a tensor already read. */
    public static String dtypeError(String key, Tensor src, Tensor dst) {
        return dtypeError(key, src.dtype().torchName(), src.dtype().isFloatingPoint(), dst);
    }

    /**
     * Warns on stderr, naming the source and each tensor, when loaded floating tensors hold NaN or
     * infinite values (a model loaded from them prints nothing but its unknown token). Set
     * {@code JLLM_CHECK_FINITE=0} to skip the scan.
     */
    public static void warnNonFinite(Map<String, Tensor> tensors, Object source) {
        if ("0".equals(System.getenv("JLLM_CHECK_FINITE"))) return;
        for (var e : tensors.entrySet()) {
            Tensor t = e.getValue();
            if (t == null || !t.dtype().isFloatingPoint()) continue;
            long bad = 0;
            // in chunks: a full copy of every weight would double the heap a model load needs; 64K floats
            // stay below G1's humongous threshold (half its smallest region), so the scan leaves plain young garbage
            Tensor flat = t.reshape(-1);
            int n = flat.size(0), chunk = 1 << 16;
            for (int s = 0; s < n; s += chunk) {
                for (float v : flat.narrow(0, s, Math.min(chunk, n - s)).toFloatArray()) if (!Float.isFinite(v)) bad++;
            }
            if (bad > 0) {
                System.err.println("warning: " + source + ": tensor " + e.getKey() + " has " + bad + " NaN or infinite value(s) of "
                        + t.numel() + " (JLLM_CHECK_FINITE=0 skips this check)");
            }
        }
    }
}
