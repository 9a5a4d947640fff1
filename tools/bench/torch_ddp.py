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
import os
import socket
import statistics
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn.parallel import DistributedDataParallel as DDP

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_gpt import CONFIGS, GPT, optimizer  # the model and nanoGPT's AdamW groups of the other GPT benchmarks

CORES = 2  # the thread budget shared by all ranks


# --- benchmark ---------------------------------------------------------------------------

def run_steps(model, opt, x, y, n, warmup):
    """n steps; returns (step times, backward times) of the steps after the first `warmup`."""
    steps, backs = [], []
    for i in range(n):
        dist.barrier()  # ranks start each step together
        t0 = time.perf_counter()
        _, loss = model(x, y)
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

    vocab, block, n_layer, n_head, n_embd, bias, global_batch, T = CONFIGS[a.config]
    B = global_batch // world
    torch.manual_seed(0)  # same initial weights on every rank (DDP also broadcasts rank 0's)
    model = GPT(vocab, block, n_layer, n_head, n_embd, bias)
    gen = torch.Generator().manual_seed(1337 + rank)  # each rank its own fixed shard
    x = torch.randint(vocab, (B, T), generator=gen)
    y = torch.randint(vocab, (B, T), generator=gen)
    # the causal mask becomes a plain attribute: a constant, not state to synchronise, and gloo
    # cannot broadcast bool tensors (DDP broadcasts buffers at construction and before every forward)
    for m in model.modules():
        if "mask" in m._buffers:
            m.mask = m._buffers.pop("mask")
    if world > 1:
        model = DDP(model, bucket_cap_mb=25)
    opt = optimizer(model, 1e-4, 0.1, 0.9, 0.95)  # nanoGPT's: weight decay on matrices/embeddings only

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
