#!/usr/bin/python3
"""The PyTorch peer of bench/step_dist.c: the same steps (the "small" DQN + DR3 update of
bench/pytorch_step.py; SAC and CQL of bench/pytorch_ac_step.py) timed one by one, printing
the minimum, 10th percentile and median in step_dist's format, for bench/ratio_dist.sh.

Run with Debian's python3 (python3-torch):
    /usr/bin/python3 bench/pytorch_step_dist.py [threads [small|sac|cql|all [steps]]]
Debian's PyTorch takes its BLAS threads from BLIS_NUM_THREADS; the script re-executes itself
with it set to the thread count (torch_timing.use_threads).
"""
import sys

import torch

import pytorch_ac_step  # bench/, beside this script
import pytorch_step
from torch_timing import step_times, use_threads


def report(name, threads, times):
    n = len(times)
    print(f"{name:6} {threads:3d} {n:6d} {times[0] * 1e3:10.3f} {times[n // 10] * 1e3:10.3f} "
          f"{times[n // 2] * 1e3:10.3f}", flush=True)


def main():
    threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    what = sys.argv[2] if len(sys.argv) > 2 else "all"
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    use_threads(threads)
    print(f"torch {torch.__version__}")
    print(f"{'step':6} {'thr':>3} {'steps':>6} {'min ms':>10} {'p10 ms':>10} {'median ms':>10}")
    if what in ("all", "small"):
        cfg = next(c for c in pytorch_step.CONFIGS if c[0] == "small")
        report("small", threads, step_times(pytorch_step.make_step(cfg, threads), steps))
    if what in ("all", "sac"):
        report("sac", threads, step_times(pytorch_ac_step.make_step(False), steps))
    if what in ("all", "cql"):  # a CQL step is ~8x a SAC step: fewer of them, as step_dist
        report("cql", threads, step_times(pytorch_ac_step.make_step(True), max(steps // 4, 10)))


if __name__ == "__main__":
    main()
