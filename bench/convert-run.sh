#!/usr/bin/env bash
# A conversion started by 'skiff run' against 'skiff convert' of the same image. bin/skiff starts run with the
# C1 compiler only (start-up); run therefore hands a conversion it needs to a 'skiff convert' child with the
# bulk flags. Measured, as the test user, medians of REPS interleaved rounds, each from an unconverted image:
#   convert   skiff convert IMAGE                         (bulk flags: the full JIT)
#   run       skiff run IMAGE /bin/true                   (converts through the child, then runs)
#   run-warm  skiff run IMAGE /bin/true, converted already (what run costs without a conversion)
#   c1        skiff convert under run's flags (-XX:TieredStopAtLevel=1): what run's conversion cost before
# Each runs on a pseudo-terminal (script), so it also prints the conversion's own time ("converted to squashfs
# in X s", from its start under the lock to the rename): that column compares the conversions alone, without the
# JVM starts and the container launch, which under a loaded machine vary by seconds.
# Source tree: SRC (default "usr/include usr/bin", ~650 MB, ~10 000 entries) of this machine, one gzip layer, plus
# a static busybox layer so /bin/true exists. Needs root (umoci, runuser), skopeo, the test user of ci/setup.sh
# and a built target/skiff.jar. Usage: bench/convert-run.sh [REPS]; env WORK (scratch dir), SRC.
set -euo pipefail
cd "$(dirname "$0")/.."
REPS=${1:-3}
WORK=${WORK:-/var/tmp/skiff-convert-run-bench}
SRC=${SRC:-usr/include usr/bin}
USER_=skiffuser
JAVA=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
mkdir -p "$WORK"
if [ ! -f "$WORK/img.tar" ]; then
  echo "building the image in $WORK ..." >&2
  rm -rf "$WORK/img" "$WORK/bb"
  umoci init --layout "$WORK/img"
  umoci new --image "$WORK/img:bench"
  # shellcheck disable=SC2086
  tar -C / --warning=no-file-changed -cf "$WORK/layer.tar" $SRC || [ $? = 1 ]
  umoci raw add-layer --image "$WORK/img:bench" "$WORK/layer.tar"
  mkdir -p "$WORK/bb/bin" && cp /bin/busybox "$WORK/bb/bin/" && ln -s busybox "$WORK/bb/bin/true"
  tar -C "$WORK/bb" -cf "$WORK/layer.tar" bin
  umoci raw add-layer --image "$WORK/img:bench" "$WORK/layer.tar"
  rm -f "$WORK/layer.tar"
  skopeo copy --quiet "oci:$WORK/img:bench" "docker-archive:$WORK/img.tar:bench:1"
fi
rm -rf "$WORK/storage" "$WORK/xdg"
install -d -o $USER_ -m 700 "$WORK/storage" "$WORK/xdg"
chmod o+x "$WORK"
AS_USER=(runuser -u $USER_ -- env HOME=/tmp XDG_RUNTIME_DIR="$WORK/xdg" SKIFF_MOUNT_IDLE=1)
SKIFF=("${AS_USER[@]}" "$PWD/bin/skiff" --storage "$WORK/storage")
C1=("${AS_USER[@]}" "$JAVA" -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData -Xss2m --enable-native-access=ALL-UNNAMED
  -jar "$PWD/target/skiff.jar" --storage "$WORK/storage")
"${SKIFF[@]}" load -q -i "$WORK/img.tar"
unconvert() { sleep 2.5; rm -f "$WORK"/storage/sqfs/*.sqfs; } # after the mount reaper let go (idle 1 s)
# secs CMD...: "WALL CONV" seconds: wall time of CMD on a terminal, and the conversion time it printed (- if none).
secs() {
  local t0 t1 conv
  t0=$(date +%s.%N)
  script -qfec "$(printf '%q ' "$@")" "$WORK/tty.log" >/dev/null 2>&1 || { echo "failed: $*" >&2; cat "$WORK/tty.log" >&2; echo FAIL; return; }
  t1=$(date +%s.%N)
  conv=$(grep -ao 'converted to squashfs in [0-9.]* s' "$WORK/tty.log" | tail -1 | awk '{print $5}')
  printf "%.1f %s" "$(echo "$t1 - $t0" | bc)" "${conv:--}"
}
median() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}'; }

printf "machine: %s, %s cores, load %s, kernel %s\n" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)" \
  "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" "$(uname -r)"
echo "image: $SRC + busybox, $(du -b "$WORK"/img/blobs/sha256/* | sort -n | tail -1 | cut -f1) bytes of gzip layer"
declare -A T=([convert]="" [run]="" [run-warm]="" [c1]="") C=([convert]="" [run]="" [run-warm]="" [c1]="")
for ((i = 0; i < REPS; i++)); do
  # convert and run swap places every round, so a drift of the neighbours' load hits both alike.
  order="convert run run-warm c1"; [ $((i % 2)) = 1 ] && order="run run-warm convert c1"
  for k in $order; do
    case $k in
      convert) unconvert; read -r w c <<<"$(secs "${SKIFF[@]}" convert bench:1)" ;;
      run) unconvert; read -r w c <<<"$(secs "${SKIFF[@]}" run bench:1 /bin/true)" ;;
      run-warm) read -r w c <<<"$(secs "${SKIFF[@]}" run bench:1 /bin/true)" ;;
      c1) unconvert; read -r w c <<<"$(secs "${C1[@]}" convert bench:1)" ;;
    esac
    [ "$w" != FAIL ] || exit 1
    T[$k]+=" $w"; C[$k]+=" $c"
  done
  echo "round $i: wall/conversion s: convert ${T[convert]##* }/${C[convert]##* } run ${T[run]##* }/${C[run]##* }" \
    "run-warm ${T[run-warm]##* } c1 ${T[c1]##* }/${C[c1]##* }" >&2
done
echo
echo "| what | wall runs (s) | wall median (s) | conversion runs (s) | conversion median (s) |"
echo "|---|---|---:|---|---:|"
for k in convert run run-warm c1; do
  echo "| $k |${T[$k]} | $(echo "${T[$k]}" | median) |${C[$k]} | $(echo "${C[$k]}" | grep -v '^ *-' | median) |"
done
