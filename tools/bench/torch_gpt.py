#!/usr/bin/python3
"""PyTorch side of jllm's GPT benchmarks and recipe checks (Debian python3-torch, CPU).

Modes:
  recipe    train nanoGPT's CPU recipe on Tiny Shakespeare (character level) with the same
            settings as `jllm train` and report the final validation loss over 200 batches;
  step      median time of one training step (forward, backward, AdamW) of a GPT config;
  generate  tokens per second of KV-cached sampling from a GPT config.

The model is written here from nanoGPT's / build-nanogpt's description (pre-LN blocks, fused
c_attn, tanh GELU, tied lm_head), the same architecture as jllm.models.gpt.GPT.
"""
import argparse, math, time, statistics, sys, os
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import stio  # noqa: E402


GELU = "tanh"  # GPT-2 / build-nanogpt; nanoGPT's model.py uses the exact form ("none")


class Attn(nn.Module):
    def __init__(s, C, H, T, bias):
        super().__init__()
        s.c_attn = nn.Linear(C, 3 * C, bias=bias)
        s.c_proj = nn.Linear(C, C, bias=bias)
        s.H = H
        s.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def forward(s, x, cache=None):
        B, T, C = x.shape
        q, k, v = s.c_attn(x).split(C, dim=2)
        q, k, v = [t.view(B, T, s.H, C // s.H).transpose(1, 2) for t in (q, k, v)]
        past = 0
        if cache is not None:
            if cache.get("k") is not None:
                past = cache["k"].shape[2]
                k = torch.cat([cache["k"], k], 2)
                v = torch.cat([cache["v"], v], 2)
            cache["k"], cache["v"] = k, v
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.shape[-1]))
        S = k.shape[2]
        att = att.masked_fill(~s.mask[past:past + T, :S], float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return s.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class Block(nn.Module):
    def __init__(s, C, H, T, bias):
        super().__init__()
        s.ln_1 = nn.LayerNorm(C, elementwise_affine=True)
        s.attn = Attn(C, H, T, bias)
        s.ln_2 = nn.LayerNorm(C)
        s.c_fc = nn.Linear(C, 4 * C, bias=bias)
        s.c_proj = nn.Linear(4 * C, C, bias=bias)
        if not bias:
            s.ln_1.bias = None
            s.ln_2.bias = None

    def forward(s, x, cache=None):
        x = x + s.attn(s.ln_1(x), cache)
        return x + s.c_proj(F.gelu(s.c_fc(s.ln_2(x)), approximate=GELU))


class GPT(nn.Module):
    def __init__(s, V, T, L, H, C, bias):
        super().__init__()
        s.wte = nn.Embedding(V, C)
        s.wpe = nn.Embedding(T, C)
        s.h = nn.ModuleList([Block(C, H, T, bias) for _ in range(L)])
        s.ln_f = nn.LayerNorm(C)
        if not bias:
            s.ln_f.bias = None
        s.lm_head = nn.Linear(C, V, bias=False)
        s.lm_head.weight = s.wte.weight
        for n, p in s.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * L) if n.endswith("c_proj.weight") else 0.02
                torch.nn.init.normal_(p, 0.0, std)
            elif n.endswith(".bias"):
                torch.nn.init.zeros_(p)

    def forward(s, idx, targets=None, caches=None, pos0=0):
        B, T = idx.shape
        x = s.wte(idx) + s.wpe(torch.arange(pos0, pos0 + T))
        for i, b in enumerate(s.h):
            x = b(x, None if caches is None else caches[i])
        x = s.ln_f(x)
        if targets is None:
            return s.lm_head(x[:, -1:, :]), None
        logits = s.lm_head(x)
        return logits, F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def optimizer(model, lr, wd, b1, b2):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": other, "weight_decay": 0.0}],
                             lr=lr, betas=(b1, b2), eps=1e-8)


def shakespeare(path):
    text = open(path, encoding="utf-8").read()
    chars = sorted(set(text))
    stoi = {c: i for i, c in enumerate(chars)}
    data = torch.tensor([stoi[c] for c in text], dtype=torch.long)
    n = int(0.9 * len(data))
    return data[:n], data[n:], len(chars)


def batch(data, B, T):
    ix = torch.randint(len(data) - T, (B,))
    return torch.stack([data[i:i + T] for i in ix]), torch.stack([data[i + 1:i + T + 1] for i in ix])


def recipe(a):
    torch.manual_seed(a.seed)
    tr, va, V = shakespeare(a.data)
    B, T, iters, warm, lr, min_lr = 12, 64, a.iters, 100, a.lr, a.lr / 10
    model = GPT(V, T, 4, 4, 128, bias=False)
    opt = optimizer(model, lr, 0.1, 0.9, 0.99)

    def get_lr(it):
        if it < warm:
            return lr * (it + 1) / (warm + 1)
        if it > iters:
            return min_lr
        r = (it - warm) / (iters - warm)
        return min_lr + 0.5 * (1.0 + math.cos(math.pi * r)) * (lr - min_lr)

    @torch.no_grad()
    def val_loss(n):
        model.eval()
        l = torch.tensor([model(*batch(va, B, T))[1].item() for _ in range(n)]).mean().item()
        model.train()
        return l

    t0 = time.time()
    for it in range(iters):
        for g in opt.param_groups:
            g["lr"] = get_lr(it)
        x, y = batch(tr, B, T)
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if it % 250 == 0:
            print(f"iter {it}: loss {loss.item():.4f}", flush=True)
    dt = time.time() - t0
    print(f"training took {dt:.1f} s ({dt / iters * 1000:.1f} ms/iter)")
    print(f"final val loss (200 batches): {val_loss(200):.4f}")


