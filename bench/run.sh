#!/bin/bash
# Figures for `skiff run` (RESULTS.md, section run). Run as root from the repository root after
# `mvn -B -q package -DskipITs`; the measurements themselves run as the unprivileged user skiffuser.
#   bench/run.sh [RUNS]        RUNS: hyperfine runs per command (default 20)
# Builds a busybox image and a python image (from this host's python3) with umoci/skopeo, lays out their
# SquashFS and directory forms where skiff's Rootfs expects them, then compares warm starts with ch-run and
# podman, peak RSS of the launcher, and metadata-heavy I/O against the same tree on the host.
set -euo pipefail
runs=${1:-20}
# Both start-up caches (CLI and stage 2), as ci/install.sh leaves them: the figures are for the launcher users get.
bash "$(dirname "$0")/../ci/aot.sh"
user=skiffuser
here=$(cd "$(dirname "$0")/.." && pwd)
skiff=$here/bin/skiff
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
work=$(mktemp -d /tmp/skiff-bench-run.XXXXXX)
chmod 755 "$work"
trap 'sleep 3; rm -rf "$work" 2>/dev/null || true' EXIT
store=$work/storage
xdg=$work/xdg
out=$work/out
mkdir -p "$store" "$xdg" "$out"
chown skiffuser: "$out"
as_user() { runuser -u $user -- env HOME=/home/$user USER=$user SKIFF_STORAGE="$store" XDG_RUNTIME_DIR="$xdg" "$@"; }

# name TREE: image NAME from TREE, its manifest hex printed
install_image() {
  local name=$1 tree=$2 lay=$work/lay-$1
  tar --numeric-owner -C "$tree" -cf "$work/$name.tar" .
  umoci init --layout "$lay" >/dev/null
  umoci new --image "$lay:latest"
  umoci raw add-layer --image "$lay:latest" "$work/$name.tar"
  umoci config --image "$lay:latest" --config.cmd /bin/sh
  [ -f "$store/oci/oci-layout" ] || { mkdir -p "$store/oci"; umoci init --layout "$store/oci"; }
  skopeo copy --quiet "oci:$lay:latest" "oci:$store/oci:docker.io/library/$name:latest"
  local hex
  hex=$(python3 -c "import json,sys; i=json.load(open('$store/oci/index.json')); print([m['digest'] for m in i['manifests'] if m['annotations']['org.opencontainers.image.ref.name']=='docker.io/library/$name:latest'][0].split(':')[1])")
  mkdir -p "$store/sqfs" "$store/dir"
  umoci raw unpack --image "$lay:latest" "$store/dir/$hex" >/dev/null
  # lz4: quick to build on a shared machine; skiff and ch-run read the very same file.
  mksquashfs "$store/dir/$hex" "$store/sqfs/$hex.sqfs" -comp lz4 -noappend -quiet >/dev/null
  echo "$hex"
}

# busybox image
bb=$work/tree-bb
mkdir -p "$bb"/{bin,etc,tmp,root,proc,sys,dev,home}
cp /bin/busybox "$bb/bin/"
for c in sh true ls cat find xargs; do ln -s busybox "$bb/bin/$c"; done
echo 'root:x:0:0:root:/root:/bin/sh' > "$bb/etc/passwd"; echo 'root:x:0:' > "$bb/etc/group"
touch "$bb/etc/hosts" "$bb/etc/resolv.conf"
hexbb=$(install_image bb "$bb")

# python image: this host's python3, its standard library and the libraries it links
py=$work/tree-py
mkdir -p "$py"/{bin,etc,tmp,root,proc,sys,dev,home,usr/bin,usr/lib}
cp -a "$bb/bin/." "$py/bin/"
cp "$bb/etc/"* "$py/etc/"
# The system python (a pyenv shim in front of it would be a shell script, not the interpreter).
pybin=$(readlink -f /usr/bin/python3)
cp "$pybin" "$py/usr/bin/python3"
pylib=$("$pybin" -c 'import sysconfig; print(sysconfig.get_paths()["stdlib"])')
mkdir -p "$py$(dirname "$pylib")"
cp -a "$pylib" "$py$(dirname "$pylib")/"
for lib in $(ldd "$pybin" | awk '/=>/ {print $3} /ld-linux/ {print $1}'); do
  mkdir -p "$py$(dirname "$lib")"; cp -L "$lib" "$py$lib"
done
for so in $(find "$pylib/lib-dynload" -name '*.so'); do
  for lib in $(ldd "$so" 2>/dev/null | awk '/=>/ {print $3}'); do
    [ -e "$py$lib" ] || { mkdir -p "$py$(dirname "$lib")"; cp -L "$lib" "$py$lib"; }
  done
done
[ -d /lib64 ] && [ ! -e "$py/lib64" ] && mkdir -p "$py/lib64" && cp -L /lib64/ld-linux-x86-64.so.2 "$py/lib64/" 2>/dev/null || true
hexpy=$(install_image py "$py")
chown -R $user: "$store/oci" "$store/sqfs" "$xdg"
chown $user: "$store" "$store/dir"
chmod 700 "$xdg"

