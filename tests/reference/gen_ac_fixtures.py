#!/usr/bin/python3
"""Writes tests/data/reference/ac_fixtures.h: two update steps of SAC, CQL (fixed and
Lagrange), TD3+BC and offline SARSA, each with DR3 on the critic features, computed by
PyTorch (autograd, torch.optim.Adam) from the same weights, batches and random draws that
tests/test_ac_reference.c gives libdr3.

Run with Debian's /usr/bin/python3 (torch 1.13, numpy):

    /usr/bin/python3 tests/reference/gen_ac_fixtures.py

The algorithms are written here from the papers and the public reference code (rlkit/CQL's
cql.py, CORL's td3_bc.py) in plain torch, independently of libdr3's C code. Conventions that
the C side documents in dr3/ac.h and docs/actor-critic.md:
- actions are normalised to [-1, 1] from the box [low, high] before the networks see them;
- every loss of a step is computed from the parameters before the step (alpha, alpha' too);
- critics: MSE TD loss per critic, summed; targets y = r + d (min_j Qt_j(s', a') - alpha
  log pi(a'|s')); Polyak after the optimizer steps;
- CQL(H): per critic T logsumexp(cat / T) over N uniform actions (- log 0.5^|A|), N actions of
  pi at s and N of pi at s' (- their log-probs, detached), all evaluated at s, minus mean
  Q(s, a); fixed weight or alpha' (alpha' loss -1/2 sum_j alpha' (w term_j - gap));
- TD3+BC: target smoothing, actor and targets every policy_delay steps, lambda = alpha /
  mean|Q1|, BC = F.mse_loss(pi(s), a) (mean over all elements);
- DR3: c0 mean_i phi_j(s_i, a_i) . phi_j(s'_i, a'_i) per critic, gradient through both.
"""
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "reference",
                   "ac_fixtures.h")

SAC, CQL, TD3BC, SARSA = 0, 1, 2, 3
FIXED, LAGRANGE = 0, 1
STEPS = 2


def f32(x):
    return float(np.float32(x))


def fmt(x):
    s = "%.9g" % float(x)
    if not any(c in s for c in ".en"):
        s += ".0"
    return s + "f"


class Mlp(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        mods = []
        for i in range(len(sizes) - 1):
            mods.append(nn.Linear(sizes[i], sizes[i + 1]))
            if i + 2 < len(sizes):
                mods.append(nn.ReLU())
        self.layers = nn.Sequential(*mods)

    def forward(self, x):
        phi = self.layers[:-1](x)
        return self.layers[-1](phi), phi


def flat(m):
    return torch.cat([p.detach().reshape(-1) for p in m.parameters()]).numpy().copy()


def log1m_tanh2(u):
    return 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))


def tanh_gauss(out, eps, c):
    A = eps.shape[-1]
    mu, ls = out[..., :A], out[..., A:]
    ls = torch.clamp(ls, c["log_std_min"], c["log_std_max"])
    std = ls.exp()
    u = mu + std * eps
    logp = torch.distributions.Normal(mu, std).log_prob(u).sum(-1) - log1m_tanh2(u).sum(-1)
    return torch.tanh(u), logp


