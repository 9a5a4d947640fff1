/**
 * Corpora and batches for language-model training: the bundled Tiny Shakespeare, nanoGPT's
 * uint16 {@code train.bin}/{@code val.bin} files (memory-mapped, so corpora need not fit the
 * heap), and the two ways the seeds draw (x, y) batches, sequential and random windows.
 */
package jllm.data;
