#!/usr/bin/env bash
# Cold pull of a large multi-layer image into a fresh store, skiff vs skopeo doing the same work
# (registry → OCI layout, every blob verified), interleaved, median of RUNS each.
#   bench/pull.sh            # 5 layers x 70 MB of /dev/urandom (incompressible), 3 runs each
#   LAYERS=5 MB=70 RUNS=3 bench/pull.sh
# Needs: docker-registry, umoci, skopeo, a built target/skiff.jar. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
LAYERS=${LAYERS:-5}
MB=${MB:-70}
work=$(mktemp -d "${TMPDIR:-/tmp}/skiff-bench-pull.XXXXXX")
reg_pid=
cleanup() { [ -n "$reg_pid" ] && kill "$reg_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/data"
cat > "$work/registry.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $work/data}}
http: {addr: 127.0.0.1:$port, secret: bench}
YML
/usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done

echo "building a ${LAYERS} x ${MB} MB image..." >&2
umoci init --layout "$work/img" >/dev/null
umoci new --image "$work/img:big" >/dev/null
for i in $(seq "$LAYERS"); do
  mkdir -p "$work/tree$i"
  head -c "${MB}M" /dev/urandom > "$work/tree$i/blob$i"
  tar -C "$work/tree$i" -cf "$work/layer$i.tar" .
  umoci raw add-layer --image "$work/img:big" "$work/layer$i.tar" >/dev/null
  rm -rf "$work/tree$i" "$work/layer$i.tar"
done
ref=127.0.0.1:$port/bench/big:1
skopeo copy --quiet --dest-tls-verify=false "oci:$work/img:big" "docker://$ref"
rm -rf "$work/img"
size=$(du -sm "$work/data" | cut -f1)

now() { date +%s.%N; }
skiff_run() { rm -rf "$work/s"; local t=$(now); bin/skiff --storage "$work/s" pull -q --convert none "$ref" >/dev/null; echo "$(now) - $t" | bc; }
skopeo_run() { rm -rf "$work/o"; local t=$(now); skopeo copy --quiet --src-tls-verify=false "docker://$ref" "oci:$work/o:big"; echo "$(now) - $t" | bc; }

skiff_t=(); skopeo_t=()
for r in $(seq "$RUNS"); do
  # Alternate who goes first so page-cache and neighbour noise hit both alike.
  if (( r % 2 )); then a=$(skiff_run); b=$(skopeo_run); else b=$(skopeo_run); a=$(skiff_run); fi
  skiff_t+=("$a"); skopeo_t+=("$b")
  printf 'run %d: skiff %.2f s, skopeo %.2f s\n' "$r" "$a" "$b" >&2
done
# Up-to-date re-pull into the stores the last runs left: only the manifest is asked for.
skiff_w=(); skopeo_w=()
for r in $(seq "$RUNS"); do
  t=$(now); bin/skiff --storage "$work/s" pull -q --convert none "$ref" >/dev/null; skiff_w+=("$(echo "$(now) - $t" | bc)")
  t=$(now); skopeo copy --quiet --src-tls-verify=false "docker://$ref" "oci:$work/o:big"; skopeo_w+=("$(echo "$(now) - $t" | bc)")
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
ms=$(median "${skiff_t[@]}"); mo=$(median "${skopeo_t[@]}")
echo
echo "image: $LAYERS layers x $MB MB random (registry storage ${size} MB), $RUNS runs each, interleaved"
echo "| tool | runs (s) | median (s) |"
echo "|---|---|---|"
echo "| skiff pull | ${skiff_t[*]} | $ms |"
echo "| skopeo copy docker:// oci: | ${skopeo_t[*]} | $mo |"
printf 'cold pull ratio skopeo/skiff: %.2fx\n' "$(echo "$mo / $ms" | bc -l)"
ws=$(median "${skiff_w[@]}"); wo=$(median "${skopeo_w[@]}")
echo
echo "| up-to-date re-pull | runs (s) | median (s) |"
echo "|---|---|---|"
echo "| skiff pull | ${skiff_w[*]} | $ws |"
echo "| skopeo copy (blobs reused) | ${skopeo_w[*]} | $wo |"
printf 're-pull ratio skopeo/skiff: %.2fx\n' "$(echo "$wo / $ws" | bc -l)"
