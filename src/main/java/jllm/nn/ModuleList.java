package jllm.nn;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/** A list of modules registered as children "0", "1", ...; printed like PyTorch, runs of equal blocks as {@code (0-5): 6 x Block(...)}. */
public class ModuleList extends Module implements Iterable<Module> {

    public ModuleList(Module... modules) {
        for (Module m : modules) add(m);
    }

    public ModuleList(Collection<? extends Module> modules) {
        for (Module m : modules) add(m);
    }

    public ModuleList add(Module m) {
        if (m == null) throw new NullPointerException("ModuleList: cannot add null");
        registerModule(String.valueOf(size()), m);
        return this;
    }

    public ModuleList extend(Iterable<? extends Module> ms) {
        for (Module m : ms) add(m);
        return this;
    }

    public int size() { return childMap().size(); }

    public boolean isEmpty() { return size() == 0; }

    private List<Module> list() { return new ArrayList<>(childMap().values()); }

    /** The i-th module (negative counts from the end). */
    public Module get(int i) {
        int n = size();
        int j = i < 0 ? i + n : i;
        if (j < 0 || j >= n) throw new IndexOutOfBoundsException("index " + i + " is out of range for ModuleList of size " + n);
        return list().get(j);
    }

    /** The i-th module cast to its known type. */
    public <M extends Module> M get(int i, Class<M> type) { return type.cast(get(i)); }

    @Override
    public Iterator<Module> iterator() { return list().iterator(); }

    @Override
    public String toString() {
        List<String> reprs = new ArrayList<>();
        for (Map.Entry<String, Module> e : childMap().entrySet()) reprs.add(String.valueOf(e.getValue()));
        if (reprs.isEmpty()) return typeName() + "()";
        List<String> lines = new ArrayList<>();
        int start = 0;
        for (int i = 1; i <= reprs.size(); i++) {
            if (i < reprs.size() && reprs.get(i).equals(reprs.get(start))) continue;
            String b = reprs.get(start);
            String local = i - 1 == start ? "(" + start + "): " + b : "(" + start + "-" + (i - 1) + "): " + (i - start) + " x " + b;
            lines.add(addIndent(local, 2));
            start = i;
        }
        return typeName() + "(\n  " + String.join("\n  ", lines) + "\n)";
    }
}
