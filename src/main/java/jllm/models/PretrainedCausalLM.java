package jllm.models;

import jllm.autograd.Grad;
import jllm.io.WeightSource;
import jllm.io.hf.HfException;
import jllm.nn.LoadChecks;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link CausalLM} with a Hugging Face format: it names each parameter by its checkpoint key
 * ({@link #hfTensors}), and gets from that the state dict save_pretrained writes and a loader
 * that checks every name, shape and dtype before copying anything.
 */
public abstract class PretrainedCausalLM extends CausalLM implements PretrainedModel {

    /**
     * One parameter as a Hugging Face checkpoint holds it: its key there, the live tensor, and
     * whether the file stores it transposed (GPT-2's Conv1D weights are [in, out]).
     */
    public record HfTensor(String key, Tensor param, boolean transposed) {
        public HfTensor(String key, Tensor param) { this(key, param, false); }
    }

    /**
     * A family's config parsed from d's config.json (or the GGUF header it was made from) and checked against the memory budget before
     * anything is allocated; a bad field is an {@link HfException} naming config.json.
     */
    protected static <C> C checked(jllm.io.ModelSource d, java.util.function.Supplier<C> parse, java.util.function.ToLongFunction<C> numParameters) {
        try {
            C c = parse.get();
            MemoryBudget.requireFits(numParameters.applyAsLong(c), jllm.nn.Init.weightsDtype(), d.configFile());
            return c;
        } catch (IllegalArgumentException e) {
            throw new HfException(e.getMessage(), e);
        }
    }

    /**
     * A family's from_pretrained: config.json parsed and checked ({@link #checked}), the model
     * built without its random init, the weights loaded ({@link #loadHf}).
     */
    protected static <C, M extends PretrainedCausalLM> M load(jllm.io.ModelSource d,
                                                              java.util.function.BiFunction<com.fasterxml.jackson.databind.JsonNode, Object, C> parse,
                                                              java.util.function.ToLongFunction<C> numParameters,
                                                              java.util.function.Function<C, M> build) {
        C c = checked(d, () -> parse.apply(d.config(), d.configFile()), numParameters);
        M m = jllm.nn.Init.skipInit(() -> build.apply(c));
        if (jllm.nn.Init.weightsDtype() != null && jllm.nn.Init.weightsDtype() == d.weightType()) ((PretrainedCausalLM) m).keepTypesOf(d);
        m.loadHf(d);
        return m;
    }

    /**
     * Before the weights are copied in: each Linear or Embedding weight whose file keeps another type
     * than the model's ({@link jllm.io.ModelSource#weightType(String)}: a mixed GGUF file) is made
     * again, zero, in that type, so that its values are not rounded to the model's type on the way.
     * A tied matrix is one tensor in both its places.
     */
    private void keepTypesOf(jllm.io.ModelSource d) {
        Map<Tensor, List<jllm.nn.Module>> owners = new java.util.IdentityHashMap<>();
        for (jllm.nn.Module mod : namedModules().values()) {
            if ((mod instanceof jllm.nn.Linear || mod instanceof jllm.nn.Embedding) && mod.hasParameter("weight") && mod.parameter("weight") != null) {
                owners.computeIfAbsent(mod.parameter("weight"), k -> new ArrayList<>()).add(mod);
            }
        }
        for (HfTensor h : hfTensors()) {
            Tensor w = h.param();
            List<jllm.nn.Module> mods = owners.get(w);
            if (mods == null || w.dim() != 2) continue;
            jllm.tensor.DType type = jllm.nn.Init.matrixType(d.weightType(h.key()), w.size(-1));
            if (type == w.dtype()) continue;
            Tensor again = Tensor.zeros(w.shape(), type, w.device());
            for (jllm.nn.Module mod : mods) {
                Tensor p = mod.setParameter("weight", again);
                if (!w.requiresGrad()) p.requiresGrad(false);
            }
        }
    }

    /** Every parameter under its Hugging Face key, in checkpoint order; a tied tensor once. */
    protected abstract List<HfTensor> hfTensors();

    /** A file key as this model names it (GPT2Model's keys lack GPT2LMHeadModel's "transformer." prefix). */
    public String canonicalHfKey(String fileKey) {
        return fileKey;
    }

    /** File keys a checkpoint may hold that are not parameters (buffers, a tied head), skipped on load. */
    protected boolean ignoredHfKey(String canonicalKey) {
        return false;
    }

    /** What transformers' save_pretrained writes: the parameters under their HF keys, in HF orientation. */
    @Override
    public LinkedHashMap<String, Tensor> hfStateDict() {
        LinkedHashMap<String, Tensor> sd = new LinkedHashMap<>();
        for (HfTensor h : hfTensors()) sd.put(h.key(), h.transposed() ? h.param().t().contiguous() : h.param());
        return sd;
    }

    /**
     * Copies a Hugging Face checkpoint's tensors into this model (floating data converted to the
     * parameter's dtype). Names, shapes and dtypes are all checked before anything is copied, so
     * nothing is half loaded; every problem is reported with the file that has it. Warns about
     * NaN or infinite values ({@link LoadChecks#warnNonFinite}).
     */
    public void loadHf(WeightSource src) {
        Map<String, String> fileKeyOf = new LinkedHashMap<>();
        for (String f : src.keys()) {
            String k = canonicalHfKey(f);
            if (!ignoredHfKey(k)) fileKeyOf.put(k, f);
        }
        List<HfTensor> want = hfTensors();
        List<String> problems = new ArrayList<>();
        Map<String, String> remaining = new LinkedHashMap<>(fileKeyOf);
        for (HfTensor h : want) {
            String f = remaining.remove(h.key());
            if (f == null) {
                problems.add("missing tensor '" + h.key() + "' in " + src.where(h.key()));
                continue;
            }
            int[] p = h.param().shape();
            long[] expect = h.transposed() && p.length == 2 ? new long[] {p[1], p[0]} : Arrays.stream(p).asLongStream().toArray();
            long[] have = src.shape(f);
            if (!Arrays.equals(have, expect)) {
                problems.add("tensor '" + f + "' in " + src.where(f) + " has shape " + Arrays.toString(have)
                        + " but the model its config describes expects " + Arrays.toString(expect));
            }
            String bad = LoadChecks.dtypeError(f, src.dtypeName(f), src.floating(f), h.param());
            if (bad != null) problems.add(bad + " (in " + src.where(f) + ")");
        }
        if (!remaining.isEmpty()) {
            List<String> unexpected = new ArrayList<>(remaining.values());
            problems.add("unexpected tensors " + unexpected + " in " + src.where(unexpected.get(0)) + " (not part of " + typeName() + ")");
        }
        if (!problems.isEmpty()) throw new HfException("cannot load " + typeName() + " checkpoint " + src.name() + ": " + String.join("; ", problems));
        LinkedHashMap<String, Tensor> loaded = new LinkedHashMap<>();
        try (var g = Grad.off()) {
            for (HfTensor h : want) {
                String f = fileKeyOf.get(h.key());
                // streamed: no second full-size copy of a large weight (a transposed one fills the parameter's transposed view)
                if (h.transposed() && h.param().dtype().isQuantized()) {
                    h.param().copy_(src.tensor(f).t()); // blocks are written whole rows at a time, not through a transposed view
                } else {
                    src.copyInto(f, h.transposed() ? h.param().t() : h.param());
                }
                loaded.put(h.key(), h.param());
            }
        }
        LoadChecks.warnNonFinite(loaded, src.name());
    }
}
