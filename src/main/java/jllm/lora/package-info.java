/**
 * LoRA as Hugging Face PEFT does it: {@link jllm.lora.LoraConfig} (adapter_config.json),
 * {@link jllm.lora.LoraLinear} ({@code lora.Linear}: base_layer + lora_A/lora_B/lora_dropout
 * ModuleDicts keyed by the adapter name "default"), {@link jllm.lora.ModulesToSaveWrapper},
 * and {@link jllm.lora.PeftModel} ({@code PeftModelForCausalLM(base_model: LoraModel(model: base))})
 * which injects, freezes, counts, saves and loads adapter directories and merges.
 *
 * <p>Parameter names, saved keys and printed trees follow PEFT so that adapters move between jllm
 * and PEFT unchanged. Orientation: jllm's Linear weights are always [out, in] (the GPT-2 loader
 * transposes Hugging Face's Conv1D [in, out] on load). lora_A [r, in] and lora_B [out, r] are the
 * same in both layouts, so {@code fan_in_fan_out} only matters as config metadata and when a
 * delta is applied to a weight held in Hugging Face's Conv1D orientation.
 */
package jllm.lora;
