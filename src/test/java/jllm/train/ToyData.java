package jllm.train;

import jllm.data.Batch;

import jllm.tensor.Generator;
import jllm.tensor.Tensor;

import java.util.Map;

/**
 * An in-memory token corpus from a noisy Markov chain (next = (3*cur + 1) mod V with probability
 * 0.9, else uniform), split 90/10 into train and val. Batches are sampled at random offsets with
 * the trainer's generator, or, when {@code sequential}, train batches walk the corpus with a
 * cursor that is part of the checkpointed data state.
 */
final class ToyData implements BatchSource {
    final long[] train, val;
    final int batchSize, blockSize;
    final boolean sequential;
    long position;

    ToyData(int vocab, int length, int batchSize, int blockSize, boolean sequential) {
        Generator g = new Generator(42);
        long[] all = new long[length];
        for (int i = 1; i < length; i++) {
            all[i] = g.nextFloat() < 0.9f ? (3 * all[i - 1] + 1) % vocab : g.nextInt(vocab);
        }
        int n = (int) (0.9 * length);
        train = java.util.Arrays.copyOfRange(all, 0, n);
        val = java.util.Arrays.copyOfRange(all, n, length);
        this.batchSize = batchSize;
        this.blockSize = blockSize;
        this.sequential = sequential;
    }

    @Override
    public Batch get(String split, Generator g) {
        long[] data = split.equals(TRAIN) ? train : val;
        long[] x = new long[batchSize * blockSize], y = new long[batchSize * blockSize];
        for (int b = 0; b < batchSize; b++) {
            int i;
            if (sequential && split.equals(TRAIN)) {
                i = (int) (position % (data.length - blockSize));
                position += blockSize;
            } else {
                i = g.nextInt(data.length - blockSize);
            }
            System.arraycopy(data, i, x, b * blockSize, blockSize);
            System.arraycopy(data, i + 1, y, b * blockSize, blockSize);
        }
        return new Batch(Tensor.of(x, batchSize, blockSize), Tensor.of(y, batchSize, blockSize));
    }

    @Override
    public Map<String, Object> stateDict() {
        return sequential ? Map.of("position", position) : Map.of();
    }

    @Override
    public void loadStateDict(Map<String, Object> state) {
        if (!sequential) {
            BatchSource.super.loadStateDict(state);
            return;
        }
        position = ((Number) state.get("position")).longValue();
    }
}
