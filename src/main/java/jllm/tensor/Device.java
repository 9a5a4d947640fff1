package jllm.tensor;

import java.util.Locale;
import java.util.Objects;

/** Where a tensor's storage lives: {@code cpu}, {@code cuda:0}, ... Kernels are chosen per device. */
public final class Device {
    public static final Device CPU = new Device("cpu", -1);

    private final String type;
    private final int index;

    private Device(String type, int index) {
        this.type = type;
        this.index = index;
    }

    public static Device of(String type, int index) {
        String t = type.toLowerCase(Locale.ROOT);
        if (t.equals("cpu")) return CPU;
        return new Device(t, Math.max(index, 0));
    }

    public static Device cuda(int index) { return of("cuda", index); }

    /** Parses {@code "cpu"}, {@code "cuda"}, {@code "cuda:1"}. */
    public static Device parse(String spec) {
        Objects.requireNonNull(spec, "device");
        String s = spec.trim().toLowerCase(Locale.ROOT);
        int colon = s.indexOf(':');
        if (colon < 0) return of(s, 0);
        try {
            int idx = Integer.parseInt(s.substring(colon + 1));
            if (idx < 0) throw new NumberFormatException();
            return of(s.substring(0, colon), idx);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("invalid device string: '" + spec + "' (expected e.g. cpu, cuda, cuda:0)");
        }
    }

    public String type() { return type; }

    public int index() { return index; }

    public boolean isCpu() { return this == CPU; }

    @Override
    public boolean equals(Object o) {
        return o instanceof Device d && d.type.equals(type) && d.index == index;
    }

    @Override
    public int hashCode() { return type.hashCode() * 31 + index; }

    @Override
    public String toString() { return index < 0 ? type : type + ":" + index; }
}
