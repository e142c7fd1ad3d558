#!/usr/bin/python3
"""The update of bench/conv_step.c in PyTorch (the peer): the MinAtar and Nature networks,
batch 32 and 128, online forward on the stacked [s; s'], target forward on s', max backup,
Huber TD, DR3 0.1 * mean(phi(s) . phi(s')) through both, one backward, Adam. Best of 5
windows; GFLOP/s counted as bench/conv_step.c counts them (n * (7F - 2F1)).
Run with Debian's python3 (python3-torch):
  /usr/bin/python3 bench/pytorch_conv_step.py [secs] [minatar|nature|all] [threads] [batch]
(threads / batch 0 or absent: both values)
"""
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_timing import per_thread_count, time_best, use_threads  # bench/, beside this



def preset(name, c, actions):
    if name == "minatar":
        body = nn.Sequential(nn.Conv2d(c, 16, 3), nn.ReLU(), nn.Flatten(), nn.Linear(1024, 128),
                             nn.ReLU())
        return body, nn.Linear(128, actions), (c, 10, 10)
    body = nn.Sequential(nn.Conv2d(c, 32, 8, 4), nn.ReLU(), nn.Conv2d(32, 64, 4, 2), nn.ReLU(),
                         nn.Conv2d(64, 64, 3, 1), nn.ReLU(), nn.Flatten(), nn.Linear(3136, 512),
                         nn.ReLU())
    return body, nn.Linear(512, actions), (c, 84, 84)


class Q(nn.Module):
    def __init__(self, name, c, actions):
        super().__init__()
        self.body, self.head, self.shape = preset(name, c, actions)

    def forward(self, x):
        phi = self.body(x)
        return self.head(phi), phi


def bench(name, threads, secs, n=32, c=4, actions=6):
    use_threads(threads)
    torch.manual_seed(0)
    online, target = Q(name, c, actions), Q(name, c, actions)
    target.load_state_dict(online.state_dict())
    opt = torch.optim.Adam(online.parameters(), lr=1e-4)
    stacked = torch.rand(2 * n, *online.shape)
    r = torch.rand(n)
    a = torch.randint(0, actions, (n,))

    def step():
        q_all, phi = online(stacked)
        with torch.no_grad():
            qt, _ = target(stacked[n:])
            y = r + 0.99 * qt.max(dim=1).values
        q = q_all[:n].gather(1, a[:, None]).squeeze(1)
        loss = F.huber_loss(q, y, delta=1.0) + 0.1 * (phi[:n] * phi[n:]).sum(dim=1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return time_best(step, secs, warmup=3)


def step_flops(name, n, c=4, actions=6):
    """Multiply-adds x 2 of one step, as step_flops() in bench/conv_step.c."""
    if name == "minatar":
        layers = [2 * 16 * c * 9 * 64, 2 * 1024 * 128, 2 * 128 * actions]
    else:
        layers = [2 * 32 * c * 64 * 400, 2 * 64 * 32 * 16 * 81, 2 * 64 * 64 * 9 * 49,
                  2 * 3136 * 512, 2 * 512 * actions]
    return n * (7 * sum(layers) - 2 * layers[0])


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    only = sys.argv[2] if len(sys.argv) > 2 else "all"
    only_threads = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    only_batch = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    if only_threads == 0:  # one process per thread count (torch_timing.use_threads)
        print(f"torch {torch.__version__}")
        print(f"{'config':8} {'batch':>5} {'thr':>3} {'ms/step':>9} {'steps/s':>9} "
              f"{'GFLOP/s':>8} {'cpu ms':>9}")
        per_thread_count((1, 2), lambda t: [str(secs), only, str(t), str(only_batch)])
        return
    use_threads(only_threads)
    for threads in (1, 2):
        for n in (32, 128):
            for name in ("minatar", "nature"):
                if (only not in ("all", name) or only_threads not in (0, threads)
                        or only_batch not in (0, n)):
                    continue
                t, cpu = bench(name, threads, secs, n=n)
                print(f"{name:8} {n:5d} {threads:3d} {t * 1e3:9.3f} {1 / t:9.1f} "
                      f"{step_flops(name, n) / t * 1e-9:8.1f} {cpu * 1e3:9.3f}", flush=True)


if __name__ == "__main__":
    main()
