#!/bin/bash
# Figures for the proot engine (RESULTS.md, section "proot engine"). Run as root from the repository root after
# `mvn -B -q package -DskipTests`; the measurements run as the unprivileged user skiffuser.
#   bench/proot.sh [RUNS]        RUNS: interleaved rounds per command (default 5)
# Compares, side by side (bench/medians.py runs every command once per round), skiff's proot engine with plain
# `proot -r` on the same tree (the floor: udocker's P1/P2 modes are this proot) and with skiff's native engine:
# warm start of /bin/true, then metadata-heavy I/O (find|cat over /usr, Python imports) on the python image.
set -euo pipefail
runs=${1:-5} user=skiffuser here=$(cd "$(dirname "$0")/.." && pwd)
export JAVA_HOME=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}
bash "$here/ci/aot.sh"   # the start-up caches, as ci/install.sh leaves them
skiff=$here/bin/skiff work=$(mktemp -d /tmp/skiff-bench-proot.XXXXXX)
store=$work/storage xdg=$work/xdg mnt=$work/mnt
trap 'fusermount3 -u "$mnt" 2>/dev/null || true; sleep 3; rm -rf "$work" 2>/dev/null || true' EXIT
# an empty config: the user's own must not change the figures
mkdir -p "$store" "$xdg" "$mnt" "$work/config" && chmod 755 "$work"
. "$(dirname "$0")/images.sh"   # the busybox image (bb) and the python image (py)
chown -R $user: "$store/oci" "$store/sqfs" "$xdg" "$mnt"
chown $user: "$store" "$store/dir"
chmod 700 "$xdg"

u="runuser -u $user -- env HOME=/home/$user XDG_CONFIG_HOME=$work/config USER=$user LOGNAME=$user SKIFF_STORAGE=$store XDG_RUNTIME_DIR=$xdg SKIFF_MOUNT_IDLE=120"
# Plain proot gets the SquashFS of the same image, mounted by the same squashfuse skiff uses, and the binds a
# program needs (/proc, /dev, /sys); skiff adds its own (home, /tmp, identity files, hosts, the directory).
runuser -u $user -- squashfuse "$store/sqfs/$hexpy.sqfs" "$mnt"
plain="$u proot --verbose=-1 -r $mnt -b /proc -b /dev -b /sys -w /"
$u "$skiff" run --engine proot py /bin/true   # mounts the image once (kept 120 s after each run)
$u "$skiff" run --engine native py /bin/true

io='for i in 1 2 3; do find /usr -type f | xargs cat > /dev/null; done'
imp='for i in 1 2 3; do python3 -c "import asyncio, email, json, http.client, xml.dom.minidom, unittest, decimal, sqlite3, logging.handlers, argparse, concurrent.futures, multiprocessing, urllib.request, csv, difflib, tarfile, zipfile, ssl"; done'

echo "## proot engine: $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), proot $(proot --version 2>/dev/null | grep -o '[0-9]\+\.[0-9]\+\.[0-9]\+' | head -1)"
echo "python image: $(find "$py" -type f | wc -l) files, $(du -sh "$py" | cut -f1)"
# The last row stops where proot would start (exit 127 once the command is looked up): skiff's own part.
echo "### warm start of /bin/true"
python3 "$here/bench/medians.py" "$runs" \
  "skiff --engine proot" "$u $skiff run --engine proot py /bin/true" \
  "plain proot -r" "$plain /bin/true" \
  "skiff --engine native" "$u $skiff run --engine native py /bin/true" \
  "skiff up to the exec of proot" "$u $skiff run --engine proot py /no-such-command 2>/dev/null || true"
echo "### find|cat over /usr, 3 times in one container"
python3 "$here/bench/medians.py" "$runs" \
  "skiff --engine proot" "$u $skiff run --engine proot py sh -c '$io'" \
  "plain proot -r" "$plain /bin/sh -c '$io'" \
  "skiff --engine native" "$u $skiff run --engine native py sh -c '$io'"
echo "### Python imports, 3 times in one container"
python3 "$here/bench/medians.py" "$runs" \
  "skiff --engine proot" "$u $skiff run --engine proot py sh -c '$imp'" \
  "plain proot -r" "$plain /bin/sh -c '$imp'" \
  "skiff --engine native" "$u $skiff run --engine native py sh -c '$imp'"
