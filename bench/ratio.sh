#!/bin/sh
# libdr3 against PyTorch in one invocation: for each BLIS kernel set libdr3 is run with
# (DR3_BLIS_ARCH), ROUNDS interleaved rounds of bench/step_bench (1 and 2 threads) and of
# bench/pytorch_step.py (1 and 2 BLIS threads, BLIS forced to skx = BLIS_ARCH_TYPE 0 and left
# to its own choice), then the best-against-best ratio table, the per-thread-count table and
# the sgemm peak measured in the same run. Timing only: CI never runs this.
#   usage: bench/ratio.sh [build-dir] [rounds] [seconds-per-case]
#   environment: ARCHS="skx zen3" (libdr3's kernel sets), TORCH_ARCHS="0 default"
set -eu
BUILD=${1:-build/release}
ROUNDS=${2:-3}
SECS=${3:-1}
ARCHS=${ARCHS:-"skx zen3"}
TORCH_ARCHS=${TORCH_ARCHS:-"0 default"}
HERE=$(dirname "$0")
. "$HERE/ratio_common.sh"
for arch in $ARCHS; do
    : >"$OUT"
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        DR3_BLIS_ARCH=$arch "$BUILD/bench/step_bench" "$SECS" |
            grep -E '^(RESULT|PEAK|libdr3)' >>"$OUT"
        for ta in $TORCH_ARCHS; do
            for t in 1 2; do
                if [ "$ta" = default ]; then
                    env -u BLIS_ARCH_TYPE BLIS_NUM_THREADS=$t "$PY" "$HERE/pytorch_step.py" "$SECS" "$t"
                else
                    BLIS_ARCH_TYPE=$ta BLIS_NUM_THREADS=$t "$PY" "$HERE/pytorch_step.py" "$SECS" "$t"
                fi | grep '^RESULT' | sed "s/^RESULT torch /RESULT torch:$ta /" >>"$OUT"
            done
        done
        r=$((r + 1))
    done
    echo
    grep -m1 '^libdr3' "$OUT"
    echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg); $ROUNDS rounds, ${SECS} s per case"
    awk '
    $1 == "PEAK" { if ($3 > peak[$2]) peak[$2] = $3 }
    $1 == "RESULT" && $2 == "libdr3" {
        k = $3 " " $4
        if ($6 > lrn[k]) lrn[k] = $6
        if ($5 > man[k]) man[k] = $5
        gf[k] = $8
        n[k]++; all[k] = all[k] " " int($6 + 0.5)
        if ($6 > lbest[$3]) { lbest[$3] = $6; lthr[$3] = $4 }
    }
    $1 == "RESULT" && $2 ~ /^torch/ {
        k = $3 " " $4
        if ($5 > tor[k]) { tor[k] = $5; tarch[k] = substr($2, 7) }
        if ($5 > tbest[$3]) { tbest[$3] = $5; tthr[$3] = $4; tba[$3] = substr($2, 7) }
    }
    END {
        split("tiny small large", cfg, " ")
        goal["tiny"] = 10; goal["small"] = 2.5; goal["large"] = 1.0
        printf "sgemm peak (best of dr3k_sgemm and BLIS threads, 1536^3): 1 thread %.1f, 2 threads %.1f GFLOP/s\n", peak[1], peak[2]
        printf "\n| config | libdr3 best steps/s (thr) | PyTorch best steps/s (thr, BLIS_ARCH_TYPE) | ratio | goal |\n|---|---|---|---|---|\n"
        for (i = 1; i <= 3; i++) {
            c = cfg[i]
            printf "| %s | %.0f (%d) | %.0f (%d, %s) | %.2fx | >= %gx |\n", c, lbest[c], lthr[c], tbest[c], tthr[c], tba[c], lbest[c] / tbest[c], goal[c]
        }
        printf "\n| config | thr | learner steps/s (best; all rounds) | hand-assembled | %% sgemm peak | PyTorch steps/s | ratio |\n|---|---|---|---|---|---|---|\n"
        for (t = 1; t <= 2; t++)
            for (i = 1; i <= 3; i++) {
                c = cfg[i]; k = c " " t
                # the learner best rate against the best peak of the run (a round whose own
                # peak reading was disturbed would overstate the fraction)
                printf "| %s | %d | %.0f (%s) | %.0f | %.0f%% | %.0f | %.2fx |\n", c, t, lrn[k], substr(all[k], 2), man[k], 100 * lrn[k] * gf[k] / peak[t], tor[k], lrn[k] / tor[k]
            }
    }' "$OUT"
done
