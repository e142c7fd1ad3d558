#!/usr/bin/python3
"""The update of bench/conv_step.c in PyTorch (the peer): the MinAtar and Nature networks,
batch 32, online forward on the stacked [s; s'], target forward on s', max backup, Huber TD,
DR3 0.1 * mean(phi(s) . phi(s')) through both, one backward, Adam. Best of 5 windows.
Run with Debian's python3 (python3-torch): /usr/bin/python3 bench/pytorch_conv_step.py [secs]
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_step import time_best  # noqa: E402  (one timing loop for both peers)


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
    torch.set_num_threads(threads)
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


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    print(f"torch {torch.__version__}")
    print(f"{'config':8} {'thr':>3} {'ms/step':>9} {'steps/s':>9}")
    for threads in (1, 2):
        for name in ("minatar", "nature"):
            t = bench(name, threads, secs)
            print(f"{name:8} {threads:3d} {t * 1e3:9.3f} {1 / t:9.1f}", flush=True)


if __name__ == "__main__":
    main()
