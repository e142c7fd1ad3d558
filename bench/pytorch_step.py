#!/usr/bin/python3
"""The same DQN-style update as bench/step_bench.c, in PyTorch (the peer to compare with).

Online forward on the stacked [s; s'] (2n rows), target forward on s', max backup, Huber TD
loss, DR3 term 0.1 * mean(phi(s) . phi(s')) with gradients through both, one backward,
Adam. Prints steps/s per configuration and thread count.
Run with Debian's python3 (python3-torch): /usr/bin/python3 bench/pytorch_step.py [secs [threads]]
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_timing import per_thread_count, time_best, use_threads  # bench/, beside this

CONFIGS = [("tiny", 4, 64, 2, 2, 32), ("small", 4, 256, 2, 2, 256), ("large", 64, 1024, 2, 18, 512)]


class QNet(nn.Module):
    def __init__(self, obs, hidden, depth, actions):
        super().__init__()
        layers, width = [], obs
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            width = hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, actions)

    def forward(self, x):
        phi = self.body(x)
        return self.head(phi), phi


def make_step(cfg, threads):
    """The update of configuration cfg as a closure (bench/pytorch_step_dist.py times it
    step by step); the process runs with `threads` threads (use_threads)."""
    use_threads(threads)
    name, obs, hidden, depth, actions, n = cfg
    torch.manual_seed(0)
    online, target = QNet(obs, hidden, depth, actions), QNet(obs, hidden, depth, actions)
    target.load_state_dict(online.state_dict())
    opt = torch.optim.Adam(online.parameters(), lr=1e-3)
    stacked = torch.rand(2 * n, obs) * 2 - 1
    r = torch.rand(n)
    a = torch.randint(0, actions, (n,))

    def step():
        q_all, phi = online(stacked)
        with torch.no_grad():
            qt, _ = target(stacked[n:])
            y = r + 0.99 * qt.max(dim=1).values
        q = q_all[:n].gather(1, a[:, None]).squeeze(1)
        td = F.huber_loss(q, y, delta=1.0)
        dr3 = 0.1 * (phi[:n] * phi[n:]).sum(dim=1).mean()
        loss = td + dr3
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def bench(cfg, threads, secs):
    return time_best(make_step(cfg, threads), secs, warmup=5)[0]


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    # one thread count per process (torch_timing.use_threads sets BLIS_NUM_THREADS for it)
    if len(sys.argv) <= 2:
        print(f"torch {torch.__version__}")
        print(f"{'config':6} {'thr':>3} {'ms/step':>9} {'steps/s':>9}")
        per_thread_count((1, 2), lambda t: [str(secs), str(t)])
        return
    threads_list = (int(sys.argv[2]),)
    use_threads(threads_list[0])
    for threads in threads_list:
        for cfg in CONFIGS:
            t = bench(cfg, threads, secs)
            print(f"{cfg[0]:6} {threads:3d} {t * 1e3:9.3f} {1 / t:9.0f}")
            print(f"RESULT torch {cfg[0]} {threads} {1 / t:.3f}")


if __name__ == "__main__":
    main()
