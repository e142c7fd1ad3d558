#!/usr/bin/python3
"""The continuous-control experiment of issue #13 (docs/experiment-continuous.md).

CQL, CQL + DR3 and SAC-offline (SAC without a regularizer on fixed data) on the "medium" and
"replay" datasets that `dr3 collect` makes, in the point maze and Pendulum, over several
seeds. Pendulum's data comes from an online SAC run; the point maze's from the waypoint
controller with Gaussian action noise (`dr3 collect --agent controller`, as D4RL's maze2d),
because online SAC never learned the sparse maze (--maze-agent sac restores the old data). Everything is done by the dr3 command; this script runs it,
reads its CSV files and writes summary.md, summary.csv and SVG plots:

    /usr/bin/python3 tools/experiment_continuous.py --dr3 build/release/tools/dr3 --out DIR

Only the Python standard library is used. Sizes are options (defaults fit a shared 2-core
machine in well under an hour); the document states which were run.
"""
import argparse
import csv
import math
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

METHODS = [("cql", "cql", 0.0), ("cql+dr3", "cql", None), ("sac-offline", "sac", 0.0)]
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]


def run(cmd, log):
    t0 = time.time()
    with open(log, "w") as f:
        p = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        sys.exit(f"failed ({p.returncode}): {' '.join(cmd)}\nsee {log}")
    return time.time() - t0


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def mean_sd(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    if not xs:
        return float("nan"), float("nan")
    m = sum(xs) / len(xs)
    sd = math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) if len(xs) > 1 else 0.0
    return m, sd


