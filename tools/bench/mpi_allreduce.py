#!/usr/bin/python3
"""MPI Allreduce bandwidth with mpi4py: the reference point for jllm's distributed all-reduce.

For each buffer size it times `comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)` on a float32
numpy buffer of size_mb MiB. Every timed call is preceded by a Barrier so that all ranks
enter together; a call's time is the slowest rank's (MAX over ranks), and the reported
figure is the median of those over --repeats, after --warmup untimed calls.

  algbw = bytes / seconds / 1e9
  busbw = algbw * 2 * (n - 1) / n     (NCCL-tests convention; n = world size)

Run (as root, Open MPI needs the two extra flags):
  mpirun --allow-run-as-root --oversubscribe -np 2 \\
      /usr/bin/python3 tools/bench/mpi_allreduce.py --sizes-mb 1,4,16,64,256,512 --repeats 5 --warmup 2

Rank 0 prints one line per size:
  mpi4py allreduce <size_mb> MB: median <ms> ms, algbw <GB/s> GB/s, busbw <GB/s> GB/s
"""
import argparse
import statistics
import time

import numpy as np
from mpi4py import MPI


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes-mb", default="1,4,16,64,256,512",
                   help="comma-separated buffer sizes in MiB (may be fractional)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()

    comm = MPI.COMM_WORLD
    rank, n = comm.Get_rank(), comm.Get_size()

    for size_mb in (s.strip() for s in a.sizes_mb.split(",") if s.strip()):
        nbytes = int(float(size_mb) * 1024 * 1024)
        buf = np.ones(nbytes // 4, dtype=np.float32)  # ones: touch every page before timing
        times = []
        for i in range(a.warmup + a.repeats):
            comm.Barrier()
            t0 = time.perf_counter()
            comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
            dt = time.perf_counter() - t0
            # The collective is only done when the slowest rank is done.
            dt = comm.allreduce(dt, op=MPI.MAX)
            if i >= a.warmup:
                times.append(dt)
        del buf
        if rank == 0:
            med = statistics.median(times)
            algbw = nbytes / med / 1e9
            busbw = algbw * 2 * (n - 1) / n
            print(f"mpi4py allreduce {size_mb} MB: median {med * 1000:.2f} ms, "
                  f"algbw {algbw:.2f} GB/s, busbw {busbw:.2f} GB/s", flush=True)


if __name__ == "__main__":
    main()
