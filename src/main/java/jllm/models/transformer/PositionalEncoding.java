package jllm.models.transformer;

import jllm.nn.Dropout;
import jllm.nn.Module;
import jllm.nn.UnaryModule;
import jllm.tensor.Tensor;

import java.util.Arrays;

/**
 * Sinusoidal positions, registered as the buffer {@code pe} [1, block_size, n_embd]:
 * {@code pe[p, 2i] = sin(p * div_i)}, {@code pe[p, 2i+1] = cos(p * div_i)} with
 * {@code div_i = exp(2i * -(ln 10000 / n_embd))}. Forward adds the first T rows and applies dropout.
 */
public class PositionalEncoding extends Module implements UnaryModule {
    private final Dropout dropout;

    public PositionalEncoding(ModelArgs args) {
        this.dropout = registerModule("dropout", new Dropout(args.dropout()));
        registerBuffer("pe", table(args.blockSize(), args.nEmbd()));
    }

    /** The table [1, blockSize, nEmbd], rounded to float at the same steps as PyTorch's float32 ops. */
    static Tensor table(int blockSize, int nEmbd) {
        float[] pe = new float[blockSize * nEmbd];
        float scale = (float) -(Math.log(10000.0) / nEmbd);
        for (int i = 0; i < nEmbd; i += 2) {
            float divTerm = (float) Math.exp((float) i * scale);
            for (int p = 0; p < blockSize; p++) {
                float angle = (float) p * divTerm;
                pe[p * nEmbd + i] = (float) Math.sin(angle);
                if (i + 1 < nEmbd) pe[p * nEmbd + i + 1] = (float) Math.cos(angle);
            }
        }
        return Tensor.of(pe, 1, blockSize, nEmbd);
    }

    public Tensor pe() { return buffer("pe"); }

    @Override
    public Tensor forward(Tensor x) {
        Tensor pe = pe();
        if (x.dim() != 3 || x.size(1) > pe.size(1) || x.size(2) != pe.size(2)) {
            throw new IllegalArgumentException("PositionalEncoding expects [batch, seq_len <= " + pe.size(1) + ", " + pe.size(2) + "], got "
                    + Arrays.toString(x.shape()));
        }
        x = x.add(pe.slice(1, 0, x.size(1)).detach());
        return dropout.forward(x);
    }
}
