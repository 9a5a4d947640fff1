/**
 * Llama (transformers' LlamaForCausalLM): grouped-query attention, rotary position embeddings
 * with linear and llama3 frequency scaling, RMSNorm and a SwiGLU MLP, with Hugging Face's module
 * names so checkpoints load and save by key ({@link jllm.models.llama.LlamaForCausalLM#fromPretrained}).
 */
package jllm.models.llama;
