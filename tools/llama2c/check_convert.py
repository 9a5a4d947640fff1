"""Checks a llama2.c -> Hugging Face conversion made by jllm (Llama2cConverter).

Usage: /usr/bin/python3 tools/llama2c/check_convert.py HF_DIR EXPECTED_JSON [LLAMA2C_BIN]
       /usr/bin/python3 tools/llama2c/check_convert.py HF_DIR - LLAMA2C_BIN   (no reference ids: 16 greedy
       steps, checked only against the llama2.c formulation, e.g. for a synthetic GQA / untied model)

1. Loads HF_DIR (config.json + model.safetensors) and runs a plain-torch forward written the way
   transformers' LlamaForCausalLM computes (rotate-half RoPE, RMSNorm, SwiGLU, GQA), greedily from
   BOS (id 1) at position 0 for up to 128 positions; the ids must equal EXPECTED_JSON's
   greedy_token_ids, which came from an independent llama2.c-style implementation. A wrong q/k
   permutation changes the RoPE phases and so the ids.
2. With LLAMA2C_BIN (a legacy version-0 checkpoint), also runs llama2.c's own formulation
   (interleaved-pair RoPE on the unpermuted weights) and reports the largest logit difference.
3. If HF_DIR has tokenizer.json, decodes the ids as its decoder would (Replace, ByteFallback,
   Fuse, Strip one leading space) and compares with greedy_text minus its leading space.
"""
import json
import math
import os
import struct
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import stio  # noqa: E402


def rmsnorm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def attention(q, k, v, n_heads, n_kv):
    # q: (T, nh, hs), k/v: (T, nkv, hs); causal
    T, _, hs = q.shape
    rep = n_heads // n_kv
    k = k.repeat_interleave(rep, dim=1)
    v = v.repeat_interleave(rep, dim=1)
    att = torch.einsum("thd,shd->hts", q, k) / math.sqrt(hs)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    att = att.masked_fill(mask, float("-inf")).softmax(-1)
    return torch.einsum("hts,shd->thd", att, v).reshape(T, -1)


