#!/usr/bin/python3
"""PyTorch DistributedDataParallel (gloo, CPU) training-step benchmark of a nanoGPT GPT.

Compares data parallelism across processes with threading inside one process at the same
global batch on a 2-core machine: `--world 2` runs 2 ranks x 1 thread, each on half the
batch, with DDP all-reducing gradients; `--world 1` runs 1 process x 2 threads on the whole
batch (no DDP). The script spawns the ranks itself (torch.multiprocessing.spawn, gloo over
127.0.0.1 on a free port) and sets torch.set_num_threads(max(1, 2 // world)) in each.

Per step it times forward + zero_grad + backward + AdamW step, after a barrier so that
ranks start together, and reports rank 0's median over --repeats (after --warmup untimed
steps). With world 2 it also times backward, where DDP overlaps the bucketed gradient
all-reduce (bucket_cap_mb 25) with the rest of the backward pass; it then runs as many
steps again inside ddp.no_sync(), where no all-reduce happens, and takes

  exposed all-reduce = median(backward, synced) - median(backward, no_sync)

as the communication time that the overlap does not hide.

Run (Debian python3-torch on CPU):
  python3 tools/bench/torch_ddp.py --config cpu-preset --world 1 --warmup 3 --repeats 10
  python3 tools/bench/torch_ddp.py --config cpu-preset --world 2 --warmup 3 --repeats 10
  python3 tools/bench/torch_ddp.py --config gpt2 --world 2 --warmup 1 --repeats 3

Rank 0 prints one line:
  pytorch-ddp <config> world=<w> threads=<t>: median step <ms> ms[, backward <ms> ms synced
  vs <ms> ms no_sync: exposed all-reduce <ms> ms (<pct>% of step)]
"""
import argparse
import math
import os
import socket
import statistics
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

CONFIGS = {  # name: (n_layer, n_head, n_embd, vocab, block, bias, global batch, T)
    "cpu-preset": (4, 4, 128, 65, 64, False, 12, 64),
    "gpt2": (12, 12, 768, 50257, 1024, True, 4, 64),
}
CORES = 2  # the thread budget shared by all ranks


# --- nanoGPT-style GPT -------------------------------------------------------------------

class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd, n_head, block, bias):
        super().__init__()
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.n_head = n_head
        self.flash = hasattr(F, "scaled_dot_product_attention")  # PyTorch >= 2.0
        # A plain attribute rather than a registered buffer: DDP broadcasts buffers from
        # rank 0 on every forward, which would add communication unrelated to gradients.
        self.mask = None if self.flash else torch.tril(torch.ones(block, block, dtype=torch.bool))

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        if self.flash:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
            y = F.softmax(att, dim=-1) @ v
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class MLP(nn.Module):
    def __init__(self, n_embd, bias):
        super().__init__()
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


def layer_norm(n_embd, bias):
    ln = nn.LayerNorm(n_embd)
    if not bias:
        ln.bias = None  # nanoGPT's LayerNorm(bias=False); nn.LayerNorm(bias=) is newer than 1.13
    return ln


class Block(nn.Module):
    def __init__(self, n_embd, n_head, block, bias):
        super().__init__()
        self.ln_1 = layer_norm(n_embd, bias)
        self.attn = CausalSelfAttention(n_embd, n_head, block, bias)
        self.ln_2 = layer_norm(n_embd, bias)
        self.mlp = MLP(n_embd, bias)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, n_layer, n_head, n_embd, vocab, block, bias):
        super().__init__()
        self.wte = nn.Embedding(vocab, n_embd)
        self.wpe = nn.Embedding(block, n_embd)
        self.h = nn.ModuleList([Block(n_embd, n_head, block, bias) for _ in range(n_layer)])
        self.ln_f = layer_norm(n_embd, bias)
        self.lm_head = nn.Linear(n_embd, vocab, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        for name, p in self.named_parameters():  # nanoGPT's init
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * n_layer) if name.endswith("c_proj.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for b in self.h:
            x = b(x)
        logits = self.lm_head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


# --- benchmark ---------------------------------------------------------------------------

def run_steps(model, opt, x, y, n, warmup):
    """n steps; returns (step times, backward times) of the steps after the first `warmup`."""
    steps, backs = [], []
    for i in range(n):
        dist.barrier()  # ranks start each step together
        t0 = time.perf_counter()
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        t1 = time.perf_counter()
        # Under DDP, backward() returns only once every gradient bucket has been reduced.
        loss.backward()
        t2 = time.perf_counter()
        opt.step()
        t3 = time.perf_counter()
        if i >= warmup:
            steps.append(t3 - t0)
            backs.append(t2 - t1)
    return steps, backs


def worker(rank, world, port, a):
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    torch.set_num_threads(max(1, CORES // world))
    dist.init_process_group("gloo", rank=rank, world_size=world)

    n_layer, n_head, n_embd, vocab, block, bias, global_batch, T = CONFIGS[a.config]
    B = global_batch // world
    torch.manual_seed(0)  # same initial weights on every rank (DDP also broadcasts rank 0's)
    model = GPT(n_layer, n_head, n_embd, vocab, block, bias)
    gen = torch.Generator().manual_seed(1337 + rank)  # each rank its own fixed shard
    x = torch.randint(vocab, (B, T), generator=gen)
    y = torch.randint(vocab, (B, T), generator=gen)
    if world > 1:
        model = DDP(model, bucket_cap_mb=25)
    # nanoGPT's optimizer: weight decay on matrices/embeddings only.
    params = list(model.parameters())
    opt = torch.optim.AdamW(
        [{"params": [p for p in params if p.dim() >= 2], "weight_decay": 0.1},
         {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}],
        lr=1e-4, betas=(0.9, 0.95))

    n = a.warmup + a.repeats
    steps, backs = run_steps(model, opt, x, y, n, a.warmup)
    line = (f"pytorch-ddp {a.config} world={world} threads={torch.get_num_threads()}: "
            f"median step {statistics.median(steps) * 1000:.1f} ms")
    if world > 1:
        # Same steps without gradient all-reduce: the backward-time difference is the
        # communication that DDP could not overlap with computation. (Ranks' weights
        # diverge here, which does not matter for timing.)
        with model.no_sync():
            _, backs_local = run_steps(model, opt, x, y, n, a.warmup)
        synced, local = statistics.median(backs), statistics.median(backs_local)
        exposed = synced - local
        line += (f", backward {synced * 1000:.1f} ms synced vs {local * 1000:.1f} ms no_sync: "
                 f"exposed all-reduce {exposed * 1000:.1f} ms "
                 f"({exposed / statistics.median(steps) * 100:.1f}% of step)")
    if rank == 0:
        print(line, flush=True)
    dist.barrier()
    dist.destroy_process_group()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default="cpu-preset", choices=list(CONFIGS))
    p.add_argument("--world", type=int, default=2, choices=[1, 2])
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--repeats", type=int, default=10)
    a = p.parse_args()
    mp.spawn(worker, args=(a.world, free_port(), a), nprocs=a.world, join=True)


if __name__ == "__main__":
    main()
