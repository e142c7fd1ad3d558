"""The timing loop the PyTorch peers of the benchmarks share (bench/pytorch_*.py): the same
windows libdr3's benches use, so that both sides are measured the same way."""
import time


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
