/**
 * {@code jllm serve}: an OpenAI-compatible HTTP server ({@link jllm.serve.OpenAiServer}, on the
 * JDK's own {@code com.sun.net.httpserver} with a virtual thread per exchange) in front of a
 * continuous-batching {@link jllm.serve.Engine}: requests join and leave a running batch at token
 * boundaries, every step runs the model once over all sequences' new tokens
 * ({@link jllm.models.CausalLM#forwardRagged}), long prompts are fed in chunks between decode
 * steps, and sequences with different LoRA adapters ({@link jllm.lora.MultiLora}) share a batch.
 */
package jllm.serve;
