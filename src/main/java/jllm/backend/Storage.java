package jllm.backend;

import jllm.tensor.DType;
import jllm.tensor.Device;

/**
 * A flat buffer of elements on one device. Several tensors (views) may share one storage; the
 * version counter is bumped by every in-place write so autograd can detect a saved tensor that
 * was modified after it was saved.
 */
public abstract class Storage {
    private int version;

    public abstract DType dtype();

    public abstract Device device();

    /** Number of elements. */
    public abstract int size();

    public final int version() { return version; }

    public final void bumpVersion() { version++; }
}
