package jllm.backend;

import jllm.tensor.Device;

import java.util.Map;
import java.util.ServiceLoader;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.IntFunction;

/**
 * The registry that maps a device type ("cpu", "cuda") to the backend that runs its kernels. The
 * backends on the class path are discovered with {@link ServiceLoader} ({@link BackendProvider});
 * {@link #register} adds one by hand (tests' fake devices).
 */
public final class Backends {
    private static final Map<String, IntFunction<Backend>> FACTORIES = new ConcurrentHashMap<>();
    private static final Map<Device, Backend> INSTANCES = new ConcurrentHashMap<>();

    static {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())) {
            FACTORIES.putIfAbsent(p.deviceType(), p::create);
        }
        if (!FACTORIES.containsKey(Device.CPU.type())) {
            throw new IllegalStateException("no cpu backend found: META-INF/services/" + BackendProvider.class.getName() + " is missing from the class path");
        }
    }

    private Backends() {}

    /** Registers the backend for a device type; factory receives the device index. */
    public static void register(String deviceType, IntFunction<Backend> factory) {
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
            throw new IllegalStateException("no backend for device " + device + ": the class path has backends for " + new TreeSet<>(FACTORIES.keySet())
                    + " only (a backend jar lists its " + BackendProvider.class.getSimpleName() + " in META-INF/services)");
        }
        return INSTANCES.computeIfAbsent(device, d -> f.apply(d.index()));
    }
}
