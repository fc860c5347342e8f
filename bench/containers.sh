#!/bin/bash
# Times the persistent-container commands (import, create with and without a cached dir rootfs, clone,
# ps, export, import --to-container, rm, doctor) on an ~80 MB tree, next to cp -a / rm -rf / tar.
# Run from the repository root after building: bash bench/containers.sh
set -u
# bin/skiff finds Java 25 itself (SKIFF_JAVA_HOME, JAVA_HOME, /usr/lib/jvm).
ST=/tmp/skiff-bench/st; W=/tmp/skiff-bench; rm -rf $W; mkdir -p $W/tree $ST
S="bin/skiff --storage $ST"
echo "host: $(nproc) cores, $(uname -r), $(. /etc/os-release; echo $PRETTY_NAME), uid $(id -u)"
src=$(ls -d /usr/lib/python3.* 2>/dev/null | head -1); [ -n "$src" ] || src=/usr/share
cp -a "$src" $W/tree/ 2>/dev/null; cp -a /usr/share/perl* $W/tree/ 2>/dev/null
echo "tree: $(du -sh $W/tree | cut -f1), $(find $W/tree | wc -l) entries (from $src, /usr/share/perl*)"
tar --numeric-owner -C $W/tree -cf $W/tree.tar .
t() { local l=$1; shift; local s=$(date +%s.%N); "$@" >/dev/null 2>$W/err || { echo "FAILED: $l"; cat $W/err; }; printf '%-40s %6.2f s\n' "$l" $(awk -v a=$(date +%s.%N) -v b=$s "BEGIN{print a-b}"); }
t "startup: skiff ps (empty)" $S ps
t "import tar -> image" $S import $W/tree.tar bench/tree:1
for i in 1 2 3; do t "create $i (no cache: flatten direct)" $S create --name d$i bench/tree:1; done
t "convert --format dir (fill cache)" $S convert --format dir bench/tree:1
for i in 1 2 3; do t "create $i (copy cached dir, cp -a)" $S create --name c$i bench/tree:1; done
t "clone" $S clone c1 cl
t "ps" $S ps
t "ps --size" $S ps --size
for i in 1 2; do t "export $i" $S export -o $W/out.tar c1; done
ls -l $W/out.tar | awk '{print "export size", $5}'
for i in 1 2; do t "import --to-container $i" $S import --to-container --name i$i $W/out.tar; done
t "rm 9 containers" $S rm d1 d2 d3 c1 c2 c3 cl i1 i2
t "doctor" $S doctor
echo "baselines:"; t "cp -a of the tree" cp -a $W/tree $W/cp; t "rm -rf of it" rm -rf $W/cp; t "GNU tar c of the tree" tar -C $W/tree -cf $W/b.tar .