def run_case(c, rng):
    torch.manual_seed(c["seed"])
    D, A, n, N = c["obs_dim"], c["action_dim"], c["n"], c["N"]
    n_full = n
    nq = c["nq"]
    low = np.array(c["low"], np.float32)
    high = np.array(c["high"], np.float32)
    csz = [D + A] + c["critic_hidden"] + [1]
    gaussian = c["algo"] in (SAC, CQL)
    asz = [D] + c["actor_hidden"] + [2 * A if gaussian else A]
    q = [Mlp(csz) for _ in range(nq)]
    qt = [Mlp(csz) for _ in range(nq)]  # a different draw than the online critics
    pi = Mlp(asz) if c["algo"] != SARSA else None
    pit = Mlp(asz) if c["algo"] == TD3BC else None
    log_alpha = torch.tensor(math.log(c["init_alpha"]), dtype=torch.float32, requires_grad=True)
    log_cql = torch.tensor(math.log(c["cql_init_alpha"]), dtype=torch.float32,
                           requires_grad=True)
    init = {
        "q": [flat(m) for m in q], "qt": [flat(m) for m in qt],
        "pi": flat(pi) if pi else np.zeros(1, np.float32),
        "pit": flat(pit) if pit else np.zeros(1, np.float32),
        "log_alpha": float(log_alpha), "log_cql": float(log_cql),
    }
    q_opt = [torch.optim.Adam(m.parameters(), lr=c["critic_lr"]) for m in q]
    pi_opt = torch.optim.Adam(pi.parameters(), lr=c["actor_lr"]) if pi else None
    a_opt = torch.optim.Adam([log_alpha], lr=c["alpha_lr"])
    cql_opt = torch.optim.Adam([log_cql], lr=c["alpha_lr"])

    def norm(a):
        return 2.0 * (a - torch.from_numpy(low)) / torch.from_numpy(high - low) - 1.0

    steps = []
    metrics = []
    for t in range(STEPS):
        n = n_full
        b = {
            "obs": rng.uniform(-1.5, 1.5, (n, D)),
            "actions": rng.uniform(low, high, (n, A)),
            "rewards": rng.uniform(-1, 1, n),
            "next_obs": rng.uniform(-1.5, 1.5, (n, D)),
            "terminals": (rng.uniform(0, 1, n) < 0.25).astype(np.uint8),
            "next_actions": rng.uniform(low, high, (n, A)),
            "eps_next": rng.standard_normal((n, A)),
            "eps_actor": rng.standard_normal((n, A)),
            "cql_uniform": rng.uniform(-1, 1, (n * max(N, 1), A)),
            "cql_eps_obs": rng.standard_normal((n * max(N, 1), A)),
            "cql_eps_next": rng.standard_normal((n * max(N, 1), A)),
            "td3_noise": rng.standard_normal((n, A)),
        }
        b = {k: (v.astype(np.float32) if v.dtype != np.uint8 else v) for k, v in b.items()}
        steps.append(b)
        # step t uses its first n_t rows (and their n_t·N CQL draws): batch sizes may vary
        n_t = c["n"] if t == 0 else c.get("n2", c["n"])
        per_row = {"cql_uniform": max(N, 1), "cql_eps_obs": max(N, 1), "cql_eps_next": max(N, 1)}
        T = {k: torch.from_numpy(v[:n_t * per_row.get(k, 1)].copy()) for k, v in b.items()}
        n = n_t
        obs, nobs = T["obs"], T["next_obs"]
        a = norm(T["actions"])
        disc = c["gamma"] * (1.0 - T["terminals"].float())
        alpha = log_alpha.exp().detach() if gaussian else torch.tensor(0.0)
        # ---- a' and targets (no gradient) ----
        with torch.no_grad():
            if gaussian:
                a2, logp2 = tanh_gauss(pi(nobs)[0], T["eps_next"], c)
            elif c["algo"] == TD3BC:
                noise = (T["td3_noise"] * c["policy_noise"]).clamp(-c["noise_clip"],
                                                                    c["noise_clip"])
                a2 = (torch.tanh(pit(nobs)[0]) + noise).clamp(-1.0, 1.0)
                logp2 = torch.zeros(n)
            else:
                a2 = norm(T["next_actions"])
                logp2 = torch.zeros(n)
            qn = torch.stack([m(torch.cat([nobs, a2], 1))[0].squeeze(1) for m in qt]).min(0)[0]
            ent = alpha * logp2 if gaussian and c["backup_entropy"] else 0.0
            y = T["rewards"] + disc * (qn - ent)
            if N > 0:
                obs_rep = obs.repeat_interleave(N, 0)
                rand = T["cql_uniform"]
                a_curr, lp_curr = tanh_gauss(pi(obs)[0].repeat_interleave(N, 0),
                                             T["cql_eps_obs"], c)
                a_next, lp_next = tanh_gauss(pi(nobs)[0].repeat_interleave(N, 0),
                                             T["cql_eps_next"], c)
        # ---- critics ----
        closs, td_sum, dr3_sum, cql_terms, qmean, fdot = [], 0.0, 0.0, [], 0.0, 0.0
        ap = torch.clamp(log_cql.exp(), 0.0, 1e6)
        for j, m in enumerate(q):
            qp, phi = m(torch.cat([obs, a], 1))
            _, phin = m(torch.cat([nobs, a2], 1))
            qp = qp.squeeze(1)
            td = F.mse_loss(qp, y)
            dr3 = c["dr3_coef"] * (phi * phin).sum(1).mean()
            L = td + dr3
            if N > 0:
                qr = m(torch.cat([obs_rep, rand], 1))[0].view(n, N)
                qc = m(torch.cat([obs_rep, a_curr], 1))[0].view(n, N)
                qx = m(torch.cat([obs_rep, a_next], 1))[0].view(n, N)
                cat = torch.cat([qr - math.log(0.5 ** A), qc - lp_curr.view(n, N),
                                 qx - lp_next.view(n, N)], 1)
                Tc = c["temperature"]
                term = Tc * torch.logsumexp(cat / Tc, 1).mean() - qp.mean()
                cql_terms.append(term)
                if c["cql_mode"] == FIXED:
                    L = L + c["cql_alpha"] * term
                else:
                    L = L + ap.detach() * (c["cql_alpha"] * term - c["gap"])
            closs.append(L)
            td_sum += float(td)
            dr3_sum += float(dr3)
            if j == 0:
                qmean = float(qp.mean())
                fdot = float((phi * phin).sum(1).mean())
        cgrads = [torch.autograd.grad(closs[j], list(q[j].parameters())) for j in range(nq)]
        # ---- actor (pre-step critics), temperature, alpha' ----
        actor_step = gaussian or (c["algo"] == TD3BC and (t + 1) % c["delay"] == 0)
        a_loss = 0.0
        pgrads = None
        alpha_grad = None
        if actor_step and gaussian:
            at, logp = tanh_gauss(pi(obs)[0], T["eps_actor"], c)
            qv = torch.stack([m(torch.cat([obs, at], 1))[0].squeeze(1) for m in q]).min(0)[0]
            La = (alpha * logp - qv).mean()
            pgrads = torch.autograd.grad(La, list(pi.parameters()))
            a_loss = float(La)
            if c["auto_alpha"]:
                H = c["te_per_dim"] * A
                al = -(log_alpha * (logp + H).detach()).mean()
                alpha_grad = torch.autograd.grad(al, [log_alpha])[0]
        elif actor_step:
            p = torch.tanh(pi(obs)[0])
            qv = q[0](torch.cat([obs, p], 1))[0].squeeze(1)
            lam = c["bc_alpha"] / qv.abs().mean().detach()
            La = -lam * qv.mean() + F.mse_loss(p, a)
            pgrads = torch.autograd.grad(La, list(pi.parameters()))
            a_loss = float(La)
        cql_grad = None
        if N > 0 and c["cql_mode"] == LAGRANGE:
            apl = -0.5 * sum(ap * (c["cql_alpha"] * tm.detach() - c["gap"]) for tm in cql_terms) \
                if nq == 2 else -(ap * (c["cql_alpha"] * cql_terms[0].detach() - c["gap"]))
            cql_grad = torch.autograd.grad(apl, [log_cql])[0]
        ent_m = float(-logp.mean()) if gaussian else 0.0
        w = (c["cql_alpha"] if c["cql_mode"] == FIXED else float(ap) * c["cql_alpha"]) \
            if N > 0 else 0.0
        metrics.append([td_sum, a_loss, float(alpha), qmean, float(y.mean()), fdot, dr3_sum,
                        float(sum(float(x) for x in cql_terms) / nq) if N > 0 else 0.0,
                        ent_m, w])
        # ---- apply ----
        for j in range(nq):
            for p_, g in zip(q[j].parameters(), cgrads[j]):
                p_.grad = g
            q_opt[j].step()
        if pgrads is not None:
            for p_, g in zip(pi.parameters(), pgrads):
                p_.grad = g
            pi_opt.step()
        if alpha_grad is not None:
            log_alpha.grad = alpha_grad
            a_opt.step()
        if cql_grad is not None:
            log_cql.grad = cql_grad
            cql_opt.step()
        if c["algo"] != TD3BC or actor_step:
            with torch.no_grad():
                pairs = list(zip(qt, q)) + ([(pit, pi)] if pit else [])
                for dst, src in pairs:
                    for pd, ps in zip(dst.parameters(), src.parameters()):
                        pd.mul_(1.0 - c["tau"]).add_(c["tau"] * ps)
    final = {
        "q": [flat(m) for m in q], "qt": [flat(m) for m in qt],
        "pi": flat(pi) if pi else np.zeros(1, np.float32),
        "pit": flat(pit) if pit else np.zeros(1, np.float32),
        "log_alpha": float(log_alpha), "log_cql": float(log_cql),
    }
    return init, steps, metrics, final


