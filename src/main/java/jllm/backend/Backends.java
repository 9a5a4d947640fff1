package jllm.backend;

import jllm.backend.cpu.CpuBackend;
import jllm.tensor.Device;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/** The registry that maps a device type ("cpu", "cuda") to the backend that runs its kernels. */
public final class Backends {
    private static final Map<String, java.util.function.IntFunction<Backend>> FACTORIES = new ConcurrentHashMap<>();
    private static final Map<Device, Backend> INSTANCES = new ConcurrentHashMap<>();

    static {
        INSTANCES.put(Device.CPU, CpuBackend.INSTANCE);
    }

    private Backends() {}

    /** Registers the backend for a device type; factory receives the device index. */
    public static void register(String deviceType, java.util.function.IntFunction<Backend> factory) {
        FACTORIES.put(deviceType, factory);
    }

    public static boolean isAvailable(Device device) {
        return INSTANCES.containsKey(device) || FACTORIES.containsKey(device.type());
    }

    public static Backend get(Device device) {
        Backend b = INSTANCES.get(device);
        if (b != null) return b;
        var f = FACTORIES.get(device.type());
        if (f == null) {
            throw new IllegalStateException("no backend for device " + device + ": jllm was built with "
                    + INSTANCES.keySet() + " only (register one with Backends.register(\"" + device.type() + "\", ...))");
        }
        return INSTANCES.computeIfAbsent(device, d -> f.apply(d.index()));
    }
}