CONFIGS = {  # name: (vocab, block, layers, heads, width, bias, B, T)
    "gpt2": (50257, 1024, 12, 12, 768, True, 4, 64),
    "cpu-preset": (65, 64, 4, 4, 128, False, 12, 64),
}


def load_jllm(model, d):
    """jllm's GPT state dict (transformer.h.N.mlp.c_fc.weight, ...) into this module (h.N.c_fc.weight, ...);
    both keep Linear weights [out, in]; the causal-mask buffers and the tied lm_head are skipped."""
    sd = stio.load(os.path.join(d, "model.safetensors"))[0]
    mine = {}
    for k, v in sd.items():
        if k.endswith(".attn.bias") or k == "lm_head.weight":
            continue
        k = k.replace("transformer.", "", 1).replace(".mlp.", ".")
        mine[k] = v
    missing, unexpected = model.load_state_dict(mine, strict=False)
    missing = [m for m in missing if m != "lm_head.weight" and not m.endswith("attn.mask")]
    if missing or unexpected:
        raise SystemExit(f"jllm weights do not fit: missing {missing}, unexpected {unexpected}")
    return stio.load(os.path.join(d, "bench_inputs.safetensors"))[0]


def step(a):
    V, Tm, L, H, C, bias, B, T = CONFIGS[a.config]
    torch.manual_seed(0)
    model = GPT(V, Tm, L, H, C, bias)
    x = torch.randint(V, (B, T))
    y = torch.randint(V, (B, T))
    jl = None
    if a.dir:  # time the very model and batch jllm timed
        inp = load_jllm(model, a.dir)
        x, y, jl = inp["x"].long(), inp["y"].long(), inp["loss"].item()
    opt = optimizer(model, 1e-4, 0.1, 0.9, 0.95)
    times = []
    for i in range(a.warmup + a.repeats):
        t0 = time.perf_counter()
        _, loss = model(x, y)
        if i == 0 and a.check and jl is not None:
            print(f"check: {a.config} first-step loss jllm {jl:.6f} torch {loss.item():.6f} (|d| {abs(jl - loss.item()):.3g})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if i >= a.warmup:
            times.append(time.perf_counter() - t0)
    B, T = x.shape
    print(f"pytorch {a.config} B={B} T={T} threads={torch.get_num_threads()}: median step {statistics.median(times) * 1000:.1f} ms "
          f"(min {min(times) * 1000:.1f}, {len(times)} runs)")


@torch.no_grad()
def generate(a):
    V, Tm, L, H, C, bias, _, _ = CONFIGS[a.config]
    torch.manual_seed(0)
    model = GPT(V, Tm, L, H, C, bias).eval()
    if a.dir:  # the very model jllm decoded with
        inp = load_jllm(model, a.dir)
        if a.check:
            ours, _ = model(inp["idx"].long())
            d = (ours - inp["logits"]).abs().max().item()
            print(f"check: {a.config} prompt logits jllm vs torch: max |d| {d:.3g} (/ max |logits| {d / inp['logits'].abs().max().item():.3g})")
    rates = []
    for r in range(a.warmup + a.repeats):
        idx = torch.randint(V, (1, a.prompt_len))
        caches = [dict() for _ in range(L)]
        t0 = time.perf_counter()
        logits, _ = model(idx, caches=caches)
        pos = idx.shape[1]
        for _ in range(a.tokens):
            probs = F.softmax(logits[:, -1, :] / 0.8, dim=-1)
            v, _ = torch.topk(probs, 50)
            probs[probs < v[:, [-1]]] = 0
            nxt = torch.multinomial(probs, 1)
            logits, _ = model(nxt, caches=caches, pos0=pos)
            pos += 1
        if r >= a.warmup:
            rates.append(a.tokens / (time.perf_counter() - t0))
    print(f"pytorch {a.config} generate {a.tokens} tokens (KV cache, top-k 50) threads={torch.get_num_threads()}: "
          f"median {statistics.median(rates):.1f} tokens/s")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["recipe", "step", "generate"])
    p.add_argument("--config", default="cpu-preset", choices=list(CONFIGS))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--tokens", type=int, default=100)
    p.add_argument("--prompt-len", type=int, default=8)
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--lr", type=float, default=1e-3, help="recipe: peak learning rate (min_lr is a tenth of it)")
    p.add_argument("--gelu", default="tanh", choices=["tanh", "none"])
    p.add_argument("--dir", help="step, generate: a directory where jllm wrote model.safetensors and bench_inputs.safetensors")
    p.add_argument("--check", action="store_true", help="step: compare the first step's loss; generate: the prompt's logits")
    p.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../src/main/resources/jllm/data/tinyshakespeare.txt"))
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    GELU = a.gelu
    {"recipe": recipe, "step": step, "generate": generate}[a.mode](a)
