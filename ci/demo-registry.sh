#!/usr/bin/env bash
# Starts a private registry on 127.0.0.1:5000 (Debian's docker-registry with its own config; the
# packaged service listens on every address) holding a small demo image, localhost:5000/demo/busybox,
# built with umoci from this machine's static busybox, so that the README's quick start works on a
# machine with no access to Docker Hub. Idempotent; stop it with: pkill -f skiff-demo-registry
set -euo pipefail
port=${SKIFF_DEMO_PORT:-5000}
dir=/var/tmp/skiff-demo-registry
mkdir -p "$dir/data"
if ! curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; then
  cat >"$dir/config.yml" <<YML
version: 0.1
log: {level: error, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}}
http: {addr: "127.0.0.1:$port", secret: skiff-demo-registry}
YML
  setsid /usr/bin/docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 < /dev/null &
  for _ in $(seq 50); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.2; done
fi
if ! curl -fs "http://127.0.0.1:$port/v2/demo/busybox/manifests/latest" \
     -H 'Accept: application/vnd.oci.image.manifest.v1+json' >/dev/null 2>&1; then
  work=$(mktemp -d)
  mkdir -p "$work/root/bin" "$work/root/etc" "$work/root/tmp" "$work/root/root"
  cp /bin/busybox "$work/root/bin/"
  for c in sh ls cat id echo true env pwd uname whoami head; do ln -s busybox "$work/root/bin/$c"; done
  printf 'root:x:0:0:root:/root:/bin/sh\n' >"$work/root/etc/passwd"
  printf 'root:x:0:\n' >"$work/root/etc/group"
  printf 'NAME="skiff demo (busybox)"\n' >"$work/root/etc/os-release"
  umoci init --layout "$work/img" && umoci new --image "$work/img:latest"
  tar --numeric-owner -C "$work/root" -cf "$work/layer.tar" .
  umoci raw add-layer --image "$work/img:latest" "$work/layer.tar"
  umoci config --image "$work/img:latest" --config.cmd /bin/sh --config.env PATH=/bin
  skopeo copy --quiet --dest-tls-verify=false "oci:$work/img:latest" "docker://127.0.0.1:$port/demo/busybox:latest"
  rm -rf "$work"
fi
echo "demo registry: localhost:$port/demo/busybox:latest"
