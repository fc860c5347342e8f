#!/usr/bin/env bash
# Conversion benchmark: one image (two gzip layers made by GNU tar + umoci from the host's Python and
# Perl libraries and a static busybox, ~80 MB / ~7k entries, the second layer replacing and whiting out
# files) flattened into a directory by skiff ('skiff convert --format dir', cold JVM, cache removed
# before each run) and by umoci ('umoci raw unpack --rootless'), interleaved by hyperfine.
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
hyperfine --runs "$runs" --style basic \
  --prepare "rm -rf $storage/dir $work/umoci" \
  -n "skiff convert --format dir" "bin/skiff convert --format dir example.org/bench/convert:1" \
  -n "umoci raw unpack --rootless" "umoci raw unpack --rootless --image $work/oci:bench $work/umoci"
