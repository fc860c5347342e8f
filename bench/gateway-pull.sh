#!/usr/bin/env bash
# Issue #16's two other gateway figures, on loopback:
#  1. request → READY through the gateway vs 'skiff pull --convert none' + 'skiff convert' run by hand, for an image
#     of LAYERS x MB (half random, half zeros per layer); fresh state each run (a new gateway and shared directory,
#     a new store), interleaved, RUNS runs each; medians. The gateway is started before the clock starts (it is a
#     long-running service); its JVM is warm for neither side's first request.
#  2. 'skiff run --rm IMAGE true' as skiffuser on a "node" that never pulled the image ([gateway] shared, empty
#     store) vs the same image pulled and converted into the user's store; bench/medians.py, RUNS2 rounds.
#   LAYERS=3 MB=40 RUNS=3 RUNS2=10 bench/gateway-pull.sh      (as root; needs docker-registry, umoci, skopeo)
set -euo pipefail
cd "$(dirname "$0")/.."
LAYERS=${LAYERS:-3}; MB=${MB:-40}; RUNS=${RUNS:-3}; RUNS2=${RUNS2:-10}
work=$(mktemp -d "${TMPDIR:-/tmp}/skiff-bench-gwpull.XXXXXX"); chmod 755 "$work"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true
  # the runs' FUSE mounts (idle for a second, then reaped): wait, then detach what is left
  sleep 2; grep -o " $work/[^ ]*" /proc/mounts | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

port=$(freeport)
mkdir -p "$work/data"
printf 'version: 0.1\nlog: {level: error, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: 127.0.0.1:%s, secret: bench}\n' \
  "$work/data" "$port" > "$work/registry.yml"
/usr/bin/docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
umoci init --layout "$work/img" >/dev/null && umoci new --image "$work/img:1" >/dev/null
for i in $(seq "$LAYERS"); do
  mkdir -p "$work/t$i/data"
  head -c $((MB * 512 * 1024)) /dev/urandom > "$work/t$i/data/random$i"
  head -c $((MB * 512 * 1024)) /dev/zero > "$work/t$i/data/zeros$i"
  tar -C "$work/t$i" -cf "$work/l$i.tar" . && umoci raw add-layer --image "$work/img:1" "$work/l$i.tar" >/dev/null
  rm -rf "$work/t$i" "$work/l$i.tar"
done
mkdir -p "$work/bb/bin" && cp /bin/busybox "$work/bb/bin/" && ln -s busybox "$work/bb/bin/true" && ln -s busybox "$work/bb/bin/sh"
tar -C "$work/bb" -cf "$work/bb.tar" . && umoci raw add-layer --image "$work/img:1" "$work/bb.tar" >/dev/null
ref=127.0.0.1:$port/bench/big:1
skopeo copy --quiet --dest-tls-verify=false "oci:$work/img:1" "docker://$ref"
rm -rf "$work/img"

gateway_run() { # prints seconds from POST to READY on a fresh gateway
  local d=$work/gw$1; mkdir -p "$d"
  HOME=$d XDG_CONFIG_HOME=$d/.config bin/skiff gateway serve --listen 127.0.0.1:0 --shared "$d/shared" >"$d/out" 2>&1 &
  local pid=$!; pids+=($pid)
  local url=
  for _ in $(seq 300); do url=$(sed -n 's|.*listening on \(http://[0-9.:]*\)/api/v1.*|\1|p' "$d/out"); [ -n "$url" ] && break; sleep 0.1; done
  local t0; t0=$(now)
  HOME=$d XDG_CONFIG_HOME=$d/.config bin/skiff pull -q --gateway "$url" "$ref" >/dev/null
  local t1; t1=$(now)
  kill "$pid"; wait "$pid" 2>/dev/null || true
  rm -rf "$d"
  python3 -c "print(f'{$t1-$t0:.2f}')"
}
by_hand() {
  local s=$work/store$1; local t0; t0=$(now)
  HOME=$work XDG_CONFIG_HOME=$work/.config bin/skiff --storage "$s" pull -q --convert none "$ref" >/dev/null
  HOME=$work XDG_CONFIG_HOME=$work/.config bin/skiff --storage "$s" convert -q "$ref" >/dev/null
  local t1; t1=$(now); rm -rf "$s"
  python3 -c "print(f'{$t1-$t0:.2f}')"
}
echo "image: $LAYERS layers x $MB MB (half random); load average $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
g=(); h=()
for r in $(seq "$RUNS"); do
  if [ $((r % 2)) = 1 ]; then g+=("$(gateway_run "$r")"); h+=("$(by_hand "$r")"); else h+=("$(by_hand "$r")"); g+=("$(gateway_run "$r")"); fi
done
python3 - "${g[*]}" "${h[*]}" <<'PY'
import statistics, sys
g=[float(x) for x in sys.argv[1].split()]; h=[float(x) for x in sys.argv[2].split()]
print(f"request -> READY via gateway: median {statistics.median(g):.2f} s  {g}")
print(f"skiff pull + skiff convert:   median {statistics.median(h):.2f} s  {h}")
print(f"overhead: {100*(statistics.median(g)/statistics.median(h)-1):+.1f}%")
PY

# 2. compute-node view
shared=$work/shared; gwd=$work/gwrun; mkdir -p "$gwd"
HOME=$gwd XDG_CONFIG_HOME=$gwd/.config bin/skiff gateway serve --listen 127.0.0.1:0 --shared "$shared" >"$gwd/out" 2>&1 &
pids+=($!)
for _ in $(seq 300); do url=$(sed -n 's|.*listening on \(http://[0-9.:]*\)/api/v1.*|\1|p' "$gwd/out"); [ -n "$url" ] && break; sleep 0.1; done
HOME=$gwd XDG_CONFIG_HOME=$gwd/.config bin/skiff pull -q --gateway "$url" "$ref" >/dev/null
mkdir -p "$work/node/cfg/skiff" "$work/local/cfg/skiff" "$work/node/xdg" "$work/local/xdg"
# The same configuration on both sides (as a site.toml would be): the difference is only where the image comes from.
printf '[gateway]\nshared = "%s"\n' "$shared" > "$work/node/cfg/skiff/config.toml"
cp "$work/node/cfg/skiff/config.toml" "$work/local/cfg/skiff/config.toml"
chown -R skiffuser: "$work/node" "$work/local"; chmod 700 "$work/node/xdg" "$work/local/xdg"
runuser -u skiffuser -- env HOME=/home/skiffuser XDG_CONFIG_HOME="$work/local/cfg" bin/skiff --storage "$work/local/store" pull -q "$ref" >/dev/null
u="runuser -u skiffuser -- env HOME=/home/skiffuser SKIFF_MOUNT_IDLE=1"
python3 bench/medians.py "$RUNS2" \
  "gateway image, empty store" "$u XDG_CONFIG_HOME=$work/node/cfg XDG_RUNTIME_DIR=$work/node/xdg $PWD/bin/skiff --storage $work/node/store run --rm $ref true" \
  "locally pulled image" "$u XDG_CONFIG_HOME=$work/local/cfg XDG_RUNTIME_DIR=$work/local/xdg $PWD/bin/skiff --storage $work/local/store run --rm $ref true"
test ! -e "$work/node/store/sqfs" && echo "(the node's store holds no SquashFS: the gateway's file was run)"
