#!/usr/bin/env bash
# SquashFS read paths side by side, outside containers (the FUSE server is what differs): skiff's own FUSE
# server (skiff.engine.fuse.FuseMain, with FuseLauncher's JVM flags) vs squashfuse_ll vs an unsquashfs extraction on the local disk (what a
# directory rootfs reads) vs the host files themselves. Workloads: find|cat over the tree, and importing a set
# of Python modules from the image's copy of the standard library. "first" = after dropping the page cache
# (needs root: echo 3 > /proc/sys/vm/drop_caches) on a fresh mount; "repeat" = median of RUNS more runs.
# Also reports the mount time (start to "ready"/mounted) and the server's RSS after the workloads.
# Usage (as root, after mvn package): RUNS=5 bench/fuse.sh [SRC_DIR...]   default sources: the Python library and /usr/share/perl*
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
JAVA=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
JAR=$PWD/target/skiff.jar
PY=$(ls -d /usr/lib/python3.[0-9]* | head -1)
SRCS=("$@"); [ ${#SRCS[@]} -gt 0 ] || SRCS=("$PY" /usr/share/perl*)
W=$(mktemp -d /tmp/skiff-bench-fuse.XXXXXX); chmod 755 "$W"
trap 'fusermount3 -u "$W/m-skiff" 2>/dev/null; fusermount3 -u "$W/m-sqfuse" 2>/dev/null; rm -rf "$W"' EXIT
mksquashfs "${SRCS[@]}" "$W/img.sqfs" -comp gzip -noappend -quiet -no-progress
unsquashfs -q -n -d "$W/dir" "$W/img.sqfs"
mkdir -p "$W/m-skiff" "$W/m-sqfuse" "$W/native"
for s in "${SRCS[@]}"; do ln -s "$s" "$W/native/$(basename "$s")"; done
pyb=$(basename "$PY")
ms() { date +%s%N; }

mount_skiff() {
  local t0; t0=$(ms)
  setsid -f "$JAVA" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xms8m -Xmx96m -Xss512k -XX:ReservedCodeCacheSize=16m \
    --enable-native-access=ALL-UNNAMED -cp "$JAR" skiff.engine.fuse.FuseMain "$W/img.sqfs" "$W/m-skiff" /usr/bin/fusermount3 \
    > "$W/skiff.out" 2> "$W/skiff.log"
  while ! grep -q ready "$W/skiff.out" 2>/dev/null; do sleep 0.01; done
  echo $(( ($(ms) - t0) / 1000000 ))
}
mount_sqfuse() {
  local t0; t0=$(ms)
  squashfuse_ll "$W/img.sqfs" "$W/m-sqfuse"
  echo $(( ($(ms) - t0) / 1000000 ))
}
findcat() {
  local t0; t0=$(ms)
  if [ "$1" = "$W/native" ]; then find "${SRCS[@]}" -type f -print0 | xargs -0 cat > /dev/null
  else (cd "$1" && find . -type f -print0 | xargs -0 cat > /dev/null); fi
  echo $(( ($(ms) - t0) / 1000000 ))
}
pyimport() {
  local t0; t0=$(ms)
  python3 -I -S -c "import sys; sys.path[:0] = ['$1/$pyb']; import json, email.mime.text, http.client, xml.dom.minidom, asyncio, unittest, argparse, logging, decimal, csv, sqlite3, zipfile, tarfile, urllib.request" 2>/dev/null
  echo $(( ($(ms) - t0) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

mt_skiff=$(mount_skiff); mt_sqfuse=$(mount_sqfuse)
declare -A first rep
for w in findcat pyimport; do
  for k in skiff sqfuse dir native; do
    case $k in skiff) d=$W/m-skiff ;; sqfuse) d=$W/m-sqfuse ;; dir) d=$W/dir ;; native) d=$W/native ;; esac
    sync; echo 3 > /proc/sys/vm/drop_caches
    first[$w.$k]=$($w "$d")
  done
  for k in skiff sqfuse dir native; do : > "$W/$w.$k"; done
  for i in $(seq "$RUNS"); do
    for k in skiff sqfuse dir native; do
      case $k in skiff) d=$W/m-skiff ;; sqfuse) d=$W/m-sqfuse ;; dir) d=$W/dir ;; native) d=$W/native ;; esac
      $w "$d" >> "$W/$w.$k"
    done
  done
  for k in skiff sqfuse dir native; do rep[$w.$k]=$(median < "$W/$w.$k"); done
done
pid=$(pgrep -f "FuseMain $W/img.sqfs" | head -1)
rss_skiff=$(awk '/VmRSS/ {print $2}' /proc/$pid/status)
rss_sqfuse=$(awk '/VmRSS/ {print $2}' /proc/$(pgrep -f "squashfuse_ll $W/img.sqfs" | head -1)/status)
files=$(find "$W/dir" -type f | wc -l); size=$(du -sh "$W/img.sqfs" | cut -f1)
echo "image: ${SRCS[*]} -> $size SquashFS, $files files; load $(cut -d' ' -f1-3 /proc/loadavg); RUNS=$RUNS"
echo "| workload | skiff server | squashfuse_ll | directory | native |"
echo "|---|---:|---:|---:|---:|"
for w in findcat pyimport; do
  echo "| $w first (ms) | ${first[$w.skiff]} | ${first[$w.sqfuse]} | ${first[$w.dir]} | ${first[$w.native]} |"
  echo "| $w repeat, median (ms) | ${rep[$w.skiff]} | ${rep[$w.sqfuse]} | ${rep[$w.dir]} | ${rep[$w.native]} |"
done
echo "| mount time (ms) | $mt_skiff | $mt_sqfuse | | |"
echo "| server RSS after the runs (KiB) | $rss_skiff | $rss_sqfuse | | |"
