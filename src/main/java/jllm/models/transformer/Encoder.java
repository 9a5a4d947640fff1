package jllm.models.transformer;

import jllm.nn.Module;
import jllm.nn.ModuleList;
import jllm.nn.UnaryModule;
import jllm.tensor.Tensor;

import java.util.ArrayList;
import java.util.List;

/** {@code n_layer} {@link EncoderLayer}s ({@code layers}) and a final {@link LayerNorm} ({@code norm}). */
public class Encoder extends Module implements UnaryModule {
    private final ModuleList layers;
    private final LayerNorm norm;

    public Encoder(ModelArgs args) {
        List<EncoderLayer> ls = new ArrayList<>();
        for (int i = 0; i < args.nLayer(); i++) ls.add(new EncoderLayer(args));
        this.layers = registerModule("layers", new ModuleList(ls));
        this.norm = registerModule("norm", new LayerNorm(args.nEmbd()));
    }

    public ModuleList layers() { return layers; }

    @Override
    public Tensor forward(Tensor x) {
        for (int i = 0; i < layers.size(); i++) x = layers.get(i, EncoderLayer.class).forward(x);
        return norm.forward(x);
    }
}
