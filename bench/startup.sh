#!/usr/bin/env bash
# Start-up time of bin/skiff: 'skiff --version' and 'skiff images' (store with 20 image names), wall time,
# median of $RUNS runs (default 10) after 2 warm-ups, with and without the AOT cache of ci/aot.sh.
# Uses hyperfine when installed, else a python3 timer. Prints a Markdown table.
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

median() { # median wall seconds of running "$@" $runs times
  if command -v hyperfine >/dev/null; then
    hyperfine -N -w 2 -r "$runs" --export-json "$work/h.json" "$(printf '%q ' "$@")" >/dev/null 2>&1
    python3 -c 'import json,sys; print("%.0f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$work/h.json"
  else
    python3 - "$runs" "$@" <<'PY'
import statistics, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
for _ in range(2): subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
t = []
for _ in range(runs):
    s = time.perf_counter(); subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True); t.append(time.perf_counter() - s)
print("%.0f" % (statistics.median(t) * 1000))
PY
  fi
}

echo "| command | no AOT cache (ms) | AOT cache (ms) |"
echo "|---|---:|---:|"
for args in "--version" "images"; do
  # shellcheck disable=SC2086
  off=$(SKIFF_AOT=off median bin/skiff $args)
  # shellcheck disable=SC2086
  on=$(median bin/skiff $args)
  echo "| \`skiff $args\` | $off | $on |"
done
echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "java: $("${SKIFF_JAVA_HOME:-${JAVA_HOME:-/usr}}/bin/java" -version 2>&1 | head -1)"