echo "## skiff run: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "### warm start of /bin/true (hyperfine, $runs runs, median)"
as_user "$skiff" run bb /bin/true   # mounts the image once
export_opts=(-N --warmup 3 --runs "$runs" --export-markdown "$out/start.md")
cmds=("$skiff run bb /bin/true" "$skiff run --rootfs-format dir bb /bin/true"
      "ch-run $store/sqfs/$hexbb.sqfs -- /bin/true" "ch-run $store/dir/$hexbb -- /bin/true")
podman_ok=no
if true; then
  chmod -R a+rX "$work/lay-bb"
  if as_user skopeo copy --quiet "oci:$work/lay-bb:latest" containers-storage:localhost/skiffbench-bb:latest >"$out/podman.log" 2>&1 \
     && as_user podman --runtime runc run --rm --network=host localhost/skiffbench-bb:latest /bin/true >>"$out/podman.log" 2>&1; then
    podman_ok=yes
    cmds+=("podman --runtime runc run --rm --network=host localhost/skiffbench-bb:latest /bin/true")
  fi
fi
as_user env SKIFF_MOUNT_IDLE=60 hyperfine "${export_opts[@]}" "${cmds[@]}" >/dev/null 2>&1 || as_user hyperfine "${export_opts[@]}" "${cmds[@]}"
cat "$out/start.md"
[ $podman_ok = yes ] || { echo; echo "podman: could not run here: $(tail -3 "$out/podman.log" | tr '\n' ' ')"; }

echo
echo "### peak RSS of the launcher (/usr/bin/time -v, max of the exec chain)"
as_user /usr/bin/time -v "$skiff" run bb /bin/true 2>&1 | grep -E 'Maximum resident'

echo
echo "### metadata-heavy I/O on the python image ($(find "$py" -type f | wc -l) files, $(du -sh "$py" | cut -f1))"
# Each workload runs 10 times inside one container, so start-up is amortised and the file system dominates.
io='for i in 1 2 3 4 5 6 7 8 9 10; do find /usr -type f | xargs cat > /dev/null; done'
imp='for i in 1 2 3 4 5 6 7 8 9 10; do python3 -c "import asyncio, email, json, http.client, xml.dom.minidom, unittest, decimal, sqlite3, logging.handlers, argparse, concurrent.futures, multiprocessing, urllib.request, csv, difflib, tarfile, zipfile, ssl"; done'
# The host rows run the image's own tools (chroot) on the unpacked tree: busybox's find/xargs/cat in all rows (the
# host's GNU tools were ~2.5x slower here, which made an earlier comparison look better than it was).
# The chroot gets the host's /dev and a /proc in a mount namespace of its own (without them '> /dev/null' would
# write a real file into the tree).
printf '%s\n' "$io" > "$store/dir/$hexpy/bench-io.sh"
printf '%s\n' "$imp" > "$store/dir/$hexpy/bench-imp.sh"
host_in() { echo "unshare --mount sh -c 'mount --rbind /dev $store/dir/$hexpy/dev && mount -t proc proc $store/dir/$hexpy/proc && exec chroot $store/dir/$hexpy sh /$1'"; }
hyperfine -N --warmup 1 --runs 5 --export-markdown "$out/io.md" \
  -n "host dir: find|cat" "$(host_in bench-io.sh)" \
  -n "skiff dir: find|cat" "runuser -u $user -- env HOME=/home/$user SKIFF_STORAGE=$store XDG_RUNTIME_DIR=$xdg $skiff run --rootfs-format dir py sh -c '$io'" \
  -n "skiff sqfs: find|cat" "runuser -u $user -- env HOME=/home/$user SKIFF_STORAGE=$store XDG_RUNTIME_DIR=$xdg SKIFF_MOUNT_IDLE=60 $skiff run py sh -c '$io'" \
  -n "ch-run sqfs: find|cat" "runuser -u $user -- env USER=$user ch-run $store/sqfs/$hexpy.sqfs -- sh -c '$io'" \
  -n "host: python imports" "$(host_in bench-imp.sh)" \
  -n "skiff dir: python imports" "runuser -u $user -- env HOME=/home/$user SKIFF_STORAGE=$store XDG_RUNTIME_DIR=$xdg $skiff run --rootfs-format dir py sh -c '$imp'" \
  -n "skiff sqfs: python imports" "runuser -u $user -- env HOME=/home/$user SKIFF_STORAGE=$store XDG_RUNTIME_DIR=$xdg SKIFF_MOUNT_IDLE=60 $skiff run py sh -c '$imp'" \
  -n "ch-run sqfs: python imports" "runuser -u $user -- env USER=$user ch-run $store/sqfs/$hexpy.sqfs -- sh -c '$imp'" \
  >/dev/null 2>&1 || true
cat "$out/io.md" 2>/dev/null || echo "(I/O comparison failed)"
echo
echo "### start-up alone, to subtract (same image)"
as_user hyperfine -N --warmup 2 --runs 10 "$skiff run py true" "$skiff run --rootfs-format dir py true" 2>/dev/null | grep -E "Benchmark|Time"
