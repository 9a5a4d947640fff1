package jllm.models.gpt;

import jllm.models.CausalLM;

/** The sizes seed 002's GPT and seed 003's character model share, and the spine's geometry from them. */
interface GptSizes {
    int blockSize();

    int vocabSize();

    int nLayer();

    int nHead();

    int nEmbd();

    default int headSize() { return nEmbd() / nHead(); }

    /** Every head caches keys and values of head_size (no grouped-query attention). */
    default CausalLM.Geometry geometry() { return new CausalLM.Geometry(blockSize(), vocabSize(), nLayer(), nHead(), headSize()); }
}
