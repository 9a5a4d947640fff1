package jllm.lora;

import jllm.autograd.Grad;
import jllm.nn.Dropout;
import jllm.nn.Identity;
import jllm.nn.Init;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.ModuleDict;
import jllm.nn.UnaryModule;
import jllm.tensor.DType;
import jllm.tensor.Generator;
import jllm.tensor.Tensor;

/**
 * PEFT's {@code lora.Linear}: the original layer as {@code base_layer} plus one adapter named
 * "default" in the ModuleDicts {@code lora_dropout}, {@code lora_A} (Linear in -> r, no bias) and
 * {@code lora_B} (Linear r -> out, no bias), so parameter names read
 * {@code ...q_proj.lora_A.default.weight} as in PEFT.
 *
 * <p>y = base_layer(x) + lora_B(lora_A(lora_dropout(x))) * scaling. A starts as
 * kaiming_uniform(a=sqrt(5)) and B as zeros (PEFT's init_lora_weights=True), so a fresh layer
 * computes exactly what its base layer does.
 *
 * <p>Orientation: every weight here is [out, in] (jllm's Linear layout), whatever
 * {@code fan_in_fan_out} says; {@link #deltaWeight(boolean)} gives the delta transposed for a
 * weight held in Hugging Face's Conv1D [in, out] layout.
 */
public final class LoraLinear extends Module implements UnaryModule {
    public static final String ADAPTER = "default";

    private final int r;
    private final double loraAlpha;
    private final double scaling;
    private final boolean fanInFanOut;
    private long calls;

    public LoraLinear(Linear base, LoraConfig config) { this(base, config, Generator.defaultGenerator()); }

    public LoraLinear(Linear base, LoraConfig config, Generator gen) {
        this.r = config.r();
        this.loraAlpha = config.loraAlpha();
        this.scaling = config.scaling();
        this.fanInFanOut = config.fanInFanOut();
        registerModule("base_layer", base);
        Module drop = config.loraDropout() > 0 ? new Dropout(config.loraDropout()) : new Identity();
        registerModule("lora_dropout", new ModuleDict()).put(ADAPTER, drop);
        Linear a = registerModule("lora_A", new ModuleDict()).put(ADAPTER, new Linear(base.inFeatures, r, false));
        Linear b = registerModule("lora_B", new ModuleDict()).put(ADAPTER, new Linear(r, base.outFeatures, false));
        // on the base layer's device; in F32 over a 16-bit or quantized base (PEFT's autocast_adapter_dtype=True default)
        DType w = base.weight().dtype();
        DType dt = w == DType.F64 ? DType.F64 : DType.F32;
        a.to(base.weight().device()).to(dt);
        b.to(base.weight().device()).to(dt);
        try (var g = Grad.off()) {
            Init.kaimingUniform_(a.weight(), Math.sqrt(5), "fan_in", "leaky_relu", gen);
            Init.zeros_(b.weight());
        }
    }

    public Linear baseLayer() { return (Linear) module("base_layer"); }

    public Linear loraA() { return (Linear) ((ModuleDict) module("lora_A")).get(ADAPTER); }

    public Linear loraB() { return (Linear) ((ModuleDict) module("lora_B")).get(ADAPTER); }

    public Module loraDropout() { return ((ModuleDict) module("lora_dropout")).get(ADAPTER); }

    public int r() { return r; }

    public double loraAlpha() { return loraAlpha; }

    public double scaling() { return scaling; }

    public boolean fanInFanOut() { return fanInFanOut; }

    @Override
    public Tensor forward(Tensor x) {
        calls++;
        Tensor result = baseLayer().forward(x);
        Tensor h = ((UnaryModule) loraDropout()).forward(x);
        return result.add(loraB().forward(loraA().forward(h)).mul(scaling));
    }

    long calls() { return calls; }

    /** scaling * B @ A, [out, in] (the orientation of jllm's Linear weight). */
    public Tensor deltaWeight() {
        try (var g = Grad.off()) {
            return loraB().weight().matmul(loraA().weight()).mul(scaling);
        }
    }

    /** PEFT's get_delta_weight: transposed to [in, out] when fanInFanOut (a Hugging Face Conv1D weight). */
    public Tensor deltaWeight(boolean fanInFanOut) {
        Tensor d = deltaWeight();
        return fanInFanOut ? d.t().contiguous() : d;
    }

    /** Adds the delta into base_layer's weight and returns base_layer (PEFT's merge + unload for this layer). */
    public Linear mergeIntoBase() {
        Linear base = baseLayer();
        try (var g = Grad.off()) {
            base.weight().add_(deltaWeight());
        }
        return base;
    }

    /** PEFT prints its layer as {@code "lora." + nn.Module.__repr__}. */
    @Override
    public String typeName() { return "lora.Linear"; }
}
