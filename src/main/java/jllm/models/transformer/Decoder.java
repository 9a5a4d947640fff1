package jllm.models.transformer;

import jllm.nn.Module;
import jllm.nn.ModuleList;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** {@code n_layer} {@link DecoderLayer}s ({@code layers}) and a final {@link LayerNorm} ({@code norm}). */
public class Decoder extends Module {
    private final ModuleList layers;
    private final LayerNorm norm;

    public Decoder(ModelArgs args) {
        List<DecoderLayer> ls = new ArrayList<>();
        for (int i = 0; i < args.nLayer(); i++) ls.add(new DecoderLayer(args));
        this.layers = registerModule("layers", new ModuleList(ls));
        this.norm = registerModule("norm", new LayerNorm(args.nEmbd()));
    }

    public ModuleList layers() { return layers; }

    public Tensor forward(Tensor x, Tensor encOut) {
        for (int i = 0; i < layers.size(); i++) x = layers.get(i, DecoderLayer.class).forward(x, encOut);
        return norm.forward(x);
    }
}
