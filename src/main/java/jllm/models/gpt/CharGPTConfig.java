package jllm.models.gpt;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Hyper-parameters of seed 003's character-level {@link CharGPT} (the seed keeps them as
 * module-level globals). batchSize is a training setting kept here because the seed lists it
 * with the rest.
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record CharGPTConfig(
        @JsonProperty("batch_size") int batchSize,
        @JsonProperty("block_size") int blockSize,
        @JsonProperty("vocab_size") int vocabSize,
        @JsonProperty("n_embd") int nEmbd,
        @JsonProperty("n_head") int nHead,
        @JsonProperty("n_layer") int nLayer,
        @JsonProperty("dropout") double dropout) implements GptSizes {

    /** The seed's published run on tiny Shakespeare (65 characters): 10,788,929 parameters. */
    public static final CharGPTConfig SEED003 = new CharGPTConfig(64, 256, 65, 384, 6, 6, 0.2);

    public CharGPTConfig {
        if (blockSize <= 0 || vocabSize <= 0 || nEmbd <= 0 || nHead <= 0 || nLayer < 0 || batchSize <= 0) {
            throw new IllegalArgumentException("CharGPTConfig: sizes must be positive, got " + this);
        }
        if (nEmbd % nHead != 0) {
            throw new IllegalArgumentException("CharGPTConfig: n_embd (" + nEmbd + ") must be a multiple of n_head (" + nHead + ")");
        }
        if (!(dropout >= 0 && dropout < 1)) throw new IllegalArgumentException("CharGPTConfig: dropout must be in [0, 1), got " + dropout);
    }

    public static CharGPTConfig seed003() { return SEED003; }

    /**
     * Parameters of a {@link CharGPT} with this config, counted without building it: per block the
     * bias-free key/query/value of every head, the biased output projection and feed-forward
     * layers and two LayerNorms; the two embeddings, ln_f and the biased lm_head.
     */
    public long numParameters() {
        long c = nEmbd;
        long block = 3 * c * c + (c * c + c) + (4 * c * c + 4 * c) + (4 * c * c + c) + 4 * c;
        return ((long) vocabSize + blockSize) * c + nLayer * block + 2 * c + c * vocabSize + vocabSize;
    }

    /** The same model for another vocabulary (the seed derives vocab_size from the text). */
    public CharGPTConfig withVocabSize(int v) { return new CharGPTConfig(batchSize, blockSize, v, nEmbd, nHead, nLayer, dropout); }

}
