package jllm.backend.cuda;

import jllm.backend.Storage;
import jllm.tensor.DType;
import jllm.tensor.Device;
import jllm.tensor.Tensor;

import java.lang.ref.Cleaner;

/**
 * Device memory of n elements from the device's caching allocator. When the storage becomes
 * unreachable its block goes back to the allocator (a cleaner action: bookkeeping only, no CUDA call,
 * so it is safe on the cleaner thread; work already queued on the stream is ordered before any reuse).
 */
public final class CudaStorage extends Storage {
    private static final Cleaner CLEANER = Cleaner.create();

    private final DType dtype;
    private final int size;
    private final CudaDevice dev;
    private final CachingAllocator.Block block;

    CudaStorage(CudaDevice dev, DType dtype, int size) {
        this.dev = dev;
        this.dtype = dtype;
        this.size = size;
        this.block = dev.allocator.allocate(dtype.bytes(size), dev.streamId());
        CachingAllocator allocator = dev.allocator;
        CachingAllocator.Block b = block;
        CLEANER.register(this, () -> allocator.free(b));
    }

    @Override public DType dtype() { return dtype; }

    @Override public Device device() { return dev.device; }

    @Override public int size() { return size; }

    /** Device address of element 0. */
    public long ptr() { return block.ptr(); }

    public long bytes() { return dtype.bytes(size); }

    CudaDevice dev() { return dev; }

    /** The device address of a tensor's first element (storage base + offset). */
    static long address(Tensor t) {
        CudaStorage s = (CudaStorage) t.storage();
        return s.ptr() + s.dtype.bytes(t.storageOffset());
    }
}
