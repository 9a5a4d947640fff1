package jllm.backend.cuda;

import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A kernel's parameter list, read from its CUDA C source, against which every launch's Java
 * arguments are checked before cuLaunchKernel: a wrong count or kind (an int where the kernel takes an
 * i64, a float for a double) would otherwise be read as garbage on the device, silently.
 */
final class KernelSignature {
    enum Kind { POINTER, INT, LONG, FLOAT, DOUBLE, STRIDES, S4 }

    static final int STRIDES_INTS = 1 + 5 * 8;

    private static final Map<Kernel, List<Kind>> CACHE = new EnumMap<>(Kernel.class);

    private KernelSignature() {}

    static synchronized List<Kind> of(Kernel k) {
        return CACHE.computeIfAbsent(k, KernelSignature::parse);
    }

    private static List<Kind> parse(Kernel k) {
        String src = KernelSources.resource(k.file);
        Matcher m = Pattern.compile("extern\\s+\"C\"\\s+__global__\\s+void\\s+" + Pattern.quote(k.symbol) + "\\s*\\(([^)]*)\\)").matcher(src);
        if (!m.find()) throw new IllegalStateException(k.file + " defines no kernel " + k.symbol);
        List<Kind> kinds = new ArrayList<>();
        String params = m.group(1).trim();
        if (params.isEmpty()) return kinds;
        for (String p : params.split(",")) kinds.add(kind(k, p.trim()));
        return List.copyOf(kinds);
    }

    private static Kind kind(Kernel k, String p) {
        if (p.contains("*")) return Kind.POINTER;
        String type = p.replace("const ", "").trim().split("\\s+")[0];
        return switch (type) {
            case "int" -> Kind.INT;
            case "i64" -> Kind.LONG;
            case "float" -> Kind.FLOAT;
            case "double" -> Kind.DOUBLE;
            case "Strides" -> Kind.STRIDES;
            case "S4" -> Kind.S4;
            default -> throw new IllegalStateException(k.symbol + ": parameter '" + p + "' has a type the launcher cannot pass");
        };
    }

    /** Throws naming the kernel and the parameter when args do not fit the kernel's parameters. */
    static void check(Kernel k, Object[] args) {
        List<Kind> kinds = of(k);
        if (kinds.size() != args.length) {
            throw new IllegalArgumentException(k.symbol + " takes " + kinds.size() + " arguments, the launch passed " + args.length);
        }
        for (int i = 0; i < args.length; i++) {
            Object a = args[i];
            Kind want = kinds.get(i);
            boolean ok = switch (want) {
                case POINTER -> a == null || a instanceof Tensor || a instanceof CudaStorage || a instanceof Long;
                case INT -> a instanceof Integer;
                case LONG -> a instanceof Long;
                case FLOAT -> a instanceof Float;
                case DOUBLE -> a instanceof Double;
                case STRIDES -> a instanceof int[] v && v.length == STRIDES_INTS;
                case S4 -> a instanceof int[] v && v.length == 4;
            };
            if (!ok) {
                throw new IllegalArgumentException(k.symbol + " argument " + i + " must be " + want + ", the launch passed "
                        + (a == null ? "null" : a.getClass().getSimpleName()));
            }
        }
    }
}
