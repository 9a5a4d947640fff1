#!/usr/bin/python3
"""PyTorch side of jllm's Llama benchmarks (Debian python3-torch, CPU), on the very weights jllm built.

`jllm bench generate --case llama` / `jllm bench train --case llama-lora` write the model with
savePretrained into a temporary Hugging Face directory (config.json + model.safetensors) and add
bench_inputs.safetensors (the inputs and jllm's own results for the check); this script loads both
with tools/fixtures/stio.py. Modes:

  generate   tokens per second of greedy decoding with a KV cache: one prefill of the prompt, then one
             forward per new token (as jllm's TextGenerator); --check compares the prompt's logits with
             jllm's (and with tools/fixtures/hf_ref.py's reference forward) and the greedy ids;
  lora-step  median time of one LoRA training step: forward, cross-entropy, backward, AdamW on the
             adapter weights only (base frozen); --check compares the first step's loss and lora_B
             gradients with jllm's.

The model is transformers' LlamaForCausalLM forward (eager attention, as hf_ref.llama_forward) written as
an nn.Module with a KV cache; LoRA follows PEFT: y = base(x) + lora_B(lora_A(dropout(x))) * alpha / r.

On the 2-vCPU benchmark VM, torch 1.13's OpenMP threads spin-wait (the default OMP_WAIT_POLICY): with 2 threads
decoding and the LoRA step ran 2-3x slower than with 1 thread; OMP_WAIT_POLICY=PASSIVE (inherited from the jllm
command) brings 2 threads back to about the 1-thread time, and no faster.
"""
import argparse, glob, json, os, statistics, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import hf_ref  # noqa: E402
import stio  # noqa: E402


class LoraLinear(nn.Module):
    """PEFT lora.Linear: frozen base weight [out, in], lora_A [r, in], lora_B [out, r], scaling alpha / r."""

    def __init__(s, weight, a, b, alpha, dropout=0.0):
        super().__init__()
        s.weight = nn.Parameter(weight, requires_grad=False)
        s.lora_A = nn.Parameter(a.clone())
        s.lora_B = nn.Parameter(b.clone())
        s.scaling = alpha / a.shape[0]
        s.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(s, x):
        return F.linear(x, s.weight) + F.linear(F.linear(s.dropout(x), s.lora_A), s.lora_B) * s.scaling


class Linear(nn.Module):
    def __init__(s, weight, bias=None):
        super().__init__()
        s.weight = nn.Parameter(weight, requires_grad=False)
        s.bias = None if bias is None else nn.Parameter(bias, requires_grad=False)

    def forward(s, x):
        return F.linear(x, s.weight, s.bias)


