#!/bin/sh
# Memory of training a Nature-CNN learner on an Atari-sized DQN Replay dataset (issue #11:
# peak RSS within 1.2x of the frame bytes plus the networks).
#   bench/atari_rss.sh BUILD_DIR [frames (100000)] [steps (20)]
# Writes a synthetic dataset (bench/atari_like.c) under $TMPDIR, trains `dr3 train --net
# nature --frame-stack 4` on it under /usr/bin/time -v and prints peak RSS against the
# frame bytes and the networks' bytes (parameters of the online and target networks,
# gradients, Adam's two moments: 5 copies of 1,687,206 floats for 6 actions).
set -eu
B=${1:?usage: bench/atari_rss.sh BUILD_DIR [frames] [steps]}
FRAMES=${2:-100000}
STEPS=${3:-20}
D=${TMPDIR:-/tmp}/dr3_atari_rss.$$
trap 'rm -rf "$D"' EXIT
mkdir -p "$D"
"$B/bench/atari_like" "$D/data" "$FRAMES" 1
/usr/bin/time -v "$B/tools/dr3" train --data "$D/data" --net nature --frame-stack 4 \
    --steps "$STEPS" --batch 32 --seed 1 >"$D/out" 2>"$D/time"
tail -n 2 "$D/out"
RSS_KB=$(awk -F: '/Maximum resident set size/ { gsub(/ /, "", $2); print $2 }' "$D/time")
awk -v rss="$RSS_KB" -v frames="$FRAMES" 'BEGIN {
    fb = frames * 84 * 84; nb = 5 * 1687206 * 4;
    printf "peak RSS %.1f MB; frames %.1f MB + networks %.1f MB = %.1f MB; ratio %.3f\n",
           rss / 1024, fb / 1048576, nb / 1048576, (fb + nb) / 1048576, rss * 1024 / (fb + nb)
}'
