package jllm.models.transformer;

import jllm.nn.Dropout;
import jllm.nn.Linear;
import jllm.nn.Module;
import jllm.nn.UnaryModule;
import jllm.nn.functional.F;
import jllm.tensor.Tensor;

/** The seed's feed-forward block: {@code dropout(w2(relu(w1(x))))}, both linears without bias. */
public class MLP extends Module implements UnaryModule {
    private final Linear w1;
    private final Linear w2;
    private final Dropout dropout;

    public MLP(int dim, int hiddenDim, double dropout) {
        this.w1 = registerModule("w1", new Linear(dim, hiddenDim, false));
        this.w2 = registerModule("w2", new Linear(hiddenDim, dim, false));
        this.dropout = registerModule("dropout", new Dropout(dropout));
    }

    public Linear w1() { return w1; }

    public Linear w2() { return w2; }

    @Override
    public Tensor forward(Tensor x) {
        return dropout.forward(w2.forward(F.relu(w1.forward(x))));
    }
}
