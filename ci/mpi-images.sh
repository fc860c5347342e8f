#!/usr/bin/env bash
# Builds the two MPI test images from this host's installed Debian packages, fast and exact: the files
# `dpkg -L` lists for an MPI runtime and its recursive dependencies, a static busybox for a shell, and the
# test programs of src/test/c/mpi compiled with that MPI's mpicc. No registry, no network.
#
#   ci/mpi-images.sh DIR
#
# Leaves in DIR an OCI layout DIR/layout with two tags:
#   openmpi   OpenMPI 4.1 (libopenmpi3; under srun it speaks PMIx only: srun --mpi=pmix)
#   mpich     MPICH 4.0 (libmpich12; PMI-1/PMI-2 only: srun --mpi=pmi2)
# each with /usr/local/bin/mpi_hello and /usr/local/bin/mpi_pingpong, and the same binaries built for the
# host in DIR/host/{openmpi,mpich}/ (for host-versus-container comparisons). A second call with an
# up-to-date DIR (same sources, same packages) does nothing. Needs ci/setup.sh's packages (umoci, mpicc).
set -euo pipefail
out=${1:?usage: ci/mpi-images.sh DIR}
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/src/test/c/mpi
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Test JVMs of several worktrees or runs may ask at once: one builds, the others wait and find it done.
exec 9>"$out.lock"
flock 9

# Maintainer-script dependencies (user management, debconf) and ssh (mpirun's remote start) are not
# needed to run MPI programs on one node.
skip='adduser debconf passwd perl-base openssh-client'

stamp() {
  { cat "$src"/*.c "$0"; dpkg-query -W -f='${Package} ${Version}\n' libopenmpi3 libmpich12 libc6 libpmix2; } | sha256sum | cut -c1-16
}
want=$(stamp)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$want" ] && [ -f "$out/layout/index.json" ]; then exit 0; fi
rm -rf "$out/layout" "$out/host" "$out/work" "$out/stamp"
work=$out/work
mkdir -p "$work" "$out/host"

# The installed packages PKG... need, recursively (first installed alternative of each dependency).
closure() {
  python3 - "$skip" "$@" <<'EOF'
import re, subprocess, sys
skip = set(sys.argv[1].split())
q = subprocess.run(['dpkg-query', '-W', '-f=${Package}\t${Status}\n'], capture_output=True, text=True).stdout
installed = {l.split('\t')[0] for l in q.splitlines() if l.endswith('install ok installed')}
seen, todo = set(), list(sys.argv[2:])
while todo:
    p = todo.pop()
    if p in seen or p in skip:
        continue
    if p not in installed:
        sys.exit(f'ci/mpi-images.sh: package {p} is not installed; run ci/setup.sh')
    seen.add(p)
    deps = subprocess.run(['dpkg-query', '-W', '-f=${Depends}, ${Pre-Depends}', p], capture_output=True, text=True).stdout
    for group in deps.split(','):
        for alt in group.split('|'):
            name = re.sub(r'\(.*?\)', '', alt).strip().split(':')[0]
            if name in installed:
                todo.append(name)
                break
print('\n'.join(sorted(seen)))
EOF
}

# tree PKG...: a root filesystem with the packages' files (docs, manuals and locales left out), busybox as
# the shell, /etc/passwd and /etc/group with root only, and the dynamic linker's cache.
tree() {
  local t=$1; shift
  mkdir -p "$t"/usr/{bin,sbin,lib,lib64} "$t"/{etc,tmp,root,home,proc,sys,dev}
  chmod 1777 "$t/tmp"
  # Debian 12 is merged-/usr: the packages' /lib, /bin and /sbin paths are these links.
  for d in bin sbin lib lib64; do ln -s "usr/$d" "$t/$d"; done
  closure "$@" >"$t.pkgs"
  # Paths are resolved on the host (merged /usr), so each file lands once, under /usr.
  xargs dpkg-query -L <"$t.pkgs" | grep -Ev '^/usr/share/(doc|man|info|locale|lintian|bug)/|^/\.$' | sort -u \
    | python3 -c '
import os, sys
seen = set()
for p in sys.stdin.read().split("\n"):
    if not p or not os.path.lexists(p) or os.path.isdir(p) and not os.path.islink(p):
        continue
    real = os.path.join(os.path.realpath(os.path.dirname(p)), os.path.basename(p))
    if real not in seen:
        seen.add(real)
        print(real[1:])
' >"$t.files"
  tar -C / --no-recursion -cf - -T "$t.files" | tar -C "$t" -xf - --keep-directory-symlink
  # Links into /etc/alternatives (e.g. libpsm_infinipath.so.1) are made by maintainer scripts, not listed.
  find "$t" -type l -lname '/etc/alternatives/*' -printf '%l\n' | sort -u | while read -r a; do
    mkdir -p "$t/etc/alternatives"; cp -P "$a" "$t$a"
  done
  cp /bin/busybox "$t/usr/bin/busybox"
  for c in sh ls cat env id echo true false sleep stat readlink grep head wc test printf mount ps kill tr sed find; do
    [ -e "$t/usr/bin/$c" ] || ln -s busybox "$t/usr/bin/$c"
  done
  echo 'root:x:0:0:root:/root:/bin/sh' >"$t/etc/passwd"
  echo 'root:x:0:' >"$t/etc/group"
  [ -f "$t/etc/ld.so.conf" ] || printf 'include /etc/ld.so.conf.d/*.conf\n' >"$t/etc/ld.so.conf"
  ldconfig -r "$t"
}

# image TAG TREE MPICC: the test programs built with MPICC into the tree and for the host, then the tree
# as the single layer of DIR/layout:TAG.
image() {
  local tag=$1 t=$2 cc=$3
  mkdir -p "$t/usr/local/bin" "$out/host/$tag"
  for p in mpi_hello mpi_pingpong; do
    "$cc" -O2 -o "$out/host/$tag/$p" "$src/$p.c"
    cp "$out/host/$tag/$p" "$t/usr/local/bin/$p"
  done
  tar --numeric-owner -C "$t" -cf "$work/$tag.tar" .
  umoci new --image "$out/layout:$tag"
  umoci raw add-layer --image "$out/layout:$tag" "$work/$tag.tar"
  umoci config --image "$out/layout:$tag" --config.cmd /usr/local/bin/mpi_hello \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.label "dev.skiff.test.mpi=$tag"
}

umoci init --layout "$out/layout"
# openmpi-common: the MCA parameter file and the help texts OpenMPI prints its errors with; openmpi-bin:
# orted, which a singleton (a rank started without a launcher) starts, and mpirun.
tree "$work/openmpi" libopenmpi3 openmpi-common openmpi-bin libc-bin &
tree "$work/mpich" libmpich12 libc-bin &
wait %1 && wait %2
image openmpi "$work/openmpi" mpicc.openmpi
image mpich "$work/mpich" mpicc.mpich
umoci gc --layout "$out/layout"
rm -rf "$work"
chmod -R a+rX "$out"
echo "$want" >"$out/stamp"