def hf_forward(W, cfg, ids):
    d, nh, nkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hs = d // nh
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    T = len(ids)
    inv_freq = 1.0 / (theta ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs))
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
    emb = torch.cat([freqs, freqs], -1)
    cos, sin = emb.cos()[:, None, :], emb.sin()[:, None, :]

    def rot_half(x):
        return torch.cat([-x[..., hs // 2:], x[..., : hs // 2]], -1)

    x = W["model.embed_tokens.weight"][ids]
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        h = rmsnorm(x, W[p + "input_layernorm.weight"], eps)
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(T, nh, hs)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(T, nkv, hs)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(T, nkv, hs)
        q = q * cos + rot_half(q) * sin
        k = k * cos + rot_half(k) * sin
        x = x + attention(q, k, v, nh, nkv) @ W[p + "self_attn.o_proj.weight"].T
        h = rmsnorm(x, W[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(h @ W[p + "mlp.gate_proj.weight"].T) * (h @ W[p + "mlp.up_proj.weight"].T)
        x = x + g @ W[p + "mlp.down_proj.weight"].T
    x = rmsnorm(x, W["model.norm.weight"], eps)
    head = W["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else W["lm_head.weight"]
    return x @ head.T


def read_llama2c_v0(path):
    with open(path, "rb") as f:
        blob = f.read()
    dim, hidden, L, nh, nkv, vocab, seq = struct.unpack_from("<7i", blob, 0)
    shared = vocab > 0
    vocab = abs(vocab)
    hs = dim // nh
    flat = torch.frombuffer(bytearray(blob[28:]), dtype=torch.float32)
    pos = 0

    def take(*shape):
        nonlocal pos
        n = 1
        for s in shape:
            n *= s
        t = flat[pos:pos + n].reshape(shape)
        pos += n
        return t

    W = {"emb": take(vocab, dim), "rms_att": take(L, dim), "wq": take(L, dim, dim), "wk": take(L, nkv * hs, dim),
         "wv": take(L, nkv * hs, dim), "wo": take(L, dim, dim), "rms_ffn": take(L, dim), "w1": take(L, hidden, dim),
         "w2": take(L, dim, hidden), "w3": take(L, hidden, dim), "rms_final": take(dim)}
    take(seq * hs)  # freq_cis_real/imag
    W["wcls"] = W["emb"] if shared else take(vocab, dim)
    assert pos == flat.numel(), (pos, flat.numel())
    return W, dict(dim=dim, L=L, nh=nh, nkv=nkv, hs=hs)


def llama2c_forward(W, c, ids):
    T, nh, nkv, hs = len(ids), c["nh"], c["nkv"], c["hs"]
    # run.c: pair (2i, 2i+1) rotated by pos * 10000^(-2i/hs)
    inv = 1.0 / (10000.0 ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs))
    ang = torch.outer(torch.arange(T, dtype=torch.float32), inv)[:, None, :]
    cos, sin = ang.cos(), ang.sin()

    def rope(x):
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack([a * cos - b * sin, a * sin + b * cos], -1).flatten(-2)

    x = W["emb"][ids]
    for l in range(c["L"]):
        h = rmsnorm(x, W["rms_att"][l], 1e-5)
        q = rope((h @ W["wq"][l].T).view(T, nh, hs))
        k = rope((h @ W["wk"][l].T).view(T, nkv, hs))
        v = (h @ W["wv"][l].T).view(T, nkv, hs)
        x = x + attention(q, k, v, nh, nkv) @ W["wo"][l].T
        h = rmsnorm(x, W["rms_ffn"][l], 1e-5)
        x = x + (torch.nn.functional.silu(h @ W["w1"][l].T) * (h @ W["w3"][l].T)) @ W["w2"][l].T
    return rmsnorm(x, W["rms_final"], 1e-5) @ W["wcls"].T


def hf_decode(tok, ids):
    inv = {i: p for p, i in tok["model"]["vocab"].items()}
    out = b""
    for i in ids:
        p = inv[i].replace("\u2581", " ")
        if len(p) == 6 and p.startswith("<0x") and p.endswith(">"):
            out += bytes([int(p[3:5], 16)])
        else:
            out += p.encode("utf-8")
    s = out.decode("utf-8", errors="replace")
    return s[1:] if s.startswith(" ") else s


def main():
    hf_dir, expected_path = sys.argv[1], sys.argv[2]
    bin_path = sys.argv[3] if len(sys.argv) > 3 else None
    torch.set_grad_enabled(False)
    cfg = json.load(open(os.path.join(hf_dir, "config.json")))
    W, meta = stio.load(os.path.join(hf_dir, "model.safetensors"))
    W = {k: v.float() for k, v in W.items()}
    exp = json.load(open(expected_path)) if expected_path != "-" else None
    if exp is None and not bin_path:
        sys.exit("without EXPECTED_JSON a LLAMA2C_BIN is needed")
    want = exp["greedy_token_ids"] if exp else None
    print(f"config: {cfg['hidden_size']=} {cfg['num_hidden_layers']=} {cfg['num_attention_heads']=} "
          f"{cfg['num_key_value_heads']=} {cfg['vocab_size']=} tied={cfg['tie_word_embeddings']}; {len(W)} tensors, metadata {meta}")
    ref = read_llama2c_v0(bin_path) if bin_path else None
    ids = [exp.get("start_token", 1) if exp else 1]
    got = []
    max_diff = 0.0
    for _ in range(min(len(want) if exp else 16, cfg["max_position_embeddings"])):
        logits = hf_forward(W, cfg, ids)[-1]
        if ref:
            max_diff = max(max_diff, (llama2c_forward(ref[0], ref[1], ids)[-1] - logits).abs().max().item())
        nxt = int(logits.argmax())
        got.append(nxt)
        if nxt == 1:
            break
        ids.append(nxt)
    if exp:
        same = got == want
        first_bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        print(f"greedy ids: {len(got)} generated, {len(want)} expected, identical={same}"
              + ("" if same else f", first difference at step {first_bad}"))
    else:
        same = True
        print(f"greedy ids (no reference): {got}")
    if ref:
        print(f"llama2.c formulation on the original .bin vs HF formulation on the converted dir: max |logit diff| = {max_diff:.3g}")
    ok = same and (not ref or max_diff < 1e-3)
    tj = os.path.join(hf_dir, "tokenizer.json")
    if exp and os.path.exists(tj):
        text = hf_decode(json.load(open(tj, encoding="utf-8")), want)
        want_text = exp["greedy_text"][1:] if exp["greedy_text"].startswith(" ") else exp["greedy_text"]
        print(f"tokenizer.json decode of the expected ids equals greedy_text (leading space stripped): {text == want_text}")
        ok = ok and text == want_text
    print("OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
