#!/usr/bin/env bash
# Conversion benchmark: OCI image -> SquashFS, skiff's streaming writer vs umoci raw unpack + mksquashfs
# and vs umoci raw unpack + tar | tar2sqfs, same compressor and level for all.
# Source tree: /usr/share + /usr/bin + /usr/include of this machine (>= 1 GB, >= 40 000 entries),
# packed as a one-layer OCI image by umoci. Needs root (umoci unpack keeps owners), a built target/.
# Usage: bench/convert.sh [REPS] ; env: WORK (scratch dir), LEVEL_GZIP (6), LEVEL_ZSTD (3), THREADS (nproc),
#   COMPRESSORS ("gzip zstd"). gzip also runs skiff-jdkzip: skiff with java.util.zip's deflate (SKIFF_DEFLATE=java)
#   instead of libdeflate, as on a host without libdeflate0.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
WORK=${WORK:-/var/tmp/skiff-convert-bench}
LEVEL_GZIP=${LEVEL_GZIP:-6}
LEVEL_ZSTD=${LEVEL_ZSTD:-3}
THREADS=${THREADS:-$(nproc)}
JAVA=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
CP="target/classes:target/test-classes:target/lib/*"
# Serial GC and a capped heap: the writer needs little heap (bounded queue); G1 would grow it for nothing. C1 only,
# as bin/skiff starts convert.
SKIFF_JVM=${SKIFF_JVM:--XX:+UseSerialGC -Xmx512m -XX:TieredStopAtLevel=1}
mkdir -p "$WORK"

if [ ! -f "$WORK/img/index.json" ]; then
  echo "building source image in $WORK/img ..." >&2
  rm -rf "$WORK/img"
  umoci init --layout "$WORK/img"
  umoci new --image "$WORK/img:bench"
  # A GNU tar layer, as most registries serve (umoci raw add-layer stores it verbatim; the layer must be
  # uncompressed for add-layer, umoci gzips it).
  tar -C / --warning=no-file-changed -cf "$WORK/layer.tar" usr/share usr/bin usr/include || [ $? = 1 ]
  umoci raw add-layer --image "$WORK/img:bench" "$WORK/layer.tar"
  rm -f "$WORK/layer.tar"
fi

# run NAME CMD...: prints "seconds maxrss_kib write_bytes" of CMD (children included).
measure() {
  local log="$WORK/time.log"
  /usr/bin/time -v -o "$log" bash -c '"$@" || exit 1; grep ^write_bytes /proc/$$/io | cut -d" " -f2 > '"$WORK"'/wb' _ "$@" >/dev/null 2>"$WORK/err.log" \
    || { cat "$WORK/err.log" >&2; return 1; }
  local wall rss
  wall=$(awk -F': ' '/Elapsed/ {n=split($2,t,":"); s=0; for(i=1;i<=n;i++) s=s*60+t[i]; print s}' "$log")
  rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$log")
  echo "$wall $rss $(cat "$WORK/wb")"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

printf "machine: %s, %s cores, %s GiB RAM, kernel %s\n" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  "$(nproc)" "$(free -g | awk '/Mem/ {print $2}')" "$(uname -r)"
entries=$(umoci raw unpack --image "$WORK/img:bench" "$WORK/probe" >/dev/null 2>&1; find "$WORK/probe" | wc -l)
bytes=$(du -sb "$WORK/probe" | cut -f1); rm -rf "$WORK/probe"
echo "image: $entries entries, $bytes bytes unpacked, layer $(du -b "$WORK"/img/blobs/sha256/* | sort -n | tail -1 | cut -f1) bytes gzip"
echo
printf "| compressor | tool | median s | peak RSS MiB | disk written MiB | image MiB | size vs mksquashfs |\n|---|---|---|---|---|---|---|\n"

run_tool() { # TOOL COMP LEVEL -> "wall rss write_bytes size"
  local tool=$1 comp=$2 level=$3 m
  rm -rf "$WORK/out.sqfs" "$WORK/rootfs"
  case $tool in
    skiff) m=$(measure "$JAVA" $SKIFF_JVM --enable-native-access=ALL-UNNAMED -cp "$CP" skiff.squashfs.ConvertBench "$WORK/img" "$WORK/out.sqfs" $comp $level "$THREADS") ;;
    # gzip blocks through java.util.zip instead of libdeflate: what skiff does on a host without libdeflate0
    skiff-jdkzip) m=$(export SKIFF_DEFLATE=java; measure "$JAVA" $SKIFF_JVM --enable-native-access=ALL-UNNAMED -cp "$CP" skiff.squashfs.ConvertBench "$WORK/img" "$WORK/out.sqfs" $comp $level "$THREADS") ;;
    mksquashfs) m=$(measure bash -c "umoci raw unpack --image '$WORK/img:bench' '$WORK/rootfs' && mksquashfs '$WORK/rootfs' '$WORK/out.sqfs' -comp $comp -Xcompression-level $level -processors $THREADS -noappend -quiet -no-progress") ;;
    tar2sqfs) m=$(measure bash -c "umoci raw unpack --image '$WORK/img:bench' '$WORK/rootfs' && tar -C '$WORK/rootfs' -cf - . | tar2sqfs -q -f -c $comp -X level=$level -j $THREADS '$WORK/out.sqfs'") ;;
  esac
  echo "$m $(stat -c %s "$WORK/out.sqfs")"
}

for comp in ${COMPRESSORS:-gzip zstd}; do
  level=$LEVEL_GZIP; [ $comp = zstd ] && level=$LEVEL_ZSTD
  tools="skiff mksquashfs tar2sqfs"; [ $comp = gzip ] && tools="skiff skiff-jdkzip mksquashfs tar2sqfs"
  declare -A T R W S
  for tool in $tools; do T[$tool]=""; done
  # Interleaved: each repetition runs every tool once, so load from neighbours hits all alike.
  for ((i = 0; i < REPS; i++)); do
    for tool in $tools; do
      read -r wall rss wb size <<<"$(run_tool $tool $comp $level)"
      T[$tool]="${T[$tool]} $wall"; R[$tool]=$rss; W[$tool]=$wb; S[$tool]=$size
      echo "  $comp $tool run $i: ${wall}s rss=${rss}KiB write_bytes=$wb size=$size" >&2
    done
  done
  for tool in $tools; do T[$tool]=$(printf '%s\n' ${T[$tool]} | median); done
  for tool in $tools; do
    awk -v c=$comp -v t=$tool -v s="${T[$tool]}" -v r="${R[$tool]}" -v w="${W[$tool]}" -v z="${S[$tool]}" -v m="${S[mksquashfs]}" -v lvl=$level \
      'BEGIN {printf "| %s %s | %s | %.1f | %.0f | %.0f | %.1f | %.3f |\n", c, lvl, t, s, r/1024, w/1048576, z/1048576, z/m}'
  done
  best=$(printf '%s\n' "${T[mksquashfs]}" "${T[tar2sqfs]}" | sort -n | head -1)
  awk -v c=$comp -v s="${T[skiff]}" -v b="$best" 'BEGIN {printf "| %s | skiff speed-up over the faster peer | %.2fx | | | | |\n", c, b/s}'
  [ $comp = gzip ] && awk -v s="${T[skiff-jdkzip]}" -v b="$best" 'BEGIN {printf "| gzip | skiff-jdkzip speed-up over the faster peer | %.2fx | | | | |\n", b/s}'
  unset T R W S
done
rm -rf "$WORK/out.sqfs" "$WORK/rootfs"
