package jllm.backend.cuda;

import org.junit.jupiter.api.Test;

import java.util.List;

import static jllm.backend.cuda.KernelSignature.Kind.DOUBLE;
import static jllm.backend.cuda.KernelSignature.Kind.FLOAT;
import static jllm.backend.cuda.KernelSignature.Kind.INT;
import static jllm.backend.cuda.KernelSignature.Kind.LONG;
import static jllm.backend.cuda.KernelSignature.Kind.POINTER;
import static jllm.backend.cuda.KernelSignature.Kind.STRIDES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Launch arguments are checked against the kernels' parameter lists as read from the sources. */
class KernelSignatureTest {
    @Test
    void everyKernelsParametersParse() {
        for (Kernel k : Kernel.values()) assertFalse(KernelSignature.of(k).isEmpty(), k.symbol);
        assertEquals(List.of(STRIDES, INT, POINTER, INT, POINTER, INT), KernelSignature.of(Kernel.COPY_CAST));
        assertEquals(List.of(STRIDES, INT, POINTER, INT, DOUBLE), KernelSignature.of(Kernel.FILL_STRIDED));
        List<KernelSignature.Kind> ce = KernelSignature.of(Kernel.CROSS_ENTROPY_FWD);
        assertEquals(LONG, ce.get(7), "ignoreIndex is an i64");
        assertEquals(FLOAT, ce.get(8), "label smoothing is a float");
    }

    @Test
    void mismatchesAreNamed() {
        int[] strides = new int[KernelSignature.STRIDES_INTS];
        KernelSignature.check(Kernel.FILL_STRIDED, new Object[] {strides, 4, null, 0, 1.0});
        IllegalArgumentException kind = assertThrows(IllegalArgumentException.class,
                () -> KernelSignature.check(Kernel.FILL_STRIDED, new Object[] {strides, 4, null, 0, 1.0f}));
        assertEquals("fill_strided argument 4 must be DOUBLE, the launch passed Float", kind.getMessage());
        IllegalArgumentException count = assertThrows(IllegalArgumentException.class,
                () -> KernelSignature.check(Kernel.FILL_STRIDED, new Object[] {strides, 4, null, 0}));
        assertTrue(count.getMessage().contains("takes 5 arguments"), count.getMessage());
        assertThrows(IllegalArgumentException.class, () -> KernelSignature.check(Kernel.FILL_STRIDED, new Object[] {new int[4], 4, null, 0, 1.0}));
        assertThrows(IllegalArgumentException.class, () -> KernelSignature.check(Kernel.FILL_STRIDED, new Object[] {strides, 4L, null, 0, 1.0}));
    }
}
