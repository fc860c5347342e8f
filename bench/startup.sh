#!/usr/bin/env bash
# Start-up time of bin/skiff: 'skiff --version' and 'skiff images' (store with 20 image names), wall time,
# and 'skiff inspect', median of $RUNS runs (default 10) after 2 warm-ups, with and without the AOT cache of ci/aot.sh.
# Prints a Markdown table (python3 timer, like hyperfine -N; median rather than mean).
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

# Median wall and CPU (user+sys) milliseconds of running "$@" $runs times after 2 warm-ups, each
# started directly (no shell), as 'hyperfine -N' does; CPU time is reported too because wall time on a
# shared machine mostly measures the neighbours.
median() {
  python3 - "$runs" "$@" <<'PY'
import resource, statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
for _ in range(2): subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
wall, cpu = [], []
for _ in range(runs):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN); s = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall.append(time.perf_counter() - s); r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
print("%.0f | %.0f" % (statistics.median(wall) * 1000, statistics.median(cpu) * 1000))
PY
}

echo "| command | no AOT cache: wall ms | CPU ms | AOT cache: wall ms | CPU ms |"
echo "|---|---:|---:|---:|---:|"
for args in "--version" "images" "inspect training:1"; do
  # shellcheck disable=SC2086
  off=$(SKIFF_AOT=off median bin/skiff $args)
  # shellcheck disable=SC2086
  on=$(median bin/skiff $args)
  echo "| \`skiff $args\` | $off | $on |"
done
echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "java: $("${SKIFF_JAVA_HOME:-${JAVA_HOME:-/usr}}/bin/java" -version 2>&1 | head -1)"