class Llama(nn.Module):
    """LlamaForCausalLM from a Hugging Face state dict; every projection is a module in `proj` (keyed by its HF name)."""

    def __init__(s, sd, cfg, lora=None, alpha=16.0):
        super().__init__()
        s.sd, s.cfg = sd, cfg
        s.nh = cfg["num_attention_heads"]
        s.nkv = cfg.get("num_key_value_heads") or s.nh
        s.hd = hf_ref.head_dim(cfg)
        s.eps = cfg.get("rms_norm_eps", 1e-6)
        s.L = cfg["num_hidden_layers"]
        keys = [k[:-len(".weight")] for k in sd if k.endswith("_proj.weight")] + (["lm_head"] if "lm_head.weight" in sd else [])
        mods = {}
        for k in keys:
            if lora is not None and k in lora:
                mods[k] = LoraLinear(sd[k + ".weight"], lora[k][0], lora[k][1], alpha)
            else:
                mods[k] = Linear(sd[k + ".weight"], sd.get(k + ".bias"))
        s.proj = nn.ModuleDict({k.replace(".", "/"): m for k, m in mods.items()})
        cos, sin = hf_ref.rope_cos_sin(cfg, torch.arange(cfg["max_position_embeddings"]))
        s.cos, s.sin = cos, sin

    def linear(s, key, x):
        return s.proj[key.replace(".", "/")](x)

    def forward(s, idx, cache=None):
        """logits [B, T, V]; with cache (a list of [k, v] per layer, None at first) positions continue after the cached ones."""
        sd, nh, nkv, hd = s.sd, s.nh, s.nkv, s.hd
        B, T = idx.shape
        past = 0 if cache is None or cache[0] is None else cache[0][0].shape[2]
        x = sd["model.embed_tokens.weight"][idx]
        cos, sin = s.cos[past:past + T], s.sin[past:past + T]
        mask = None
        if T > 1:
            S = past + T
            causal = torch.ones(T, S, dtype=torch.bool).tril(diagonal=past)
            mask = torch.zeros(T, S).masked_fill(~causal, torch.finfo(torch.float32).min)
        for i in range(s.L):
            p = f"model.layers.{i}."
            r = x
            h = hf_ref.rms_norm(x, sd[p + "input_layernorm.weight"], s.eps)
            q = s.linear(p + "self_attn.q_proj", h).view(B, T, nh, hd).transpose(1, 2)
            k = s.linear(p + "self_attn.k_proj", h).view(B, T, nkv, hd).transpose(1, 2)
            v = s.linear(p + "self_attn.v_proj", h).view(B, T, nkv, hd).transpose(1, 2)
            q = q * cos + hf_ref.rotate_half(q) * sin
            k = k * cos + hf_ref.rotate_half(k) * sin
            if cache is not None:
                if cache[i] is not None:
                    k = torch.cat([cache[i][0], k], 2)
                    v = torch.cat([cache[i][1], v], 2)
                cache[i] = (k, v)
            k = hf_ref.repeat_kv(k, nh // nkv)
            v = hf_ref.repeat_kv(v, nh // nkv)
            w = torch.matmul(q, k.transpose(2, 3)) * hd ** -0.5
            if mask is not None:
                w = w + mask
            w = torch.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
            y = torch.matmul(w, v).transpose(1, 2).reshape(B, T, nh * hd)
            x = r + s.linear(p + "self_attn.o_proj", y)
            r = x
            h = hf_ref.rms_norm(x, sd[p + "post_attention_layernorm.weight"], s.eps)
            x = r + s.linear(p + "mlp.down_proj", F.silu(s.linear(p + "mlp.gate_proj", h)) * s.linear(p + "mlp.up_proj", h))
        x = hf_ref.rms_norm(x, sd["model.norm.weight"], s.eps)
        if s.cfg.get("tie_word_embeddings", False):
            return F.linear(x, sd["model.embed_tokens.weight"])
        return s.linear("lm_head", x)


def load_dir(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    sd = {}
    for f in sorted(glob.glob(os.path.join(d, "model*.safetensors"))):
        sd.update(stio.load(f)[0])
    inputs = stio.load(os.path.join(d, "bench_inputs.safetensors"))[0]
    return sd, cfg, inputs


def rel(a, b):
    d = (a - b).abs().max().item()
    return d, d / max(b.abs().max().item(), 1e-30)


@torch.no_grad()
def generate(a):
    sd, cfg, inp = load_dir(a.dir)
    model = Llama(sd, cfg).eval()
    idx = inp["idx"]
    if a.check:
        ours = model(idx, cache=[None] * model.L)
        d, r = rel(ours, inp["logits"])
        dr, rr = rel(ours, hf_ref.llama_forward(sd, cfg, idx))
        print(f"check: {a.case} prompt logits {list(ours.shape)}: max |dlogits| jllm vs torch {d:.3g} (/ max |logits|: {r:.3g}); "
              f"torch module vs hf_ref.llama_forward {dr:.3g}")
    rates, ids = [], None
    for rep in range(a.warmup + a.repeats):
        cache = [None] * model.L
        out = idx.tolist()[0]
        t0 = time.perf_counter()
        logits = model(idx, cache=cache)[:, -1, :]
        for step in range(a.tokens):
            nxt = int(torch.argmax(logits, dim=-1)[0])
            out.append(nxt)
            if step == a.tokens - 1:
                break
            logits = model(torch.tensor([[nxt]]), cache=cache)[:, -1, :]
        if rep >= a.warmup:
            rates.append(a.tokens / (time.perf_counter() - t0))
        ids = out
    if a.check:
        j = inp["ids"].tolist()[0]
        new_t, new_j = ids[idx.shape[1]:], j[idx.shape[1]:]
        same = sum(x == y for x, y in zip(new_t, new_j))
        first = next((i for i, (x, y) in enumerate(zip(new_t, new_j)) if x != y), None)
        print(f"check: {a.case} greedy ids (KV cache) jllm vs torch: {same}/{len(new_j)} equal"
              + ("" if first is None else f", first difference at new token {first}"))
    print(f"pytorch {a.case} generate {a.tokens} tokens after a {idx.shape[1]}-token prompt (KV cache, greedy) "
          f"threads={torch.get_num_threads()}: median {statistics.median(rates):.1f} tokens/s")


def lora_step(a):
    sd, cfg, inp = load_dir(a.dir)
    targets = a.targets.split(",")
    lora = {k[:-len(".lora_A.weight")]: None for k in inp if k.endswith(".lora_A.weight")}
    lora = {k: (inp[k + ".lora_A.weight"], inp[k + ".lora_B.weight"]) for k in lora if k.rsplit(".", 1)[-1] in targets}
    assert lora and all(a.r == v[0].shape[0] for v in lora.values()), "adapter weights missing or of another rank"
    model = Llama(sd, cfg, lora, a.alpha).train()
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-4, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
    x, y = inp["idx"], inp["targets"]
    times = []
    for i in range(a.warmup + a.repeats):
        t0 = time.perf_counter()
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if i == 0 and a.check:
            jl = inp["loss"].item()
            worst, worst_rel = 0.0, 0.0
            for k in lora:
                g = model.proj[k.replace(".", "/")].lora_B.grad
                d, r = rel(g, inp[k + ".lora_B.grad"])
                worst, worst_rel = max(worst, d), max(worst_rel, r)
            print(f"check: {a.case} first step: loss jllm {jl:.6f} torch {loss.item():.6f} (|d| {abs(jl - loss.item()):.3g}); "
                  f"lora_B grads ({len(lora)} layers) max |dgrad| {worst:.3g} (/ max |grad|: {worst_rel:.3g}, worst layer)")
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    print(f"pytorch {a.case} r={a.r} alpha={a.alpha:g} {a.targets} B={x.shape[0]} T={x.shape[1]} threads={torch.get_num_threads()}: "
          f"median step {statistics.median(times) * 1000:.1f} ms (min {min(times) * 1000:.1f}, {len(times)} runs)")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["generate", "lora-step"])
    p.add_argument("--dir", required=True, help="HF directory written by jllm (config.json, model.safetensors, bench_inputs.safetensors)")
    p.add_argument("--case", default="llama")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--tokens", type=int, default=100)
    p.add_argument("--r", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0)
    p.add_argument("--targets", default="q_proj,v_proj")
    p.add_argument("--check", action="store_true", help="compare with jllm's results in bench_inputs.safetensors")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    {"generate": generate, "lora-step": lora_step}[a.mode](a)
