#!/usr/bin/env bash
# Start-up time of bin/skiff: 'skiff --version' and 'skiff images' (store with 20 image names), wall time,
# and 'skiff inspect', median of $RUNS runs (default 10) after 2 warm-ups, with and without the AOT cache of ci/aot.sh.
# Prints a Markdown table (python3 timer, like hyperfine -N but interleaved; medians).
# Needs a built jar (mvn package); (re)builds the AOT cache with ci/aot.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-10}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SKIFF_STORAGE=$work/store

bash ci/aot.sh
SKIFF_AOT_TRAIN=1 bin/skiff --write-archive "$work/image.tar"
bin/skiff load -q -i "$work/image.tar"
for i in $(seq 2 20); do bin/skiff tag training:1 "bench/image$i:v$i"; done

# Runs 'bin/skiff ARGS' without (SKIFF_AOT=off) and with the AOT cache, interleaved (off, on, off, on...)
# so both see the same neighbours, $runs times each after 2 warm-ups, each started directly (no shell),
# as 'hyperfine -N' does. Prints median wall and CPU (user+sys) ms of both, and the wall ratio; CPU time
# is given because wall time on a shared machine mostly measures the neighbours.
compare() {
  python3 - "$runs" bin/skiff "$@" <<'PY'
import os, resource, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
envs = {"off": dict(os.environ, SKIFF_AOT="off"), "on": dict(os.environ)}
def once(env):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN); s = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    w = time.perf_counter() - s; r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return w, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
for _ in range(2):
    for e in envs.values(): once(e)
res = {k: ([], []) for k in envs}
for _ in range(runs):
    for k, e in envs.items():
        w, c = once(e); res[k][0].append(w); res[k][1].append(c)
m = {k: (statistics.median(v[0]) * 1000, statistics.median(v[1]) * 1000) for k, v in res.items()}
print("%.0f | %.0f | %.0f | %.0f | %.2f" % (m["off"][0], m["off"][1], m["on"][0], m["on"][1], m["off"][0] / m["on"][0]))
PY
}

echo "| command | no AOT cache: wall ms | CPU ms | AOT cache: wall ms | CPU ms | wall speed-up |"
echo "|---|---:|---:|---:|---:|---:|"
for args in "--version" "images" "inspect training:1"; do
  # shellcheck disable=SC2086
  echo "| \`skiff $args\` | $(compare $args) |"
done
echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "java: $("${SKIFF_JAVA_HOME:-${JAVA_HOME:-/usr}}/bin/java" -version 2>&1 | head -1)"
