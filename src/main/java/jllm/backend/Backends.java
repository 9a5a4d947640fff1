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
    /** The providers behind FACTORIES' discovered entries (a hand-registered factory has none: always available). */
    private static final Map<String, BackendProvider> PROVIDERS = new ConcurrentHashMap<>();

    static {
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())) {
            if (FACTORIES.putIfAbsent(p.deviceType(), p::create) == null) PROVIDERS.put(p.deviceType(), p);
        }
        if (!FACTORIES.containsKey(Device.CPU.type())) {
            throw new IllegalStateException("no cpu backend found: META-INF/services/" + BackendProvider.class.getName() + " is missing from the class path");
        }
    }

    private Backends() {}

    /** Registers the backend for a device type; factory receives the device index. */
    public static void register(String deviceType, IntFunction<Backend> factory) {
        PROVIDERS.remove(deviceType);
        FACTORIES.put(deviceType, factory);
    }

    /**
     * Whether tensors can be put on device here: a backend for its type is on the class path and (for
     * a discovered provider) reports the index usable, e.g. false for cuda:0 on a machine without a GPU.
     */
    public static boolean isAvailable(Device device) {
        if (INSTANCES.containsKey(device)) return true;
        if (!FACTORIES.containsKey(device.type())) return false;
        BackendProvider p = PROVIDERS.get(device.type());
        return p == null || p.isAvailable(device.index());
    }

    /** Why device cannot be used here (no backend for its type, or its provider's reason), or null when it can. */
    public static String unavailableReason(Device device) {
        if (isAvailable(device)) return null;
        BackendProvider p = PROVIDERS.get(device.type());
        if (!FACTORIES.containsKey(device.type())) return "no backend for " + device.type() + " on the class path";
        return p == null ? "not available" : p.unavailableReason(device.index());
    }

    public static Backend get(Device device) {
        Backend b = INSTANCES.get(device);
        if (b != null) return b;
        var f = FACTORIES.get(device.type());
        if (f == null) {
            throw new IllegalStateException("no backend for device " + device + ": the class path has backends for " + new TreeSet<>(FACTORIES.keySet())
                    + " only (a backend jar lists its " + BackendProvider.class.getSimpleName() + " in META-INF/services)");
        }
        BackendProvider p = PROVIDERS.get(device.type());
        if (p != null && !p.isAvailable(device.index())) {
            throw new IllegalStateException("device " + device + " is not available: " + p.unavailableReason(device.index()));
        }
        return INSTANCES.computeIfAbsent(device, d -> f.apply(d.index()));
    }
}
