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

. "$(dirname "$0")/images.sh"   # the busybox image (bb) and the python image (py)
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