BASE = dict(obs_dim=5, action_dim=3, n=8, nq=2, critic_hidden=[16, 12], actor_hidden=[14, 16],
            gamma=f32(0.99), tau=f32(0.05), critic_lr=f32(3e-3), actor_lr=f32(2e-3),
            alpha_lr=f32(5e-3), auto_alpha=1, init_alpha=f32(0.5), te_per_dim=f32(-1.0),
            backup_entropy=1, log_std_min=f32(-5.0), log_std_max=f32(2.0), cql_mode=FIXED,
            cql_alpha=f32(2.0), gap=f32(1.0), cql_init_alpha=f32(1.0), N=0,
            temperature=f32(1.0), policy_noise=f32(0.2), noise_clip=f32(0.5), delay=2,
            bc_alpha=f32(2.5), dr3_coef=f32(0.1), low=[-2.0, -1.0, 0.0],
            high=[1.0, 1.0, 3.0])

CASES = [
    dict(BASE, name="sac", algo=SAC, seed=11),
    dict(BASE, name="cql_fixed", algo=CQL, seed=12, N=4, temperature=f32(0.7)),
    dict(BASE, name="cql_lagrange", algo=CQL, seed=13, N=3, cql_mode=LAGRANGE,
         cql_init_alpha=f32(0.8), gap=f32(0.5), backup_entropy=0),
    dict(BASE, name="td3bc", algo=TD3BC, seed=14),
    dict(BASE, name="sarsa", algo=SARSA, seed=15, nq=1, dr3_coef=f32(0.3)),
    dict(BASE, name="sac_single_fixed_alpha", algo=SAC, seed=16, nq=1, auto_alpha=0,
         dr3_coef=f32(0.0), low=[-1.0, -1.0, -1.0], high=[1.0, 1.0, 1.0]),
    # CQL without DR3 (the [s', a'] rows get no backward), second step on 5 of the 8 rows
    dict(BASE, name="cql_no_dr3_n5", algo=CQL, seed=17, N=2, dr3_coef=f32(0.0), n2=5),
    # CQL + DR3 with a smaller second batch (workspace rows of the first step reused)
    dict(BASE, name="cql_dr3_n3", algo=CQL, seed=18, N=3, n2=3),
]


