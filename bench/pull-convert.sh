#!/usr/bin/env bash
# Cold pull -> runnable of the big test image (issue 17), side by side in one run, REPS interleaved rounds, medians:
#   skiff        skiff pull (download overlapped with the SquashFS conversion): the image is then runnable
#   skiff-seq    skiff pull --convert none, then skiff convert: the same work one after the other
#   podman       podman pull --tls-verify=false into a fresh --root (overlay): download, verify, unpack
#   skiff-dl     skiff pull --convert none: the download alone, the most the overlap can hide (not in the default TOOLS)
# The image is bench/convert-layers.sh's (four gzip layers of this machine's usr/, 492.6 MB gzip, 1.27 GB tar), built
# there if missing, served by a local docker-registry on 127.0.0.1. Each run starts from an empty store; the
# registry's files are in the page cache after the first round. Prints per-run lines on stderr and a Markdown table
# (wall and CPU = user + system of the whole process tree). Needs root (podman --root), docker-registry, skopeo,
# podman, a built target/ and bin/skiff. Usage: bench/pull-convert.sh [REPS]; env WORK (the image's cache), TOOLS.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3} WORK=${WORK:-/var/tmp/skiff-convert-layers}
[ -f "$WORK/img/.complete" ] || GZIP9=0 bench/convert-layers.sh 0 >/dev/null
run=$(mktemp -d /var/tmp/skiff-bench-pullconv.XXXXXX)
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; wait 2>/dev/null; while umount "$run/pr/overlay" 2>/dev/null; do :; done; rm -rf "$run"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$run/data"
cat > "$run/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $run/data}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
/usr/bin/docker-registry serve "$run/registry.yml" >"$run/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
ref=127.0.0.1:$port/bench/big:1
skopeo copy --quiet --dest-tls-verify=false "oci:$WORK/img:bench" "docker://$ref"

# timed CMD...: prints "wall_s cpu_s" (cpu = user + system, children included).
timed() {
  /usr/bin/time -f "%e %U %S" -o "$run/time" "$@" >/dev/null 2>"$run/err" || { cat "$run/err" >&2; return 1; }
  awk '{printf "%.2f %.2f\n", $1, $2 + $3}' "$run/time"
}
# podman's overlay driver bind-mounts its own directory: unmount it before removing the store.
# Its overlay directory can stay busy for a few seconds after podman has exited (EBUSY): retry for up to 20 s.
fresh() {
  local i
  for i in $(seq 20); do
    while umount "$run/pr/overlay" 2>/dev/null; do :; done # it may be stacked
    rm -rf "$run/s" "$run/pr" "$run/prr" 2>/dev/null && return 0
    sleep 1
  done
  rm -rf "$run/s" "$run/pr" "$run/prr"
}
one() {
  fresh
  case $1 in
    skiff) timed bin/skiff --storage "$run/s" pull -q "$ref" ;;
    skiff-dl) timed bin/skiff --storage "$run/s" pull -q --convert none "$ref" ;;
    skiff-seq) timed bash -c 'bin/skiff --storage "$0" pull -q --convert none "$1" && bin/skiff --storage "$0" convert -q "$1"' "$run/s" "$ref" ;;
    podman) timed podman --root "$run/pr" --runroot "$run/prr" pull -q --tls-verify=false "$ref" ;;
  esac
  case $1 in
    skiff|skiff-seq) ls "$run"/s/sqfs/*.sqfs >/dev/null ;; # runnable: the SquashFS is there
    podman) podman --root "$run/pr" --runroot "$run/prr" rmi -a -f >/dev/null 2>&1 || true ;;
  esac
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

tools=${TOOLS:-skiff skiff-seq podman}
declare -A W C
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), image $(du -sm "$run/data" | cut -f1) MB in the registry, commit $(git rev-parse --short HEAD)"
for ((i = 0; i < REPS; i++)); do
  # Rotate who goes first so page-cache and neighbour noise hit all alike.
  set -- $tools; for ((k = 0; k < i % 3; k++)); do set -- "${@:2}" "$1"; done
  for t in "$@"; do
    read -r w c < <(one "$t")
    W[$t]+="$w "; C[$t]+="$c "
    echo "round $((i + 1)) $t: ${w} s wall, ${c} s CPU, load $(cut -d' ' -f1 /proc/loadavg)" >&2
  done
done
echo "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| tool | wall runs (s) | wall median (s) | CPU runs (s) | CPU median (s) |"
echo "|---|---|---:|---|---:|"
for t in $tools; do
  echo "| $t | ${W[$t]}| $(echo "${W[$t]}" | median) | ${C[$t]}| $(echo "${C[$t]}" | median) |"
done
[ "$tools" = "skiff skiff-seq podman" ] || exit 0
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
wp=$(echo "${W[podman]}" | median); cp=$(echo "${C[podman]}" | median)
echo
echo "skiff / podman: $(ratio "$(echo "${W[skiff]}" | median)" "$wp")x wall, $(ratio "$(echo "${C[skiff]}" | median)" "$cp")x CPU;" \
  "skiff-seq / podman: $(ratio "$(echo "${W[skiff-seq]}" | median)" "$wp")x wall, $(ratio "$(echo "${C[skiff-seq]}" | median)" "$cp")x CPU"
