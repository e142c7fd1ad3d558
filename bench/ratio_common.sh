# Sourced by bench/ratio.sh and bench/ratio_dist.sh: the PyTorch interpreter, a scratch file
# for the rounds' results (removed on exit), and the machine line both tables start with.
# Expects HERE (the bench directory).
PY=/usr/bin/python3
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT

grep -m1 "model name" /proc/cpuinfo | sed 's/.*: /CPU: /'
echo "CPUs online: $(getconf _NPROCESSORS_ONLN), load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