def main():
    rng = np.random.default_rng(20261129)
    L = ["/* ac_fixtures.h — two PyTorch update steps per actor-critic algorithm",
         " * Generated by tests/reference/gen_ac_fixtures.py (torch %s, numpy %s)."
         % (torch.__version__, np.__version__),
         " * Do not edit: regenerate (see tests/reference/README.md). */",
         "/* clang-format off */", "#ifndef DR3_REF_AC_FIXTURES_H", "#define DR3_REF_AC_FIXTURES_H",
         "", "#include <stddef.h>", "#include <stdint.h>", "",
         "#define REF_AC_STEPS %d" % STEPS,
         "/* metrics per step: td_loss, actor_loss, alpha, mean_q, mean_target, feature_dot,",
         " * dr3_loss, cql_term, entropy, cql weight (alpha_cql or alpha' alpha_cql) */",
         "#define REF_AC_NMETRICS 10", ""]

    def arr(name, a, ctype="float"):
        a = np.asarray(a).ravel()
        if ctype == "float":
            body = [fmt(v) for v in a.astype(np.float32)] or ["0.0f"]
        else:
            body = [str(int(v)) for v in a] or ["0"]
        L.append("static const %s %s[%d] = {" % (ctype, name, max(len(a), 1)))
        for k in range(0, len(body), 6):
            L.append("    " + ", ".join(body[k:k + 6]) + ",")
        L.append("};")
        return name

    L.append("""typedef struct ref_ac_case {
    const char *name;
    int algo, nq, auto_alpha, backup_entropy, cql_mode;
    size_t obs_dim, action_dim, n, N, delay, n2; /* n2: rows of the second step */
    size_t critic_hidden[2], actor_hidden[2];
    float gamma, tau, critic_lr, actor_lr, alpha_lr, init_alpha, te_per_dim, log_std_min,
        log_std_max, cql_alpha, gap, cql_init_alpha, temperature, policy_noise, noise_clip,
        bc_alpha, dr3_coef;
    const float *low, *high;
    /* initial parameters: online critics, target critics (each nq × count), actor, target
     * actor; log alpha, log alpha' */
    const float *q0, *qt0, *pi0, *pit0;
    float log_alpha0, log_cql0;
    /* per step (REF_AC_STEPS blocks each) */
    const float *obs, *actions, *rewards, *next_obs, *next_actions, *eps_next, *eps_actor,
        *cql_uniform, *cql_eps_obs, *cql_eps_next, *td3_noise;
    const uint8_t *terminals;
    const float *metrics; /* REF_AC_STEPS × REF_AC_NMETRICS */
    /* after the last step */
    const float *q1, *qt1, *pi1, *pit1;
    float log_alpha1, log_cql1;
    size_t q_count, pi_count;
} ref_ac_case;
""")
    entries = []
    for c in CASES:
        init, steps, metrics, final = run_case(c, rng)
        p = "ac_" + c["name"] + "_"
        names = {}
        names["low"] = arr(p + "low", c["low"])
        names["high"] = arr(p + "high", c["high"])
        names["q0"] = arr(p + "q0", np.concatenate(init["q"]))
        names["qt0"] = arr(p + "qt0", np.concatenate(init["qt"]))
        names["pi0"] = arr(p + "pi0", init["pi"])
        names["pit0"] = arr(p + "pit0", init["pit"])
        for k in ["obs", "actions", "rewards", "next_obs", "next_actions", "eps_next",
                  "eps_actor", "cql_uniform", "cql_eps_obs", "cql_eps_next", "td3_noise"]:
            names[k] = arr(p + k, np.concatenate([s[k].ravel() for s in steps]))
        names["terminals"] = arr(p + "terminals",
                                 np.concatenate([s["terminals"] for s in steps]), "uint8_t")
        names["metrics"] = arr(p + "metrics", np.array(metrics, np.float64))
        names["q1"] = arr(p + "q1", np.concatenate(final["q"]))
        names["qt1"] = arr(p + "qt1", np.concatenate(final["qt"]))
        names["pi1"] = arr(p + "pi1", final["pi"])
        names["pit1"] = arr(p + "pit1", final["pit"])
        qc = len(init["q"][0])
        pc = len(init["pi"]) if c["algo"] != SARSA else 0
        e = ("    {\"%s\", %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, %d, {%d, %d}, {%d, %d},\n"
             % (c["name"], c["algo"], c["nq"], c["auto_alpha"], c["backup_entropy"],
                c["cql_mode"], c["obs_dim"], c["action_dim"], c["n"], c["N"], c["delay"],
                c.get("n2", c["n"]),
                c["critic_hidden"][0], c["critic_hidden"][1], c["actor_hidden"][0],
                c["actor_hidden"][1]))
        e += "     " + ", ".join(fmt(c[k]) for k in [
            "gamma", "tau", "critic_lr", "actor_lr", "alpha_lr", "init_alpha", "te_per_dim",
            "log_std_min", "log_std_max", "cql_alpha", "gap", "cql_init_alpha", "temperature",
            "policy_noise", "noise_clip", "bc_alpha", "dr3_coef"]) + ",\n"
        e += "     %s, %s, %s, %s, %s, %s, %s, %s,\n" % (
            names["low"], names["high"], names["q0"], names["qt0"], names["pi0"],
            names["pit0"], fmt(init["log_alpha"]), fmt(init["log_cql"]))
        e += "     " + ", ".join(names[k] for k in [
            "obs", "actions", "rewards", "next_obs", "next_actions", "eps_next", "eps_actor",
            "cql_uniform", "cql_eps_obs", "cql_eps_next", "td3_noise", "terminals",
            "metrics"]) + ",\n"
        e += "     %s, %s, %s, %s, %s, %s, %d, %d}" % (
            names["q1"], names["qt1"], names["pi1"], names["pit1"], fmt(final["log_alpha"]),
            fmt(final["log_cql"]), qc, pc)
        entries.append(e)
        print("%-24s q %d params, pi %d params, final log_alpha %.6f log_cql %.6f"
              % (c["name"], qc, pc, final["log_alpha"], final["log_cql"]))
    L.append("static const ref_ac_case REF_AC_CASES[] = {")
    L.append(",\n".join(entries))
    L.append("};")
    L.append("#define REF_AC_NCASES (sizeof REF_AC_CASES / sizeof REF_AC_CASES[0])")
    L.append("")
    L.append("#endif")
    with open(OUT, "w") as f:
        f.write("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
