#!/usr/bin/env bash
# Conversion benchmark: one image (two gzip layers made by GNU tar + umoci from the host's Python and
# Perl libraries and a static busybox, the second layer replacing and whiting out files) converted
#  - into a directory: skiff ('skiff convert --format dir', cold JVM, cache removed before each run)
#    vs umoci ('umoci raw unpack --rootless');
#  - into SquashFS (zstd): skiff ('skiff convert', streaming, no unpacked tree) vs the usual pipeline
#    of peers, umoci unpack then mksquashfs;
# runs interleaved (see below), median wall time per command.
# Usage: bench/flatten.sh [RUNS]   (needs target/skiff.jar: mvn -DskipTests package)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
work=$(mktemp -d /tmp/skiff-bench-convert.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/l1/usr/lib" "$work/l1/usr/share" "$work/l1/bin" "$work/l2/usr/lib/python3.11"
cp -a /usr/lib/python3.11 "$work/l1/usr/lib/"
cp -a /usr/share/perl "$work/l1/usr/share/"
cp /bin/busybox "$work/l1/bin/"
# layer 2: replace some files, remove a directory and a file
cp -a /usr/lib/python3.11/json "$work/l2/usr/lib/python3.11/"
touch "$work/l2/usr/lib/python3.11/.wh.unittest" "$work/l2/usr/lib/python3.11/.wh.os.py"
umoci init --layout "$work/oci" >/dev/null
umoci new --image "$work/oci:bench" >/dev/null
for l in l1 l2; do
  tar --numeric-owner -C "$work/$l" -cf "$work/$l.tar" .
  umoci raw add-layer --image "$work/oci:bench" "$work/$l.tar"
done
storage=$work/storage
mkdir -p "$storage/oci"
skopeo copy --quiet "oci:$work/oci:bench" "oci:$storage/oci:example.org/bench/convert:1"
echo "image: $(du -sh "$work/oci/blobs" | cut -f1) compressed, $(find "$work/l1" "$work/l2" | wc -l) tar entries"
export SKIFF_STORAGE=$storage
names=("skiff convert --format dir" "umoci raw unpack --rootless" "skiff convert (squashfs, zstd)" "umoci unpack + mksquashfs -comp zstd")
cmds=("bin/skiff convert --format dir example.org/bench/convert:1"
      "umoci raw unpack --rootless --image $work/oci:bench $work/umoci"
      "bin/skiff convert --compression zstd example.org/bench/convert:1"
      "umoci raw unpack --rootless --image $work/oci:bench $work/umoci && mksquashfs $work/umoci $work/out.sqfs -comp zstd -no-progress -quiet")
# Interleaved: run r of every command before run r+1 of any, so load changes hit all alike.
for ((r = 1; r <= runs; r++)); do
  for i in "${!cmds[@]}"; do
    rm -rf "$storage/dir" "$storage/sqfs" "$work/umoci" "$work/out.sqfs"
    sync
    t0=$(date +%s.%N)
    bash -c "${cmds[$i]}" >/dev/null 2>&1
    t1=$(date +%s.%N)
    echo "$i $(echo "$t1 - $t0" | bc)" >> "$work/times"
  done
done
for i in "${!cmds[@]}"; do
  med=$(awk -v i="$i" '$1 == i {print $2}' "$work/times" | sort -n | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}')
  all=$(awk -v i="$i" '$1 == i {printf "%.2f ", $2}' "$work/times")
  printf '%-40s median %6.2f s   runs: %s\n' "${names[$i]}" "$med" "$all"
done