def svg_plot(path, title, xlabel, ylabel, series, log_y=False):
    """series: list of (label, color, dashed, xs, ys, lo, hi); log_y: a log10 axis (values
    below 1e-6 are clipped)."""
    if log_y:
        lg = lambda v: [math.log10(max(y, 1e-6)) for y in v]
        series = [(a, b, c, d, lg(e), lg(f), lg(g)) for a, b, c, d, e, f, g in series]
    W, H, L, R, T, B = 640, 400, 70, 170, 40, 50
    xs = [x for s in series for x in s[3]]
    ys = [y for s in series for y in s[4] + s[5] + s[6] if not math.isnan(y)]
    if not xs or not ys:
        return
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    pad = 0.05 * (y1 - y0)
    y0, y1 = y0 - pad, y1 + pad
    sx = lambda x: L + (x - x0) / (x1 - x0) * (W - L - R)
    sy = lambda y: T + (y1 - y) / (y1 - y0) * (H - T - B)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{title}</text>',
           f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" '
           f'stroke="#888"/>']
    for i in range(5):
        yv = y0 + (y1 - y0) * i / 4
        xv = x0 + (x1 - x0) * i / 4
        lab = f"{10 ** yv:.3g}" if log_y else f"{yv:.3g}"
        out.append(f'<text x="{L - 6}" y="{sy(yv) + 4:.1f}" text-anchor="end">{lab}</text>')
        out.append(f'<text x="{sx(xv):.1f}" y="{H - B + 16}" text-anchor="middle">{xv:.3g}</text>')
    out.append(f'<text x="{(L + W - R) / 2}" y="{H - 10}" text-anchor="middle">{xlabel}</text>')
    out.append(f'<text x="16" y="{(T + H - B) / 2}" text-anchor="middle" '
               f'transform="rotate(-90 16 {(T + H - B) / 2})">{ylabel}</text>')
    for k, (label, color, dashed, sxs, sys_, lo, hi) in enumerate(series):
        if lo and hi:
            pts = [(sx(x), sy(y)) for x, y in zip(sxs, hi)] + \
                  [(sx(x), sy(y)) for x, y in reversed(list(zip(sxs, lo)))]
            out.append('<polygon fill="%s" fill-opacity="0.15" stroke="none" points="%s"/>' % (
                color, " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)))
        pts = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in zip(sxs, sys_))
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2"{dash} points="{pts}"/>')
        ly = T + 14 + 18 * k
        out.append(f'<line x1="{W - R + 10}" y1="{ly}" x2="{W - R + 34}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{W - R + 40}" y="{ly + 4}">{label}</text>')
    out.append("</svg>\n")
    with open(path, "w") as f:
        f.write("\n".join(out))


def band(runs, key):
    """Mean, min and max over runs (lists of (step, value)) at the common steps."""
    steps = sorted(set.intersection(*[set(s for s, _ in r) for r in runs])) if runs else []
    m, lo, hi = [], [], []
    for s in steps:
        vals = [dict(r)[s] for r in runs]
        m.append(sum(vals) / len(vals))
        lo.append(min(vals))
        hi.append(max(vals))
    return steps, m, lo, hi


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dr3", required=True, help="the dr3 command")
    ap.add_argument("--out", required=True)
    ap.add_argument("--envs", default="pendulum,pointmaze")
    ap.add_argument("--levels", default="medium,replay")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--sac-steps", type=int, default=10000, help="online SAC steps of collect")
    ap.add_argument("--transitions", type=int, default=10000, help="rows of medium datasets")
    ap.add_argument("--train-steps", type=int, default=5000)
    ap.add_argument("--evals", type=int, default=5, help="evaluations per training run")
    ap.add_argument("--eval-episodes", type=int, default=5)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--c0", type=float, default=0.1, help="DR3 coefficient")
    ap.add_argument("--cql-alpha", type=float, default=5.0)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--maze-agent", default="controller", choices=["controller", "sac"],
                    help="who makes the point-maze data (default controller)")
    a = ap.parse_args()
    envs, levels = a.envs.split(","), a.levels.split(",")
    os.makedirs(os.path.join(a.out, "data"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "runs"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "plots"), exist_ok=True)
    small = ["--width", str(a.width), "--batch", str(a.batch)]

    # 1. datasets: one online SAC run per environment gives every level
    ref = {}

    def collect(env):
        d = os.path.join(a.out, "data", env)
        log = d + ".log"
        controller = env == "pointmaze" and a.maze_agent == "controller"
        if not all(os.path.exists(os.path.join(d, l + ".hdf5")) for l in levels):
            if controller:
                cmd = [a.dr3, "collect", "--env", env, "--agent", "controller",
                       "--level", ",".join(levels), "--out", d, "--transitions",
                       str(a.transitions), "--eval-episodes", "50", "--seed", "0"]
            else:
                cmd = [a.dr3, "collect", "--env", env, "--algo", "sac", "--steps",
                       str(a.sac_steps), "--level", ",".join(levels), "--out", d,
                       "--transitions", str(a.transitions), "--seed", "0"] + small
            secs = run(cmd, log)
            print(f"collect {env}: {secs:.0f} s", flush=True)
        text = open(log).read()
        rnd = float(re.search(r"uniform random actions: mean return (-?[0-9.]+)", text).group(1))
        if controller:
            exp = float(re.search(r"controller without noise: mean return (-?[0-9.]+)",
                                  text).group(1))
            med = re.search(r"wrote medium: .*\(mean return (-?[0-9.]+)", text)
            ref[env] = {"random": rnd, "expert": exp, "expert_name": "noise-free controller",
                        "medium_step": "controller",
                        "medium_return": float(med.group(1)) if med else None}
            return
        exp = float(re.search(r"expert policy \(best evaluation, step \d+\) return (-?[0-9.]+)",
                              text).group(1))
        med = re.search(r"wrote medium: .* at step (\d+) \(evaluation return (-?[0-9.]+), "
                        r"normalised (-?[0-9.]+); rollouts' mean return (-?[0-9.]+)", text)
        ref[env] = {"random": rnd, "expert": exp, "expert_name": "best SAC policy",
                    "medium_step": int(med.group(1)) if med else None,
                    "medium_return": float(med.group(4)) if med else None}

    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        list(ex.map(collect, envs))

    # 2. offline training runs
    jobs = []
    for env in envs:
        for level in levels:
            for name, algo, c0 in METHODS:
                for seed in range(a.seeds):
                    d = os.path.join(a.out, "runs", f"{env}-{level}-{name}-{seed}")
                    jobs.append((env, level, name, algo, a.c0 if c0 is None else c0, seed, d))

    def train(job):
        env, level, name, algo, c0, seed, d = job
        os.makedirs(d, exist_ok=True)
        if os.path.exists(os.path.join(d, "done")):
            return
        for f in ("metrics.csv", "eval.csv", "ck"):
            if os.path.exists(os.path.join(d, f)):
                os.remove(os.path.join(d, f))
        cmd = [a.dr3, "train", "--data", os.path.join(a.out, "data", env, level + ".hdf5"),
               "--algo", algo, "--steps", str(a.train_steps), "--env", env,
               "--eval-every", str(max(1, a.train_steps // a.evals)),
               "--eval-episodes", str(a.eval_episodes), "--cql-alpha", str(a.cql_alpha),
               "--metrics", os.path.join(d, "metrics.csv"),
               "--eval-csv", os.path.join(d, "eval.csv"), "--seed", str(seed)] + small
        if c0 > 0:
            cmd += ["--dr3", str(c0)]
        secs = run(cmd, os.path.join(d, "log.txt"))
        open(os.path.join(d, "done"), "w").write(f"{secs:.1f}\n")
        print(f"{os.path.basename(d)}: {secs:.0f} s", flush=True)

    with ThreadPoolExecutor(max_workers=a.jobs) as ex:
        list(ex.map(train, jobs))

    # 3. summary and plots
    rows = []
    for env in envs:
        r0, r1 = ref[env]["random"], ref[env]["expert"]
        # a best policy hardly better than random actions makes the scale meaningless
        ok = r1 - r0 > 0.05 * max(abs(r0), abs(r1), 1.0)
        norm = (lambda x: (x - r0) / (r1 - r0)) if ok else (lambda x: float("nan"))
        for level in levels:
            curves = {}
            for name, _, _ in METHODS:
                ret, dot, gap, qs, mcs = [], [], [], [], []
                ret_runs, dot_runs, gap_runs = [], [], []
                for seed in range(a.seeds):
                    d = os.path.join(a.out, "runs", f"{env}-{level}-{name}-{seed}")
                    ev = read_csv(os.path.join(d, "eval.csv"))
                    me = read_csv(os.path.join(d, "metrics.csv"))
                    last = ev[-1]
                    ret.append(float(last["return"]))
                    qs.append(float(last["mean_q"]))
                    mcs.append(float(last["mc_return"]))
                    tail = me[-max(1, len(me) // 10):]
                    dot.append(sum(float(m["feature_dot"]) for m in tail) / len(tail))
                    ret_runs.append([(int(e["step"]), float(e["return"])) for e in ev])
                    gap_runs.append([(int(e["step"]), float(e["mean_q"]) - float(e["mc_return"]))
                                     for e in ev])
                    every = max(1, len(me) // 100)
                    dot_runs.append([(int(m["step"]), float(m["feature_dot"]))
                                     for m in me[::every]])
                r = {"env": env, "level": level, "method": name, "seeds": a.seeds}
                r["return"], r["return_sd"] = mean_sd(ret)
                r["normalised"], r["normalised_sd"] = mean_sd([norm(x) for x in ret])
                r["phi_dot"], r["phi_dot_sd"] = mean_sd(dot)
                r["mean_q"], r["mean_q_sd"] = mean_sd(qs)
                r["mc_return"], _ = mean_sd(mcs)
                rows.append(r)
                curves[name] = (ret_runs, dot_runs, gap_runs)
            for key, idx, ylabel in (("return", 0, "policy return"),
                                     ("feature_dot", 1, "phi(s,a).phi(s',a')"),
                                     ("q_minus_mc", 2, "mean Q(s,a) - data return")):
                series = []
                for k, (name, _, _) in enumerate(METHODS):
                    s, m, lo, hi = band(curves[name][idx], key)
                    series.append((name, COLORS[k], "dr3" in name, s, m, lo, hi))
                svg_plot(os.path.join(a.out, "plots", f"{env}-{level}-{key}.svg"),
                         f"{env} {level}: {ylabel} (mean, min-max over {a.seeds} seeds)",
                         "gradient step", ylabel + (" (log scale)" if idx == 1 else ""),
                         series, log_y=idx == 1)
    keys = list(rows[0].keys())
    with open(os.path.join(a.out, "summary.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(rows)
    with open(os.path.join(a.out, "summary.md"), "w") as f:
        f.write("| env | data | method | return | normalised | phi.phi' (last 10%) | "
                "mean Q | data return |\n|---|---|---|---|---|---|---|---|\n")
        for r in rows:
            f.write(f"| {r['env']} | {r['level']} | {r['method']} | "
                    f"{r['return']:.1f} ± {r['return_sd']:.1f} | "
                    + ("n/a | " if math.isnan(r["normalised"]) else
                       f"{r['normalised']:.2f} ± {r['normalised_sd']:.2f} | ") +
                    f"{r['phi_dot']:.3g} ± {r['phi_dot_sd']:.2g} | "
                    f"{r['mean_q']:.2f} ± {r['mean_q_sd']:.2f} | {r['mc_return']:.2f} |\n")
        f.write("\nreference returns (evaluation of the data's policies):\n\n")
        for env in envs:
            f.write(f"- {env}: uniform random {ref[env]['random']:.1f}, "
                    f"{ref[env]['expert_name']} {ref[env]['expert']:.1f}, medium policy from "
                    f"{ref[env]['medium_step']} (its rollouts: {ref[env]['medium_return']})\n")
    print(open(os.path.join(a.out, "summary.md")).read())


if __name__ == "__main__":
    main()
