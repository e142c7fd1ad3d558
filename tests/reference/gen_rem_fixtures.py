#!/usr/bin/python3
"""PyTorch reference for whole learner steps on a convolutional Q-network with one or several
heads: DQN (max backup from a separate target network) + DR3 (+ discrete CQL), Huber TD
loss, one Adam step -- for a single head at batch 1 and 33, for REM with given mixing
weights, and for the mean and min ensembles.

The network is the torch.nn.Sequential
    Conv2d(2, 4, 3, stride=2, padding=1), ReLU, Flatten, Linear(64, 16), ReLU,
    Linear(16, K * A)
on a 2 x 7 x 7 input (NCHW), A = 3 actions; the K heads are the last layer's outputs,
head-major (output k * A + a). phi is the 16-wide output of the last ReLU.

What a step computes (the semantics of dr3_learner_step with dr3_heads_mode):
  REM   Q(s, .) = sum_k alpha_k Q_k(s, .) for the online rows [s; s'] and for the target's
        Q_t(s', .); y = r + gamma (1 - term) max_a Q_t(s', a); TD, DR3 and CQL on that Q.
  MEAN  y from max_a mean_k Q_t,k(s', a); TD loss = mean_k Huber(Q_k(s, a) - y);
        CQL on the mean Q.
  MIN   as MEAN, with y from max_a min_k Q_t,k(s', a).
  DR3   c0 * mean_i phi(s_i) . phi(s'_i), gradient through both (one forward of [s; s']).
  CQL   alpha * mean_i (logsumexp_a Q(s_i, a) - Q(s_i, a_i)).
Per-head diagnostics (dr3_learner_head_stats): mean_i Q_k(s_i, a_i), Huber(Q_k(s, a) - y)
for each head, and mean_i of the population standard deviation over heads of Q_k(s_i, a_i).

Writes tests/data/reference/rem_fixtures.h. Run with Debian's /usr/bin/python3."""
import os

import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

C, H, W, A = 2, 7, 7, 3
GAMMA, DELTA, C0, LR = 0.99, 1.0, 0.1, 1e-3
MODES = {"rem": 0, "mean": 1, "min": 2}  # dr3_heads_mode values


def conv_q(k):
    return torch.nn.Sequential(
        torch.nn.Conv2d(C, 4, 3, stride=2, padding=1), torch.nn.ReLU(), torch.nn.Flatten(),
        torch.nn.Linear(64, 16), torch.nn.ReLU(), torch.nn.Linear(16, k * A))


def flat(net):
    return torch.cat([p.detach().reshape(-1) for p in net.state_dict().values()])


def case(name, seed, n, k, mode, cql_alpha):
    torch.manual_seed(seed)
    online, target = conv_q(k), conv_q(k)
    p_online, p_target = flat(online), flat(target)
    obs = torch.rand(n, C, H, W)
    nxt = torch.rand(n, C, H, W)
    act = torch.randint(0, A, (n,))
    rew = (torch.rand(n) * 2 - 1).float()
    term = (torch.rand(n) < 0.25).to(torch.uint8)
    if mode == "rem":
        u = torch.rand(k) + 0.05
        alpha = (u / u.sum()).float()
    else:
        alpha = torch.full((k,), 1.0 / k)
    with torch.no_grad():
        qt = target(nxt).reshape(n, k, A)
        if mode == "rem":
            qt_comb = (alpha[None, :, None] * qt).sum(dim=1)
        elif mode == "mean":
            qt_comb = qt.mean(dim=1)
        else:
            qt_comb = qt.min(dim=1).values
        y = rew + GAMMA * (1 - term.float()) * qt_comb.max(dim=1).values
    stacked = torch.cat([obs, nxt])
    phi_all = online[:5](stacked)
    q_heads = online[5](phi_all).reshape(2 * n, k, A)
    if mode == "rem":
        q_all = (alpha[None, :, None] * q_heads).sum(dim=1)
    else:
        q_all = q_heads.mean(dim=1)
    q = q_all[:n]
    q_taken = q.gather(1, act[:, None])[:, 0]
    qk_taken = q_heads[:n].gather(2, act[:, None, None].expand(n, k, 1))[:, :, 0]  # n x k
    if mode == "rem" or k == 1:
        td = torch.nn.functional.huber_loss(q_taken, y, reduction="mean", delta=DELTA)
    else:
        td = torch.stack([torch.nn.functional.huber_loss(qk_taken[:, j], y, reduction="mean",
                                                         delta=DELTA) for j in range(k)]).mean()
    dr3 = C0 * (phi_all[:n] * phi_all[n:]).sum(dim=1).mean()
    cql = cql_alpha * (torch.logsumexp(q, dim=1) - q_taken).mean()
    loss = td + dr3 + cql
    with torch.no_grad():
        head_mean_q = qk_taken.mean(dim=0)
        head_td = torch.stack([torch.nn.functional.huber_loss(qk_taken[:, j], y,
                                                              reduction="mean", delta=DELTA)
                               for j in range(k)])
        disagreement = qk_taken.std(dim=1, unbiased=False).mean()
        mean_q = q_taken.mean()
        mean_target = y.mean()
    opt = torch.optim.Adam(online.parameters(), lr=LR)
    opt.zero_grad()
    loss.backward()
    grads = torch.cat([p.grad.reshape(-1) for p in online.parameters()])
    opt.step()
    after = torch.cat([p.detach().reshape(-1) for p in online.parameters()])
    return dict(name=name, n=n, k=k, mode=MODES[mode], cql_alpha=cql_alpha,
                online=p_online, target=p_target, obs=obs, next=nxt, actions=act, rewards=rew,
                terminals=term, alpha=alpha, td=td.item(), dr3=dr3.item(), cql=cql.item(),
                loss=loss.item(), mean_q=mean_q.item(), mean_target=mean_target.item(),
                head_mean_q=head_mean_q, head_td=head_td, disagreement=disagreement.item(),
                grads=grads, after=after)


