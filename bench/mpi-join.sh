#!/usr/bin/env bash
# What sharing one container per node costs each rank under srun: resident memory while N ranks run, and where a
# rank's start goes (SKIFF_TRACE=1 wall-clock points: JVM start, registered in the group, group complete and
# container ready, exec of nsenter). Run as an unprivileged user with SLURM_CONF set and SKIFF_STORAGE holding IMAGE.
#
#   bench/mpi-join.sh IMAGE [N] [RUNS]
set -euo pipefail
img=${1:?usage: bench/mpi-join.sh IMAGE [N] [RUNS]}
n=${2:-8}
runs=${3:-5}
skiff=$(cd "$(dirname "$0")/.." && pwd)/bin/skiff
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
me=$(id -u)

# Resident memory: the ranks sleep; every process of this user is sampled once they all run.
rss() { # label, command...
  local label=$1; shift
  srun -n "$n" "$@" >"$tmp/out" 2>&1 &
  local pid=$!
  for _ in $(seq 300); do [ "$(grep -c '^up' "$tmp/out" 2>/dev/null)" -ge "$n" ] && break; sleep 0.1; done
  sleep 0.5
  ps -u "$me" -o rss=,comm= >"$tmp/ps"
  wait "$pid"
  awk -v l="$label" -v n="$n" '
    $2 == "sleep" { r += $1; c++ }
    $2 == "java" { j++; jr += $1 }
    $2 ~ /squashfuse/ { f += $1 }
    END { printf "%-8s ranks %d, mean rank RSS %.0f KiB; java processes %d (%d KiB); squashfuse %d KiB\n", l, c, r / (c ? c : 1), j, jr, f }' "$tmp/ps"
}
rss host sh -c 'echo up; exec sleep 3'
rss skiff "$skiff" run "$img" sh -c 'echo up; exec sleep 3'

# Start-up: end to end, and per rank from the traces.
wall() { local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); }
for mode in host join nojoin; do
  : >"$tmp/wall.$mode"
  for _ in $(seq "$runs"); do
    case $mode in
      host) wall srun -n "$n" true >>"$tmp/wall.$mode" ;;
      join) wall srun -n "$n" "$skiff" run "$img" true >>"$tmp/wall.$mode" ;;
      nojoin) wall srun -n "$n" "$skiff" run --no-join "$img" true >>"$tmp/wall.$mode" ;;
    esac
  done
  echo "srun -n $n ($mode): median $(sort -n "$tmp/wall.$mode" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}') ms over $runs runs"
done
: >"$tmp/trace"
for _ in $(seq "$runs"); do SKIFF_TRACE=1 srun -n "$n" "$skiff" run "$img" true 2>>"$tmp/trace" >/dev/null; done
# per rank: JVM start -> registered (skiff's own start), registered -> ready (the join), ready -> exec
awk '/join: registered/ { for (i = 1; i <= NF; i++) { if ($i == "pid") p = $(i + 1); if ($i == "at") t = $(i + 1) }
                          s[p] = $(NF - 1); r[p] = t }
     /join: group complete/ { for (i = 1; i <= NF; i++) { if ($i == "pid") p = $(i + 1); if ($i == "at") t = $(i + 1) }; c[p] = t }
     /join: exec/ { for (i = 1; i <= NF; i++) { if ($i == "pid") p = $(i + 1); if ($i == "at") t = $(i + 1) }; e[p] = t }
     END { for (p in e) { n++; a += r[p] - s[p]; b += c[p] - r[p]; d += e[p] - c[p] }
           printf "per rank (mean of %d): JVM start to registered %.0f ms, join wait %.0f ms, ready to exec %.0f ms\n", n, a / n, b / n, d / n }' "$tmp/trace"
