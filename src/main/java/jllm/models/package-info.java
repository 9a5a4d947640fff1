/**
 * The models of the seed documents and the Hugging Face families, written with the public tensor
 * / nn / functional API only, as a PyTorch user would write them.
 *
 * <p>{@link jllm.models.CausalLM} is the spine every causal language model shares (input checks,
 * forward with the loss, KV-cache creation and checks); {@link jllm.models.PretrainedCausalLM}
 * adds the Hugging Face plumbing (checkpoint keys and orientation, checked loading, save_pretrained).
 * A model says only what differs: its trunk, its sizes and its tensors' names. {@link
 * jllm.models.ModelRegistry} is the one table of families (model_type, loader, LoRA defaults,
 * training-config section) that everything else consults.
 */
package jllm.models;
