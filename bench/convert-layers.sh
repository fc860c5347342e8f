#!/usr/bin/env bash
# Conversion against the machine's limit (issue 17), side by side in one run, REPS interleaved rounds, medians:
#   skiff-zstd   skiff's flattener + SquashFS writer, zstd 3 (the default), THREADS workers (ConvertBench)
#   reference    pigz -dc LAYERS > tar; zstd -3 -T2 tar: the least any tool must do (inflate once, compress once)
#   skiff-gzip9  the same image to gzip-9 SquashFS
#   mksquashfs9  umoci raw unpack + mksquashfs -comp gzip -Xcompression-level 9 (GZIP9=0 skips both gzip-9 tools)
#   base-zstd    with BASE=DIR: skiff-zstd from another built checkout (the commit before a change), same run
# The image: usr/share (in two), usr/bin and usr/include of this machine as four gzip layers (umoci), ~1.2 GB of tar.
# Prints per-run lines on stderr and a Markdown table. Needs root (umoci keeps owners), pigz, a built target/
# (mvn -B -q package -DskipTests && mvn -B -q test-compile). Usage: bench/convert-layers.sh [REPS]; env WORK, THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
WORK=${WORK:-/var/tmp/skiff-convert-layers}
THREADS=${THREADS:-$(nproc)}
GZIP9=${GZIP9:-1}
JAVA=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
CP="target/classes:target/test-classes:target/lib/*"
SKIFF_JVM=${SKIFF_JVM:--XX:+UseSerialGC -Xmx512m}
mkdir -p "$WORK"
if [ ! -f "$WORK/img/.complete" ]; then
  echo "building the image in $WORK/img ..." >&2
  rm -rf "$WORK/img"
  umoci init --layout "$WORK/img"
  umoci new --image "$WORK/img:bench"
  # Four layers of 130-350 MB of tar, as images have (a base, then the application's layers).
  for d in "usr/share/[a-l]*" "usr/share/[m-z]*" usr/bin usr/include; do
    # shellcheck disable=SC2086
    (cd / && tar --warning=no-file-changed -cf "$WORK/layer.tar" $d) || [ $? = 1 ]
    umoci raw add-layer --image "$WORK/img:bench" "$WORK/layer.tar"
  done
  rm -f "$WORK/layer.tar"
  touch "$WORK/img/.complete"
fi
mapfile -t LAYERS < <(jq -r '.layers[].digest' "$WORK/img/blobs/sha256/$(jq -r '.manifests[0].digest' "$WORK/img/index.json" | cut -d: -f2)" \
  | sed "s|sha256:|$WORK/img/blobs/sha256/|")

# timed NAME CMD...: runs CMD under /usr/bin/time; prints "seconds peak_rss_kib".
timed() {
  /usr/bin/time -f "%e %M" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }
  cat "$WORK/time"
}
run() {
  rm -rf "$WORK/out" "$WORK/rootfs" "$WORK/tar" "$WORK/tar.zst"
  case $1 in
    skiff-zstd) timed "$JAVA" $SKIFF_JVM --enable-native-access=ALL-UNNAMED -cp "$CP" skiff.squashfs.ConvertBench "$WORK/img" "$WORK/out" zstd 3 "$THREADS" ;;
    base-zstd) timed "$JAVA" $SKIFF_JVM --enable-native-access=ALL-UNNAMED -cp "$BASE/target/classes:$BASE/target/test-classes:$BASE/target/lib/*" skiff.squashfs.ConvertBench "$WORK/img" "$WORK/out" zstd 3 "$THREADS" ;;
    skiff-gzip9) timed "$JAVA" $SKIFF_JVM --enable-native-access=ALL-UNNAMED -cp "$CP" skiff.squashfs.ConvertBench "$WORK/img" "$WORK/out" gzip 9 "$THREADS" ;;
    reference) timed bash -c 'pigz -dc "$@" > "$0/tar" && zstd -q -3 -T2 "$0/tar" -o "$0/out"' "$WORK" "${LAYERS[@]}" ;;
    mksquashfs9) timed bash -c "umoci raw unpack --image '$WORK/img:bench' '$WORK/rootfs' && mksquashfs '$WORK/rootfs' '$WORK/out' -comp gzip -Xcompression-level 9 -processors $THREADS -noappend -quiet -no-progress" ;;
  esac
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

tools="skiff-zstd reference"; [ -n "${BASE:-}" ] && tools="base-zstd $tools"; [ "$GZIP9" = 1 ] && tools="$tools skiff-gzip9 mksquashfs9"
declare -A T R S
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), layers: $(du -cb "${LAYERS[@]}" | tail -1 | cut -f1) bytes gzip, tar $(pigz -dc "${LAYERS[@]}" | wc -c) bytes, commit $(git rev-parse --short HEAD)"
for ((i = 0; i < REPS; i++)); do
  for tool in $tools; do
    read -r s rss <<<"$(run $tool)"
    T[$tool]="${T[$tool]:-} $s"; R[$tool]=$rss; S[$tool]=$(stat -c %s "$WORK/out")
    echo "  round $i $tool: ${s}s rss=${rss}KiB size=${S[$tool]} load=$(cut -d' ' -f1 /proc/loadavg)" >&2
  done
done
printf "| tool | runs (s) | median (s) | peak RSS MiB | output bytes |\n|---|---|---:|---:|---:|\n"
for tool in $tools; do
  printf "| %s |%s | %s | %d | %d |\n" $tool "${T[$tool]}" "$(echo ${T[$tool]} | median)" $((R[$tool] / 1024)) "${S[$tool]}"
done
awk -v a="$(echo ${T[skiff-zstd]} | median)" -v b="$(echo ${T[reference]} | median)" 'BEGIN {printf "skiff zstd / reference: %.2fx\n", a/b}'
[ "$GZIP9" = 1 ] && awk -v a="$(echo ${T[skiff-gzip9]} | median)" -v b="$(echo ${T[mksquashfs9]} | median)" 'BEGIN {printf "skiff gzip-9 / umoci+mksquashfs: %.2fx\n", a/b}'
rm -rf "$WORK/out" "$WORK/rootfs" "$WORK/tar" "$WORK/tar.zst"
