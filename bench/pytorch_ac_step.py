#!/usr/bin/python3
"""The same actor-critic updates as bench/ac_step.c, in PyTorch (the peer to compare with).

SAC and CQL(H) with N = 10, two critics and a tanh-Gaussian actor of 2 x 256 hidden units
(ReLU), batch 256, obs 17, action 6, DR3 (c0 = 0.1) on each critic's features at (s, a) and
(s', a'), automatic entropy tuning, Adam everywhere, Polyak targets. Each critic runs once on
the stacked rows [s, a; s', a'; CQL rows] (what libdr3 does; also the faster choice here).
Prints "algo threads wall_ms cpu_ms" lines (best of five windows each).
Run with Debian's python3 (python3-torch): /usr/bin/python3 bench/pytorch_ac_step.py [secs]
"""
import math
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_timing import per_thread_count, time_best, use_threads  # bench/, beside this

OBS, ACT, BATCH, N, C0 = 17, 6, 256, 10, 0.1


def mlp(i, o):
    return nn.Sequential(nn.Linear(i, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                         nn.Linear(256, o))


def feat_q(net, x):
    phi = net[:-1](x)
    return net[-1](phi).squeeze(-1), phi


def sample(actor, obs, reps=1):
    mu, ls = actor(obs).chunk(2, -1)
    ls = ls.clamp(-20, 2)
    if reps > 1:
        mu, ls = mu.repeat_interleave(reps, 0), ls.repeat_interleave(reps, 0)
    std = ls.exp()
    u = mu + std * torch.randn_like(mu)
    logp = (-0.5 * ((u - mu) / std) ** 2 - ls - 0.5 * math.log(2 * math.pi)).sum(-1) \
        - (2 * (math.log(2) - u - F.softplus(-2 * u))).sum(-1)
    return torch.tanh(u), logp


def make_step(cql):
    torch.manual_seed(0)
    q = [mlp(OBS + ACT, 1) for _ in range(2)]
    qt = [mlp(OBS + ACT, 1) for _ in range(2)]
    for a, b in zip(qt, q):
        a.load_state_dict(b.state_dict())
    actor = mlp(OBS, 2 * ACT)
    log_alpha = torch.zeros((), requires_grad=True)
    q_opt = torch.optim.Adam([p for m in q for p in m.parameters()], lr=3e-4)
    pi_opt = torch.optim.Adam(actor.parameters(), lr=3e-4)
    a_opt = torch.optim.Adam([log_alpha], lr=3e-4)
    obs = torch.rand(BATCH, OBS) * 2 - 1
    nobs = torch.rand(BATCH, OBS) * 2 - 1
    act = torch.rand(BATCH, ACT) * 2 - 1
    rew = torch.rand(BATCH)
    n = BATCH

    def step():
        alpha = log_alpha.exp().detach()
        with torch.no_grad():
            a2, lp2 = sample(actor, nobs)
            qn = torch.min(*[m(torch.cat([nobs, a2], 1)).squeeze(-1) for m in qt])
            y = rew + 0.99 * (qn - alpha * lp2)
            if cql:
                obs_rep = obs.repeat_interleave(N, 0)
                a_rand = torch.rand(n * N, ACT) * 2 - 1
                a_cur, lp_cur = sample(actor, obs, N)
                a_nxt, lp_nxt = sample(actor, nobs, N)
        s_rows = [torch.cat([obs, act], 1), torch.cat([nobs, a2], 1)]
        if cql:
            s_rows += [torch.cat([obs_rep, a_rand], 1), torch.cat([obs_rep, a_cur], 1),
                       torch.cat([obs_rep, a_nxt], 1)]
        x = torch.cat(s_rows, 0)
        closs = 0
        for m in q:
            qa, phi = feat_q(m, x)
            closs = closs + F.mse_loss(qa[:n], y) + C0 * (phi[:n] * phi[n:2 * n]).sum(1).mean()
            if cql:
                r0 = 2 * n
                qr = qa[r0:r0 + n * N].view(n, N) + ACT * math.log(2)
                qc = qa[r0 + n * N:r0 + 2 * n * N].view(n, N) - lp_cur.view(n, N)
                qx = qa[r0 + 2 * n * N:].view(n, N) - lp_nxt.view(n, N)
                term = torch.logsumexp(torch.cat([qr, qc, qx], 1), 1).mean() - qa[:n].mean()
                closs = closs + 5.0 * term
        at, lp = sample(actor, obs)
        qpi = torch.min(*[m(torch.cat([obs, at], 1)).squeeze(-1) for m in q])
        aloss = (alpha * lp - qpi).mean()
        alpha_loss = -(log_alpha * (lp.detach() - ACT)).mean()
        q_params = [p for m in q for p in m.parameters()]
        gq = torch.autograd.grad(closs, q_params)
        gpi = torch.autograd.grad(aloss, list(actor.parameters()))
        ga = torch.autograd.grad(alpha_loss, [log_alpha])
        for p, g in zip(q_params, gq):
            p.grad = g
        for p, g in zip(actor.parameters(), gpi):
            p.grad = g
        log_alpha.grad = ga[0]
        q_opt.step()
        pi_opt.step()
        a_opt.step()
        with torch.no_grad():
            for a, b in zip(qt, q):
                for pa, pb in zip(a.parameters(), b.parameters()):
                    pa.mul_(0.995).add_(0.005 * pb)

    return step


def main():
    secs = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    if len(sys.argv) <= 2:  # one process per thread count (torch_timing.use_threads)
        print(f"torch {torch.__version__}")
        per_thread_count((1, 2), lambda t: [str(secs), str(t)])
        return
    threads = int(sys.argv[2])
    use_threads(threads)
    for name, cql in (("sac", False), ("cql", True)):
        wall, cpu = time_best(make_step(cql), secs)
        print(f"{name} {threads} {1e3 * wall:.3f} {1e3 * cpu:.3f}", flush=True)


if __name__ == "__main__":
    main()
