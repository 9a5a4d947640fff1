/**
 * Text to token ids and back: a character-level tokenizer (the seeds' Shakespeare models) and
 * GPT-2's byte-level BPE, behind one {@link jllm.tokenizer.Tokenizer} interface so data preparation,
 * training and sampling do not care which one a model was trained with.
 */
package jllm.tokenizer;
