package jllm.tensor;

import java.util.Arrays;

/** Shape arithmetic shared by tensor ops: sizes, strides, broadcasting, dim wrapping. */
public final class Shape {
    private Shape() {}

    public static int numel(int[] shape) {
        long n = 1;
        for (int s : shape) n *= s;
        if (n > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("tensor of shape " + Arrays.toString(shape) + " has " + n
                    + " elements; jllm's CPU storage holds at most 2^31-17 elements per tensor");
        }
        return (int) n;
    }

    public static int[] contiguousStrides(int[] shape) {
        int[] st = new int[shape.length];
        int s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            st[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return st;
    }

    /** Wraps a possibly negative dim into [0, rank), with PyTorch's error message. */
    public static int wrapDim(int dim, int rank) {
        int r = Math.max(rank, 1);
        if (dim < -r || dim >= r) {
            throw new IndexOutOfBoundsException("Dimension out of range (expected to be in range of [" + (-r) + ", "
                    + (r - 1) + "], but got " + dim + ")");
        }
        return dim < 0 ? dim + r : dim;
    }

    public static int[] broadcast(int[] a, int[] b) {
        int n = Math.max(a.length, b.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int ai = i - (n - a.length), bi = i - (n - b.length);
            int da = ai >= 0 ? a[ai] : 1, db = bi >= 0 ? b[bi] : 1;
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException("The size of tensor a (" + da + ") must match the size of tensor b ("
                        + db + ") at non-singleton dimension " + i + " (shapes " + Arrays.toString(a) + " and "
                        + Arrays.toString(b) + ")");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** Strides of a tensor (shape, strides) viewed as broadcast to {@code target}: 0 on broadcast dims. */
    public static int[] broadcastStrides(int[] shape, int[] strides, int[] target) {
        if (shape.length > target.length) {
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " cannot broadcast to "
                    + Arrays.toString(target) + " (it has more dimensions)");
        }
        int[] out = new int[target.length];
        int off = target.length - shape.length;
        for (int i = 0; i < target.length; i++) {
            int si = i - off;
            if (si < 0) out[i] = 0;
            else if (shape[si] == target[i]) out[i] = shape[si] == 1 ? 0 : strides[si];
            else if (shape[si] == 1) out[i] = 0;
            else throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " cannot broadcast to "
                        + Arrays.toString(target));
        }
        return out;
    }

    /** Resolves one -1 entry of a requested view shape against numel. */
    public static int[] inferSize(int[] req, int numel) {
        int[] out = req.clone();
        int infer = -1;
        long prod = 1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("only one dimension can be inferred");
                infer = i;
            } else if (out[i] < 0) {
                throw new IllegalArgumentException("invalid shape dimension " + out[i] + " in " + Arrays.toString(req));
            } else {
                prod *= out[i];
            }
        }
        if (infer >= 0) {
            if (prod == 0 || numel % prod != 0) {
                throw new IllegalArgumentException("shape '" + Arrays.toString(req) + "' is invalid for input of size " + numel);
            }
            out[infer] = (int) (numel / prod);
        } else if (prod != numel) {
            throw new IllegalArgumentException("shape '" + Arrays.toString(req) + "' is invalid for input of size " + numel);
        }
        return out;
    }

    /**
     * Strides for viewing (oldShape, oldStrides) as newShape without a copy, or null when the memory
     * layout does not allow it (PyTorch's computeStride).
     */
    public static int[] viewStrides(int[] oldShape, int[] oldStrides, int[] newShape) {
        int[] newStrides = new int[newShape.length];
        // any strides address a tensor of 0 or 1 elements (and a 0-dim tensor has no strides to work from)
        if (numel(oldShape) <= 1 || isContiguous(oldShape, oldStrides)) return contiguousStrides(newShape);
        int viewD = newShape.length - 1;
        long chunkBase = oldStrides.length == 0 ? 1 : oldStrides[oldStrides.length - 1];
        long tensorNumel = 1, viewNumel = 1;
        for (int d = oldShape.length - 1; d >= 0; d--) {
            tensorNumel *= oldShape[d];
            if (d == 0 || (oldShape[d - 1] != 1 && oldStrides[d - 1] != tensorNumel * chunkBase)) {
                while (viewD >= 0 && (viewNumel < tensorNumel || newShape[viewD] == 1)) {
                    newStrides[viewD] = (int) (viewNumel * chunkBase);
                    viewNumel *= newShape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (d > 0) {
                    chunkBase = oldStrides[d - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        if (viewD != -1) return null;
        return newStrides;
    }

    public static boolean isContiguous(int[] shape, int[] strides) {
        int expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] == 1) continue;
            if (strides[i] != expected) return false;
            expected *= shape[i];
        }
        return true;
    }
}
