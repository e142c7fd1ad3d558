#!/bin/sh
# libdr3 against PyTorch on single steps: ROUNDS interleaved rounds of bench/step_dist and
# bench/pytorch_step_dist.py (small DQN + DR3, SAC, CQL; 1 and 2 threads each side, PyTorch's
# BLIS forced to skx, its best here) per libdr3 kernel set, then per step the best 10th
# percentile (and minimum) of each side over rounds and thread counts, and their ratio.
# The low percentiles of single steps are what a neighbour taking the second core for a
# while disturbs least (docs/performance.md); bench/ratio.sh and ac_step give the windowed
# averages. Timing only: CI never runs this.
#   usage: bench/ratio_dist.sh [build-dir] [rounds] [steps]
#   environment: ARCHS="skx zen3"
set -eu
BUILD=${1:-build/release}
ROUNDS=${2:-3}
STEPS=${3:-300}
ARCHS=${ARCHS:-"skx zen3"}
HERE=$(dirname "$0")
. "$HERE/ratio_common.sh"
for arch in $ARCHS; do
    : >"$OUT"
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        for t in 1 2; do
            DR3_BLIS_ARCH=$arch "$BUILD/bench/step_dist" "$t" all "$STEPS" |
                awk '$1 ~ /^(small|sac|cql)$/ { print "libdr3", $0 }' >>"$OUT"
            BLIS_ARCH_TYPE=0 BLIS_NUM_THREADS=$t "$PY" "$HERE/pytorch_step_dist.py" "$t" all "$STEPS" |
                awk '$1 ~ /^(small|sac|cql)$/ { print "torch", $0 }' >>"$OUT"
        done
        r=$((r + 1))
    done
    echo
    DR3_BLIS_ARCH=$arch "$BUILD/bench/step_dist" 1 small 10 | head -1
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds, $STEPS steps per case (CQL a quarter)"
    echo
    echo "| step | libdr3 best p10 ms (thr) | min | PyTorch best p10 ms (thr) | min | ratio of p10 | per thread count (1 / 2) |"
    echo "|---|---|---|---|---|---|---|"
    # fields: side step thr steps min p10 median
    awk '
    {
        k = $1 SUBSEP $2
        if (!(k in p10) || $6 < p10[k]) { p10[k] = $6; thr[k] = $3 }
        if (!(k in mn) || $5 < mn[k]) mn[k] = $5
        kt = $1 SUBSEP $2 SUBSEP $3
        if (!(kt in pt) || $6 < pt[kt]) pt[kt] = $6
    }
    END {
        n = split("small sac cql", steps, " ")
        for (i = 1; i <= n; i++) {
            s = steps[i]; a = "libdr3" SUBSEP s; b = "torch" SUBSEP s
            if (!(a in p10) || !(b in p10)) continue
            r1 = pt["torch" SUBSEP s SUBSEP 1] / pt["libdr3" SUBSEP s SUBSEP 1]
            r2 = pt["torch" SUBSEP s SUBSEP 2] / pt["libdr3" SUBSEP s SUBSEP 2]
            printf "| %s | %.3f (%d) | %.3f | %.3f (%d) | %.3f | %.2fx | %.2fx / %.2fx |\n",
                s, p10[a], thr[a], mn[a], p10[b], thr[b], mn[b], p10[b] / p10[a], r1, r2
        }
    }' "$OUT"
done
