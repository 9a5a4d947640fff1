package jllm.nn;

import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** Runs its children one after another; children are named "0", "1", ... (or by the given names) and must be {@link UnaryModule}s. */
public class Sequential extends Module implements UnaryModule, Iterable<Module> {

    public Sequential(Module... modules) {
        for (Module m : modules) add(m);
    }

    /** PyTorch's {@code Sequential(OrderedDict(...))}: children under the given names, in map order. */
    public Sequential(Map<String, ? extends Module> named) {
        for (Map.Entry<String, ? extends Module> e : named.entrySet()) registerModule(e.getKey(), checkUnary(e.getKey(), e.getValue()));
    }

    private static Module checkUnary(String name, Module m) {
        if (m == null) throw new NullPointerException("Sequential: module " + name + " is null");
        if (!(m instanceof UnaryModule)) {
            throw new IllegalArgumentException("Sequential: module " + name + " (" + m.typeName() + ") does not implement UnaryModule "
                    + "(Tensor forward(Tensor)), so it can't be chained");
        }
        return m;
    }

    /** Appends a module under the next index. */
    public Sequential add(Module m) {
        String name = String.valueOf(size());
        registerModule(name, checkUnary(name, m));
        return this;
    }

    public int size() { return childMap().size(); }

    private List<Module> list() { return new ArrayList<>(childMap().values()); }

    /** The i-th child (negative counts from the end). */
    public Module get(int i) {
        int n = size();
        int j = i < 0 ? i + n : i;
        if (j < 0 || j >= n) throw new IndexOutOfBoundsException("index " + i + " is out of range for Sequential of size " + n);
        return list().get(j);
    }

    @Override
    public Iterator<Module> iterator() { return list().iterator(); }

    @Override
    public Tensor forward(Tensor x) {
        for (Module m : childMap().values()) x = ((UnaryModule) m).forward(x);
        return x;
    }
}
