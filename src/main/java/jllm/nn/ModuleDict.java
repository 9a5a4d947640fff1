package jllm.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Modules by name, in insertion order (PyTorch's {@code nn.ModuleDict}). */
public class ModuleDict extends Module {

    public ModuleDict() {}

    public ModuleDict(Map<String, ? extends Module> modules) {
        for (Map.Entry<String, ? extends Module> e : modules.entrySet()) put(e.getKey(), e.getValue());
    }

    /** Adds or replaces the module under key. */
    public <M extends Module> M put(String key, M m) { return registerModule(key, m); }

    public Module get(String key) { return module(key); }

    public boolean containsKey(String key) { return hasModule(key); }

    public Module remove(String key) {
        if (!hasModule(key)) throw new IllegalArgumentException("ModuleDict has no key '" + key + "'");
        return removeModule(key);
    }

    public Set<String> keySet() { return new LinkedHashMap<>(childMap()).keySet(); }

    public List<Module> values() { return new ArrayList<>(childMap().values()); }

    public LinkedHashMap<String, Module> items() { return new LinkedHashMap<>(childMap()); }

    public int size() { return childMap().size(); }
}
