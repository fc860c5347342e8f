#!/usr/bin/env bash
# Installs everything skiff and its test suite need on a Debian 12 machine, as root, idempotently:
# build tools, the real components the tests start (registry, squashfuse, umoci, skopeo...), the peers
# the benchmarks compare with, and the ordinary user the unprivileged tests run as.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

pkgs=(maven docker-registry skopeo umoci squashfs-tools squashfs-tools-ng squashfuse fuse3
      util-linux uidmap proot apache2-utils zstd pigz libdeflate0 libisal2 libisal-dev jq time hyperfine charliecloud podman python3 gcc busybox-static curl openssl bc
      # A one-node Slurm (ci/slurm.sh) and the two MPIs the MPI tests put in images. Slurm's mpi/pmix plugin
      # dlopens the unversioned libpmix.so, which only libpmix-dev ships: without it --mpi=pmix does not load.
      slurm-wlm slurmctld slurmd slurm-client munge slurm-wlm-basic-plugins
      openmpi-bin libopenmpi-dev mpich libmpich-dev libpmix2 libpmix-dev libpmix-bin libpmi2-0 libpmi2-0-dev make
      # The image gateway: PostgreSQL (ci/postgres.sh), POSIX ACLs on published images, a browser for its page,
      # a load generator for its lookup figures.
      postgresql acl chromium chromium-driver wrk)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Debian's docker-registry package starts a service listening on all addresses; the tests start their
# own instances on 127.0.0.1, so keep the packaged one stopped.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet docker-registry 2>/dev/null; then
  systemctl stop docker-registry || true
fi
pkill -f '^/usr/bin/docker-registry serve /etc/docker/registry/config.yml' 2>/dev/null || true

if [ ! -x /usr/lib/jvm/temurin-25-jdk-amd64/bin/java ] && ! ls /usr/lib/jvm/*25*/bin/java >/dev/null 2>&1; then
  apt-get install -y -qq openjdk-25-jdk-headless >/dev/null 2>&1 || {
    echo "ci/setup.sh: no Java 25 JDK here and none installable; install Temurin 25 under /usr/lib/jvm" >&2; exit 1; }
fi

# The unprivileged path is tested as this ordinary user.
id skiffuser >/dev/null 2>&1 || useradd -m -u 1500 -s /bin/bash skiffuser
# Distributions ship /dev/fuse 0666 (udev); this machine has no udev and leaves it 0600.
[ -e /dev/fuse ] && chmod 0666 /dev/fuse
exit 0
