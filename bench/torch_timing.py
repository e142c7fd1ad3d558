"""What the PyTorch peers of the benchmarks share (bench/pytorch_*.py): the thread setup,
and the same timing windows libdr3's benches use, so that both sides are measured the same
way."""
import os
import subprocess
import sys
import time


def use_threads(threads):
    """Makes this process run PyTorch with `threads` threads, GEMMs included.

    Debian's PyTorch runs its matrix products (and convolutions, as im2col + GEMM) on BLIS,
    which takes its thread count from BLIS_NUM_THREADS once, when it starts;
    torch.set_num_threads reaches only PyTorch's own element-wise loops. So unless
    BLIS_NUM_THREADS already says `threads`, this re-executes the script with it set (the
    same arguments), and then sets PyTorch's own count. (Before 2026-11-29 the actor-critic
    and conv peers left BLIS at one thread in their 2-thread rows; docs/performance.md.)"""
    if os.environ.get("BLIS_NUM_THREADS") != str(threads):
        sys.stdout.flush()
        env = dict(os.environ, BLIS_NUM_THREADS=str(threads))
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    import torch
    torch.set_num_threads(threads)


def per_thread_count(threads_list, argv_for):
    """Runs this script once per thread count t, in a process of its own started with the
    arguments argv_for(t) (which must select that one count, so that the child calls
    use_threads(t)), passing its output through."""
    for t in threads_list:
        sys.stdout.flush()
        env = dict(os.environ, BLIS_NUM_THREADS=str(t))
        subprocess.run([sys.executable, sys.argv[0]] + argv_for(t), env=env, check=True)


def time_best(step, secs, warmup=3):
    """(wall, cpu) seconds per call of step(): the best of five windows of secs / 5 each, by
    wall clock and by process CPU time (the latter is less disturbed by other processes on a
    shared machine; with one thread the two agree on an idle one)."""
    for _ in range(warmup):
        step()
    best, best_cpu = float("inf"), float("inf")
    for _ in range(5):
        iters, t0, c0 = 0, time.perf_counter(), time.process_time()
        while True:
            step()
            iters += 1
            t = time.perf_counter() - t0
            if t >= secs / 5:
                break
        best = min(best, t / iters)
        best_cpu = min(best_cpu, (time.process_time() - c0) / iters)
    return best, best_cpu


def step_times(step, count, warmup=5):
    """The wall-clock seconds of each of count calls of step(), timed one by one, sorted:
    the distribution bench/step_dist.c prints for libdr3 (minimum, 10th percentile,
    median)."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return sorted(times)