CASES = [
    case("single_b1", 11, 1, 1, "rem", 0.5),
    case("single_b33", 12, 33, 1, "rem", 0.5),
    case("single_b33_nocql", 13, 33, 1, "rem", 0.0),
    case("rem_k4_b12", 14, 12, 4, "rem", 0.0),
    case("rem_k4_b12_cql", 15, 12, 4, "rem", 0.5),
    case("rem_k3_b1_cql", 16, 1, 3, "rem", 0.5),
    case("rem_k2_b33_cql", 17, 33, 2, "rem", 0.3),
    case("mean_k3_b12_cql", 18, 12, 3, "mean", 0.5),
    case("mean_k3_b33", 19, 33, 3, "mean", 0.0),
    case("min_k3_b12_cql", 20, 12, 3, "min", 0.5),
    case("min_k5_b1_cql", 21, 1, 5, "min", 0.4),
]


def farr(t):
    return ",".join("%.9e" % v for v in t.detach().reshape(-1).tolist())


def iarr(t):
    return ",".join("%d" % int(v) for v in t.reshape(-1).tolist())


def f32(x):
    """The float32 value torch used, printed exactly."""
    return "%.9e" % torch.tensor(x, dtype=torch.float32).item()


out = os.path.join(os.path.dirname(__file__), "..", "data", "reference", "rem_fixtures.h")
with open(out, "w") as f:
    f.write("/* Generated by tests/reference/gen_rem_fixtures.py (PyTorch %s). Do not edit. */\n"
            % torch.__version__)
    f.write("/* clang-format off */\n")
    f.write("#define REM_C %d\n#define REM_H %d\n#define REM_W %d\n#define REM_A %d\n"
            % (C, H, W, A))
    f.write("#define REM_GAMMA %sf\n#define REM_C0 %sf\n#define REM_LR %sf\n"
            % (f32(GAMMA), f32(C0), f32(LR)))
    for c in CASES:
        p = "rem_" + c["name"] + "_"
        f.write("static const float %sonline[] = {%s};\n" % (p, farr(c["online"])))
        f.write("static const float %starget[] = {%s};\n" % (p, farr(c["target"])))
        f.write("static const float %sobs[] = {%s};\n" % (p, farr(c["obs"])))
        f.write("static const float %snext[] = {%s};\n" % (p, farr(c["next"])))
        f.write("static const int32_t %sactions[] = {%s};\n" % (p, iarr(c["actions"])))
        f.write("static const float %srewards[] = {%s};\n" % (p, farr(c["rewards"])))
        f.write("static const uint8_t %sterminals[] = {%s};\n" % (p, iarr(c["terminals"])))
        f.write("static const float %salpha[] = {%s};\n" % (p, farr(c["alpha"])))
        f.write("static const float %shead_mean_q[] = {%s};\n" % (p, farr(c["head_mean_q"])))
        f.write("static const float %shead_td[] = {%s};\n" % (p, farr(c["head_td"])))
        f.write("static const float %sgrads[] = {%s};\n" % (p, farr(c["grads"])))
        f.write("static const float %safter[] = {%s};\n" % (p, farr(c["after"])))
    f.write("typedef struct rem_case {\n"
            "    const char *name;\n    size_t n, heads, params;\n    int mode;\n"
            "    float cql_alpha;\n"
            "    const float *online, *target, *obs, *next;\n    const int32_t *actions;\n"
            "    const float *rewards;\n    const uint8_t *terminals;\n    const float *alpha;\n"
            "    float td, dr3, cql, loss, mean_q, mean_target, disagreement;\n"
            "    const float *head_mean_q, *head_td, *grads, *after;\n} rem_case;\n")
    f.write("static const rem_case REM_CASES[] = {\n")
    for c in CASES:
        p = "rem_" + c["name"] + "_"
        f.write("    {\"%s\", %d, %d, %d, %d, %sf,\n" % (c["name"], c["n"], c["k"],
                                                         c["online"].numel(), c["mode"],
                                                         f32(c["cql_alpha"])))
        f.write("     %sonline, %starget, %sobs, %snext, %sactions, %srewards, %sterminals, "
                "%salpha,\n" % ((p,) * 8))
        f.write("     %sf, %sf, %sf, %sf, %sf, %sf, %sf,\n"
                % tuple(f32(c[x]) for x in ("td", "dr3", "cql", "loss", "mean_q",
                                            "mean_target", "disagreement")))
        f.write("     %shead_mean_q, %shead_td, %sgrads, %safter},\n" % ((p,) * 4))
    f.write("};\n#define REM_NUM_CASES %d\n" % len(CASES))
    f.write("/* clang-format on */\n")
print("wrote", out)
