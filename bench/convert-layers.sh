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
REPS=${1:-3} WORK=${WORK:-/var/tmp/skiff-convert-layers} THREADS=${THREADS:-$(nproc)} GZIP9=${GZIP9:-1}
# ConvertBench CLASSPATH COMPRESSOR LEVEL: the flattener and writer as skiff convert runs them, with bench/convert.sh's
# JVM flags (serial GC, 512 MiB heap) and C1 only, as bin/skiff starts convert since 2026-12-02.
convert_bench() {
  "${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java" ${SKIFF_JVM:--XX:+UseSerialGC -Xmx512m -XX:TieredStopAtLevel=1} \
    --enable-native-access=ALL-UNNAMED -cp "$1/target/classes:$1/target/test-classes:$1/target/lib/*" \
    skiff.squashfs.ConvertBench "$WORK/img" "$WORK/out" "$2" "$3" "$THREADS"
}
mkdir -p "$WORK"
[ -f "$WORK/img/.complete" ] || {
  echo "building the image in $WORK/img ..." >&2
  rm -rf "$WORK/img" && umoci init --layout "$WORK/img" && umoci new --image "$WORK/img:bench"
  # Four layers of 130-350 MB of tar, as images have (a base, then the application's layers).
  for d in "usr/share/[a-l]*" "usr/share/[m-z]*" usr/bin usr/include; do
    # shellcheck disable=SC2086
    (cd / && tar --warning=no-file-changed -cf "$WORK/layer.tar" $d) || [ $? = 1 ]
    umoci raw add-layer --image "$WORK/img:bench" "$WORK/layer.tar"
  done
  rm -f "$WORK/layer.tar"
  touch "$WORK/img/.complete"
}
mapfile -t LAYERS < <(jq -r '.layers[].digest' "$WORK/img/blobs/sha256/$(jq -r '.manifests[0].digest' "$WORK/img/index.json" | cut -d: -f2)" \
  | sed "s|sha256:|$WORK/img/blobs/sha256/|")

# timed CMD...: runs CMD under /usr/bin/time; prints "seconds peak_rss_kib user_s sys_s".
export -f convert_bench
export WORK THREADS
timed() {
  if [ "$(type -t "$1")" = function ]; then set -- bash -c '"$@"' _ "$@"; fi
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time" "$@" >/dev/null 2>"$WORK/err" || { cat "$WORK/err" >&2; return 1; }
  cat "$WORK/time"
}
run() {
  rm -rf "$WORK/out" "$WORK/rootfs" "$WORK/tar" "$WORK/tar.zst"
  case $1 in
    skiff-zstd) timed convert_bench . zstd 3 ;;
    base-zstd) timed convert_bench "$BASE" zstd 3 ;;
    skiff-gzip9) timed convert_bench . gzip 9 ;;
    reference) timed bash -c 'pigz -dc "$@" > "$0/tar" && zstd -q -3 -T2 "$0/tar" -o "$0/out"' "$WORK" "${LAYERS[@]}" ;;
    mksquashfs9) timed bash -c "umoci raw unpack --image '$WORK/img:bench' '$WORK/rootfs' && mksquashfs '$WORK/rootfs' '$WORK/out' -comp gzip -Xcompression-level 9 -processors $THREADS -noappend -quiet -no-progress" ;;
  esac
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

tools="skiff-zstd reference"; [ -n "${BASE:-}" ] && tools="base-zstd $tools"; [ "$GZIP9" = 1 ] && tools="$tools skiff-gzip9 mksquashfs9"
declare -A T R S C
echo "$(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), layers: $(du -cb "${LAYERS[@]}" | tail -1 | cut -f1) bytes gzip, tar $(pigz -dc "${LAYERS[@]}" | wc -c) bytes, commit $(git rev-parse --short HEAD)"
for ((i = 0; i < REPS; i++)); do
  for tool in $tools; do
    read -r s rss user sys <<<"$(run $tool)"
    cpu=$(echo "$user + $sys" | bc)
    T[$tool]="${T[$tool]:-} $s"; C[$tool]="${C[$tool]:-} $cpu"; R[$tool]=$rss; S[$tool]=$(stat -c %s "$WORK/out")
    same=""
    [ $tool = base-zstd ] && mv "$WORK/out" "$WORK/out.base"
    [ $tool = skiff-zstd ] && [ -f "$WORK/out.base" ] && { cmp -s "$WORK/out" "$WORK/out.base" && same=" (same bytes as base)" || same=" (differs from base)"; }
    echo "  round $i $tool: ${s}s cpu=${cpu}s rss=${rss}KiB size=${S[$tool]} load=$(cut -d' ' -f1 /proc/loadavg)$same" >&2
  done
done
# CPU seconds (user + system, children included) vary far less than wall time on a shared machine.
printf "| tool | wall runs (s) | wall median (s) | CPU runs (s) | CPU median (s) | peak RSS MiB | output bytes |\n|---|---|---:|---|---:|---:|---:|\n"
for tool in $tools; do
  printf "| %s |%s | %s |%s | %s | %d | %d |\n" $tool "${T[$tool]}" "$(echo ${T[$tool]} | median)" "${C[$tool]}" \
    "$(echo ${C[$tool]} | median)" $((R[$tool] / 1024)) "${S[$tool]}"
done
awk -v a="$(echo ${T[skiff-zstd]} | median)" -v b="$(echo ${T[reference]} | median)" -v c="$(echo ${C[skiff-zstd]} | median)" \
  -v d="$(echo ${C[reference]} | median)" 'BEGIN {printf "skiff zstd / reference: %.2fx wall, %.2fx CPU\n", a/b, c/d}'
[ -n "${BASE:-}" ] && awk -v a="$(echo ${T[skiff-zstd]} | median)" -v b="$(echo ${T[base-zstd]} | median)" -v c="$(echo ${C[skiff-zstd]} | median)" \
  -v d="$(echo ${C[base-zstd]} | median)" 'BEGIN {printf "skiff zstd / base: %.2fx wall, %.2fx CPU\n", a/b, c/d}'
[ "$GZIP9" = 1 ] && awk -v a="$(echo ${T[skiff-gzip9]} | median)" -v b="$(echo ${T[mksquashfs9]} | median)" 'BEGIN {printf "skiff gzip-9 / umoci+mksquashfs: %.2fx\n", a/b}'
rm -rf "$WORK/out" "$WORK/out.base" "$WORK/rootfs" "$WORK/tar" "$WORK/tar.zst"
