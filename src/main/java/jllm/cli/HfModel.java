package jllm.cli;

import jllm.io.ModelSource;
import jllm.models.AutoModelForCausalLM;
import jllm.models.PretrainedModel;
import jllm.tensor.DType;
import jllm.tokenizer.HfTokenizer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A {@code --model} as {@code generate} and {@code eval} load it: a GGUF file, a directory or a name
 * in the local Hugging Face cache ({@link ModelSource#open(String)}), the model class its config
 * names ({@link AutoModelForCausalLM}) and its tokenizer, its weights loaded into {@code --dtype}
 * (null: as stored). Loading says what was loaded on stderr.
 */
record HfModel(Path dir, PretrainedModel model, HfTokenizer tokenizer) implements AutoCloseable {

    static HfModel load(String pathOrName, DType weights) throws IOException {
        long t0 = System.nanoTime();
        ModelSource src = ModelSource.open(pathOrName);
        PretrainedModel model = weights == null ? AutoModelForCausalLM.fromPretrained(src) : AutoModelForCausalLM.fromPretrained(src, weights);
        HfTokenizer tok = src.tokenizer();
        Path dir = Path.of(src.name());
        System.err.printf(Locale.ROOT, "loaded %s (%s, %,d parameters) in %.1f s%n", dir, model.modelType(),
                model.asModule().numParameters(), (System.nanoTime() - t0) / 1e9);
        WeightTypeOption.report(model.asModule(), weights);
        return new HfModel(dir, model, tok);
    }

    @Override
    public void close() {
        tokenizer.close();
    }
}
