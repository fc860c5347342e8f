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
# shellcheck source=ci/debian-tree.sh
. "$here/ci/debian-tree.sh"
out=$(cd "$out" && pwd)
# Test JVMs of several worktrees or runs may ask at once: one builds, the others wait and find it done.
exec 9>"$out.lock"
flock 9

stamp() {
  { cat "$src"/*.c "$0" "$here/ci/debian-tree.sh"; dpkg-query -W -f='${Package} ${Version}\n' libopenmpi3 libmpich12 libc6 libpmix2; } | sha256sum | cut -c1-16
}
want=$(stamp)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$want" ] && [ -f "$out/layout/index.json" ]; then exit 0; fi
rm -rf "$out/layout" "$out/host" "$out/work" "$out/stamp"
work=$out/work
mkdir -p "$work" "$out/host"

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
